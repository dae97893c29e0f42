// mode = "online": a replay buffer, a step every step_every packets, train figures over a window.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <random>

#include "trainer/test_support.hpp"
#include "trainer/trainer.hpp"

using namespace tributary;
using namespace tributary::models::testing;
using tributary::models::Trainer;

namespace {

Value model(std::vector<TableEntry> entries) { return Value::table(std::move(entries)); }

// A tone in chunks of `chunk` samples, the phase running on, as a microphone gives it: audio
// packets, no label, no split.
struct Tone {
  double phase = 0.0;
  PacketPtr next(std::int64_t chunk) {
    std::vector<float> x;
    for (std::int64_t i = 0; i < chunk; ++i) {
      x.push_back(static_cast<float>(0.5 * std::sin(phase)));
      phase += 2.0 * 3.14159265358979 * 440.0 / 16000.0;
    }
    auto p = make_packet(PayloadKind::audio);
    p->stream = "mic";
    p->tensors.push_back(Tensor::from_vector(x));
    p->set_attribute("sample_rate", std::int64_t{16000});
    return p;
  }
};

std::vector<TableEntry> online_autoencoder(std::vector<TableEntry> more = {}) {
  std::vector<TableEntry> params{{"model", model({{"kind", "autoencoder"}, {"hidden", std::vector<Value>{32, 8}}})},
                                 {"mode", "online"},
                                 {"replay", 64},
                                 {"batch", 8},
                                 {"step_every", 2},
                                 {"window", 5},
                                 {"log_every", 5},
                                 {"lr", 0.003},
                                 {"seed", 2}};
  params.insert(params.end(), more.begin(), more.end());
  return params;
}

}  // namespace

TEST_CASE("trainer: online, an autoencoder on a live tone steps every step_every packets and its loss falls") {
  auto h = NodeHarness::of<Trainer>(online_autoencoder({{"checkpoint_every", 50}}));
  h.start();
  Tone tone;
  for (int i = 0; i < 600; ++i) {
    h.push("in", tone.next(64));
    if (i == 299) h.push("in", Marker{MarkerKind::epoch_end, 0, Split::none, "mic"});  // not an epoch here
  }
  end(h);
  // The first step once the buffer holds a batch (8 packets), then one every 2 packets.
  const auto losses = named(h, "train/loss");
  const std::int64_t steps = 1 + (600 - 8) / 2;
  REQUIRE_FALSE(losses.empty());
  // Every 5 steps, and the last ones at the end of the stream.
  CHECK(losses.back().step == steps);
  CHECK(losses.size() == static_cast<std::size_t>(steps / 5 + (steps % 5 != 0)));
  CHECK(losses.back().value < 0.1 * losses.front().value);
  // No epochs: no val evaluation, no epoch points; the best windowed loss is reported.
  CHECK(named(h, "val/loss").empty());
  CHECK(named(h, "epoch").empty());
  for (const auto& loss : losses) CHECK(loss.epoch == -1);  // online points belong to no epoch
  CHECK(named(h, "train/accuracy").empty());
  CHECK(last(h, "best/train/loss") == Approx(losses.back().value).epsilon(0.5));
  CHECK(h.markers("metrics").size() == 1);  // the marker goes on
  // What the replay buffer will take at most is said once, at the first packet.
  const auto said = std::count_if(h.logs().begin(), h.logs().end(),
                                  [](const LogRecord& r) { return r.message.rfind("replay buffer: up to ", 0) == 0; });
  CHECK(said == 1);
  // Checkpoints every 50 steps and at the end.
  std::int64_t scheduled = 0, at_end = 0;
  for (const auto& c : h.output("checkpoint")) {
    scheduled += c->attribute("reason")->as_string() == "schedule";
    at_end += c->attribute("reason")->as_string() == "end";
    // No evaluation online: a checkpoint carries the windowed train figures, and no epoch.
    const Value* loss = c->attribute("metric/train/loss");
    REQUIRE(loss != nullptr);
    CHECK(loss->as_number() > 0.0);
    CHECK(c->attribute("metric/best/train/loss") != nullptr);
    CHECK(c->attribute("epoch")->as_int() == -1);
  }
  CHECK(scheduled == steps / 50);
  CHECK(at_end == 1);
  // The last one's figures are the last report's.
  CHECK(h.output("checkpoint").back()->attribute("metric/train/loss")->as_number() == Approx(losses.back().value));
}

TEST_CASE("trainer: online, the train figures are over the last `window` steps") {
  // window 1: each report is its step's loss alone; window = log_every is the mean since the last
  // report, as in epoch mode.
  auto run = [](std::int64_t window) {
    auto h = NodeHarness::of<Trainer>(online_autoencoder({{"window", window}, {"log_every", 1}}));
    h.start();
    Tone tone;
    for (int i = 0; i < 60; ++i) h.push("in", tone.next(64));
    std::vector<double> v;
    for (const auto& m : named(h, "train/loss")) v.push_back(m.value);
    return v;
  };
  const auto one = run(1);
  const auto three = run(3);
  REQUIRE(one.size() == three.size());
  REQUIRE(one.size() > 5);
  for (std::size_t i = 2; i < one.size(); ++i) {
    CHECK(three[i] == Approx((one[i] + one[i - 1] + one[i - 2]) / 3.0).epsilon(1e-9));
  }
}

TEST_CASE("trainer: online, a classifier learns labelled blobs as they come, and val is kept for the end") {
  std::mt19937 rng(3);
  std::normal_distribution<float> noise(0.0f, 0.5f);
  auto h = NodeHarness::of<Trainer>({{"model", model({{"kind", "linear"}})},
                                     {"mode", "online"},
                                     {"batch", 16},
                                     {"lr", 0.05},
                                     {"monitor", "train/accuracy"},
                                     {"log_every", 10}});
  h.start();
  for (int i = 0; i < 800; ++i) {
    auto p = make_packet(PayloadKind::example);
    const std::int64_t label = i % 3;
    std::vector<float> x;
    for (int d = 0; d < 6; ++d) x.push_back((d % 3 == label ? 3.0f : 0.0f) + noise(rng));
    p->tensors.push_back(Tensor::from_vector(x));
    p->label = label;
    p->split = i % 10 == 9 ? Split::val : Split::train;
    p->set_attribute("classes", std::int64_t{3});
    h.push("in", p);
  }
  end(h);
  CHECK(last(h, "train/accuracy") > 0.95);
  CHECK(last(h, "best/train/accuracy") > 0.95);
  REQUIRE(named(h, "val/accuracy").size() == 1);
  CHECK(last(h, "val/accuracy") > 0.95);
}

TEST_CASE("trainer: online resumes from a checkpoint at its step, without replaying the stream") {
  auto first = NodeHarness::of<Trainer>(online_autoencoder());
  first.start();
  Tone tone;
  for (int i = 0; i < 200; ++i) first.push("in", tone.next(64));
  end(first);
  REQUIRE_FALSE(first.output("checkpoint").empty());
  const PacketPtr last_checkpoint = first.output("checkpoint").back();
  const std::int64_t at = last_checkpoint->attribute("step")->as_int();
  CHECK(at == 1 + (200 - 8) / 2);
  ScratchDir dir;
  const std::string path = save_checkpoint(last_checkpoint, dir.path());
  auto resumed = NodeHarness::of<Trainer>(online_autoencoder({{"resume", path}}));
  resumed.start();
  for (int i = 0; i < 100; ++i) resumed.push("in", tone.next(64));  // the live stream goes on
  end(resumed);
  const auto losses = named(resumed, "train/loss");
  REQUIRE_FALSE(losses.empty());
  // The buffer fills again (8 packets) and the steps go on from the checkpoint's.
  CHECK(losses.back().step == at + 1 + (100 - 8) / 2);
  // Trained already: the resumed run's first figures are near where the first run ended.
  CHECK(losses.front().value < 3.0 * named(first, "train/loss").back().value);
}

TEST_CASE("trainer: online refuses what goes by epochs, and a monitor it does not report") {
  auto param_of = [](std::vector<TableEntry> params) {
    try {
      NodeHarness::of<Trainer>(params);
    } catch (const ParamError& e) {
      return std::string(e.param()) + ": " + e.what();
    }
    return std::string("(accepted)");
  };
  CHECK_THAT(param_of(online_autoencoder({{"scheduler", "cosine"}})),
             Catch::StartsWith("scheduler") && Catch::Contains("online"));
  CHECK_THAT(param_of(online_autoencoder({{"early_stopping", 3}})), Catch::StartsWith("early_stopping"));
  CHECK_THAT(param_of(online_autoencoder({{"monitor", "val/loss"}})),
             Catch::StartsWith("monitor") && Catch::Contains("train/loss"));
  CHECK_THAT(param_of({{"mode", "live"}}), Catch::StartsWith("mode"));
  // A classifier fed unlabelled audio says what would fit.
  auto h = NodeHarness::of<Trainer>({{"mode", "online"}, {"classes", 2}});
  h.start();
  Tone tone;
  CHECK_THAT(error_of([&] { h.push("in", tone.next(64)); }),
             Catch::Contains("without a label") && Catch::Contains("kind = \"autoencoder\""));
}

#include "trainer/trainer.hpp"

#include <unistd.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <sstream>
#include <string>

#include "tributary/testing.hpp"

using namespace tributary;
using tributary::models::Trainer;
namespace fs = std::filesystem;

namespace {

struct Row {
  std::vector<float> x;
  std::int64_t label = 0;
  Split split = Split::train;
};

// Gaussian clusters around well separated centres, with fixed splits.
std::vector<Row> blobs(int count, int classes, int dims, unsigned seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> noise(0.0f, 0.5f);
  std::vector<Row> rows;
  for (int i = 0; i < count; ++i) {
    Row r;
    r.label = i % classes;
    for (int d = 0; d < dims; ++d) r.x.push_back((d % classes == r.label ? 3.0f : 0.0f) + noise(rng));
    r.split = i % 10 == 8 ? Split::val : i % 10 == 9 ? Split::test : Split::train;
    rows.push_back(r);
  }
  return rows;
}

PacketPtr example(const Row& row, std::int64_t classes, std::int64_t epochs = 0) {
  auto p = make_packet(PayloadKind::example);
  p->stream = "data";
  p->tensors.push_back(Tensor::from_vector(row.x));
  p->label = row.label;
  p->split = row.split;
  p->set_attribute("classes", classes);
  if (epochs > 0) p->set_attribute("epochs", epochs);
  return p;
}

// Feeds `epochs` passes over `rows`, each closed by an epoch_end marker, from epoch `first`.
void feed(NodeHarness& h, const std::vector<Row>& rows, std::int64_t classes, int epochs, int first = 0) {
  for (int e = first; e < epochs; ++e) {
    for (const Row& r : rows) h.push("in", example(r, classes, epochs));
    h.push("in", Marker{MarkerKind::epoch_end, e, Split::none, "data"});
  }
}

void end(NodeHarness& h) {
  h.push("in", Marker{MarkerKind::end_of_stream, -1, Split::none, "data"});
  h.flush();
}

std::vector<MetricPoint> named(const NodeHarness& h, const std::string& name) {
  std::vector<MetricPoint> found;
  for (const auto& p : h.output("metrics")) {
    for (const auto& m : p->metrics) {
      if (m.name == name) found.push_back(m);
    }
  }
  return found;
}

double last(const NodeHarness& h, const std::string& name) {
  const auto points = named(h, name);
  REQUIRE_FALSE(points.empty());
  return points.back().value;
}

Value model(std::vector<TableEntry> entries) { return Value::table(std::move(entries)); }

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

class ScratchDir {
 public:
  ScratchDir() {
    static int counter = 0;
    path_ = fs::temp_directory_path() /
            ("tributary-trainer-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  fs::path path() const { return path_; }

 private:
  fs::path path_;
};

// Writes a checkpoint packet's bytes as the checkpoint sink would name them.
std::string save(const PacketPtr& checkpoint, const fs::path& dir) {
  const Tensor& bytes = checkpoint->tensors.at(0);
  char name[64];
  std::snprintf(name, sizeof name, "step-%012lld.pt", static_cast<long long>(checkpoint->attribute("step")->as_int()));
  const fs::path path = dir / name;
  std::ofstream(path, std::ios::binary)
      .write(static_cast<const char*>(bytes.raw()), static_cast<std::streamsize>(bytes.nbytes()));
  return path.string();
}

}  // namespace

TEST_CASE("trainer: a linear model learns separable blobs; val after each epoch marker, test at the end") {
  const auto rows = blobs(400, 4, 8, 1);
  auto h = NodeHarness::of<Trainer>({{"model", model({{"kind", "linear"}})}, {"lr", 0.05}, {"batch", 15}});
  h.start();
  feed(h, rows, 4, 3);
  // Evaluated once per epoch, at the marker.
  CHECK(named(h, "val/accuracy").size() == 3);
  CHECK(named(h, "test/accuracy").empty());
  end(h);
  REQUIRE(named(h, "test/accuracy").size() == 1);
  CHECK(last(h, "val/accuracy") > 0.95);
  CHECK(last(h, "test/accuracy") > 0.95);
  CHECK(named(h, "val/accuracy").back().epoch == 2);

  for (const char* name :
       {"train/loss",    "train/accuracy", "lr",        "grad_norm",    "samples_per_s",     "val/loss",
        "val/precision", "val/recall",     "val/f1",    "val/fpr",      "val/fnr",           "test/loss",
        "test/f1",       "val/fpr/0",      "val/fnr/3", "val/f1/2",     "val/confusion/0/0", "val/confusion/3/1",
        "epoch",         "progress",       "eta_s",     "best/val/loss"}) {
    INFO(name);
    CHECK_FALSE(named(h, name).empty());
  }
  // 320 train rows per epoch, batch 15: 21 full steps and a partial one at each epoch end.
  CHECK(named(h, "train/loss").back().step == 3 * 22);
  CHECK(last(h, "progress") == Approx(1.0));
  // The confusion points of an evaluation add up to the split's size.
  double total = 0.0;
  for (int t = 0; t < 4; ++t) {
    for (int p = 0; p < 4; ++p) total += last(h, "test/confusion/" + std::to_string(t) + "/" + std::to_string(p));
  }
  CHECK(total == 40.0);
  // Epoch markers go on, after the metrics of their epoch.
  REQUIRE(h.markers("metrics").size() == 3);
  CHECK(h.markers("metrics")[2].epoch == 2);
}

TEST_CASE("trainer: an mlp with sgd, adam and adamw lowers the loss; class names come from the source") {
  const auto rows = blobs(300, 3, 6, 2);
  for (const char* optimizer : {"sgd", "adam", "adamw"}) {
    INFO(optimizer);
    auto h = NodeHarness::of<Trainer>(
        {{"model", model({{"kind", "mlp"}, {"hidden", std::vector<Value>{16}}, {"dropout", 0.1}})},
         {"optimizer", optimizer},
         {"momentum", std::string(optimizer) == "sgd" ? 0.9 : 0.0},
         {"lr", std::string(optimizer) == "sgd" ? 0.05 : 0.01},
         {"batch", 8},
         {"log_every", 5}});
    h.start();
    for (int e = 0; e < 5; ++e) {
      for (const Row& r : rows) {
        auto p = make_packet(PayloadKind::example);
        p->tensors.push_back(Tensor::from_vector(r.x));
        p->label = r.label;
        p->split = r.split;
        p->set_attribute("classes", std::vector<Value>{"red", "green", "blue"});
        h.push("in", p);
      }
      h.push("in", Marker{MarkerKind::epoch_end, e, Split::none, "data"});
    }
    end(h);
    const auto losses = named(h, "val/loss");
    REQUIRE(losses.size() == 5);
    CHECK(losses.back().value < losses.front().value);
    CHECK(last(h, "test/accuracy") > 0.9);
    CHECK_FALSE(named(h, "val/fpr/green").empty());
    CHECK_FALSE(named(h, "test/confusion/blue/red").empty());
  }
}

TEST_CASE("trainer: the same seed repeats a run bit for bit, another seed does not") {
  const auto rows = blobs(200, 3, 5, 3);
  auto run = [&](std::int64_t seed) {
    auto h = NodeHarness::of<Trainer>(
        {{"model", model({{"kind", "mlp"}, {"hidden", std::vector<Value>{8}}, {"dropout", 0.2}})},
         {"seed", seed},
         {"batch", 10},
         {"log_every", 1}});
    h.start();
    feed(h, rows, 3, 2);
    end(h);
    std::vector<double> losses;
    for (const auto& m : named(h, "train/loss")) losses.push_back(m.value);
    return losses;
  };
  const auto a = run(7);
  CHECK(a.size() == 2 * 16);
  CHECK(run(7) == a);
  CHECK(run(8) != a);
}

TEST_CASE("trainer: set lr and checkpoint take effect between packets and reply with the step") {
  const auto rows = blobs(100, 2, 4, 4);
  auto h = NodeHarness::of<Trainer>({{"batch", 10}, {"lr", 0.01}});
  h.start();
  const ControlReply early = h.control({ControlVerb::checkpoint, "train"});
  CHECK_FALSE(early.accepted);
  CHECK_THAT(early.text, Catch::Contains("no model yet"));

  for (int i = 0; i < 50; ++i) h.push("in", example(rows[static_cast<std::size_t>(i)], 2));
  const ControlReply set = h.control({ControlVerb::set, "train", "lr", 0.5});
  CHECK(set.accepted);
  CHECK(set.step == 4);  // 40 train rows in the first 50: 4 steps of 10
  CHECK_THAT(set.text, Catch::Contains("0.01 -> 0.5"));
  CHECK(last(h, "lr") == 0.5);

  CHECK_FALSE(h.control({ControlVerb::set, "train", "lr", -1.0}).accepted);
  CHECK_FALSE(h.control({ControlVerb::set, "train", "batch", 3}).accepted);

  const ControlReply now = h.control({ControlVerb::checkpoint, "train"});
  CHECK(now.accepted);
  CHECK(now.step == 4);
  REQUIRE(h.output("checkpoint").size() == 1);
  const Packet& c = *h.output("checkpoint")[0];
  CHECK(c.kind == PayloadKind::blob);
  CHECK(c.tensors.at(0).dtype() == DType::u8);
  CHECK(c.tensors.at(0).nbytes() > 100);
  CHECK(c.attribute("reason")->as_string() == "control");
  CHECK(c.attribute("step")->as_int() == 4);
  CHECK_FALSE(c.attribute("best")->as_bool());
}

TEST_CASE("trainer: checkpoints on a new best, on schedule and at the end; resume continues exactly") {
  const auto rows = blobs(200, 3, 6, 5);
  const std::vector<TableEntry> params{
      {"model", model({{"kind", "mlp"}, {"hidden", std::vector<Value>{12}}, {"dropout", 0.1}})},
      {"optimizer", "adam"},
      {"lr", 0.01},
      {"batch", 7},
      {"log_every", 1},
      {"checkpoint_every", 9},
      {"seed", 11}};
  auto whole = NodeHarness::of<Trainer>(params);
  whole.start();
  feed(whole, rows, 3, 4);
  end(whole);
  std::map<std::string, int> reasons;
  for (const auto& c : whole.output("checkpoint")) ++reasons[c->attribute("reason")->as_string()];
  CHECK(reasons["best"] >= 1);
  CHECK(reasons["schedule"] >= 5);
  CHECK(reasons["end"] == 1);

  ScratchDir dir;
  SECTION("from a checkpoint written mid-epoch (on schedule)") {
    // The scheduled checkpoint at step 27: in the second epoch, with a partial batch and val kept.
    PacketPtr mid;
    for (const auto& c : whole.output("checkpoint")) {
      if (c->attribute("step")->as_int() == 27 && c->attribute("reason")->as_string() == "schedule") mid = c;
    }
    REQUIRE(mid);
    save(mid, dir.path());
    std::vector<TableEntry> resumed_params = params;
    resumed_params.push_back({"resume", dir.path().string()});  // a directory: its newest checkpoint
    auto resumed = NodeHarness::of<Trainer>(resumed_params);
    resumed.start();
    feed(resumed, rows, 3, 4);  // the source starts from the beginning; the trainer skips what it had
    end(resumed);
    const auto a = named(whole, "train/loss");
    const auto b = named(resumed, "train/loss");
    REQUIRE(b.size() + 27 == a.size());
    for (std::size_t i = 0; i < b.size(); ++i) {
      CHECK(b[i].step == a[i + 27].step);
      CHECK(b[i].value == a[i + 27].value);
    }
    CHECK(last(resumed, "test/accuracy") == last(whole, "test/accuracy"));
    CHECK(last(resumed, "val/loss") == last(whole, "val/loss"));
  }
  SECTION("from another model shape: refused with both shapes") {
    const std::string path = save(whole.output("checkpoint").back(), dir.path());
    auto other = NodeHarness::of<Trainer>(
        {{"model", model({{"kind", "mlp"}, {"hidden", std::vector<Value>{12}}})}, {"resume", path}});
    other.start();
    const auto wide = blobs(20, 3, 9, 6);
    const std::string message = error_of([&] { other.push("in", example(wide[0], 3)); });
    CHECK_THAT(message, Catch::Contains("cannot resume from " + path) && Catch::Contains("for input [6]") &&
                            Catch::Contains("for input [9]") && Catch::Contains("[12, 6]") &&
                            Catch::Contains("[12, 9]"));
  }
  SECTION("from something that is not a checkpoint") {
    const fs::path junk = dir.path() / "junk.pt";
    std::ofstream(junk) << "not a checkpoint";
    auto h = NodeHarness::of<Trainer>({{"resume", junk.string()}});
    CHECK_THAT(error_of([&] { h.start(); }), Catch::Contains("junk.pt is not a readable checkpoint"));
  }
}

TEST_CASE("trainer: bad input is refused with what is wrong and what fits") {
  CHECK_THROWS_AS(NodeHarness::of<Trainer>({{"model", model({{"kind", "transformer"}})}}), ParamError);
  try {
    NodeHarness::of<Trainer>({{"model", model({{"kind", "transformer"}})}});
  } catch (const ParamError& e) {
    CHECK(e.param() == "model.kind");
    CHECK_THAT(e.what(), Catch::Contains("linear, mlp, cnn"));
  }
  try {
    NodeHarness::of<Trainer>({{"device", "cuda"}});
    SUCCEED("this LibTorch has CUDA");
  } catch (const ParamError& e) {
    CHECK(e.param() == "device");
    CHECK_THAT(e.what(), Catch::Contains("has no CUDA"));
  }
  CHECK_THROWS_AS(NodeHarness::of<Trainer>({{"nesterov", true}}), ParamError);
  CHECK_THROWS_AS(NodeHarness::of<Trainer>({{"monitor", "train/loss"}}), ParamError);

  const auto rows = blobs(10, 2, 4, 7);
  auto h = NodeHarness::of<Trainer>({});
  h.start();
  h.push("in", example(rows[0], 2));
  const auto wrong = blobs(1, 2, 5, 7);
  CHECK_THAT(error_of([&] { h.push("in", example(wrong[0], 2)); }),
             Catch::Contains("expected examples of shape [4]") && Catch::Contains("found shape [5]"));
  Row bad = rows[1];
  bad.label = 2;
  CHECK_THAT(error_of([&] { h.push("in", example(bad, 2)); }), Catch::Contains("label 2 is outside [0, 2)"));

  auto unknown = NodeHarness::of<Trainer>({});
  unknown.start();
  auto p = make_packet(PayloadKind::example);
  p->tensors.push_back(Tensor::from_vector(rows[0].x));
  p->label = 0;
  CHECK_THAT(error_of([&] { unknown.push("in", p); }), Catch::Contains("set classes = N"));

  auto cnn = NodeHarness::of<Trainer>({{"model", model({{"kind", "cnn"}})}, {"classes", 2}});
  cnn.start();
  auto cube = make_packet(PayloadKind::example);
  cube->tensors.push_back(Tensor::zeros(DType::f32, {2, 2, 2, 2}));
  cube->label = 0;
  CHECK_THAT(error_of([&] { cnn.push("in", cube); }), Catch::Contains("cannot take examples of shape [2, 2, 2, 2]"));
}

TEST_CASE("trainer: a 1-D cnn tells clips apart by their frequency") {
  // Class = cycles per 32-sample clip (1, 4 or 8), at a random phase, with noise.
  std::mt19937 rng(9);
  std::normal_distribution<float> noise(0.0f, 0.2f);
  std::uniform_real_distribution<float> phase(0.0f, 6.2831853f);
  const float cycles[] = {1.0f, 4.0f, 8.0f};
  std::vector<Row> rows;
  for (int i = 0; i < 300; ++i) {
    Row r;
    r.label = i % 3;
    const float p = phase(rng);
    for (int t = 0; t < 32; ++t) {
      r.x.push_back(std::sin(6.2831853f * cycles[r.label] * static_cast<float>(t) / 32.0f + p) + noise(rng));
    }
    r.split = i % 10 == 9 ? Split::test : Split::train;
    rows.push_back(r);
  }
  auto h = NodeHarness::of<Trainer>(
      {{"model", model({{"kind", "cnn"}, {"channels", std::vector<Value>{8, 8}}, {"hidden", std::vector<Value>{16}}})},
       {"lr", 0.01},
       {"batch", 16}});
  h.start();
  feed(h, rows, 3, 8);
  end(h);
  CHECK(last(h, "test/accuracy") > 0.8);
}

TEST_CASE("trainer: step, cosine and plateau schedules set the rate by epochs") {
  const auto rows = blobs(100, 2, 4, 10);
  auto lrs = [&](std::vector<TableEntry> params, int epochs) {
    params.push_back({"lr", 0.1});
    params.push_back({"log_every", 1000});
    auto h = NodeHarness::of<Trainer>(params);
    h.start();
    feed(h, rows, 2, epochs);
    end(h);
    std::vector<double> values;
    for (const auto& m : named(h, "lr")) values.push_back(m.value);
    return values;
  };
  // The train reports carry the rate too: what matters is the rates in force, in order.
  auto has = [](const std::vector<double>& v, double x) {
    return std::any_of(v.begin(), v.end(), [&](double y) { return std::abs(y - x) < 1e-9; });
  };
  const auto step = lrs({{"scheduler", "step"}, {"step_size", 2}, {"gamma", 0.5}}, 5);
  CHECK(has(step, 0.05));
  CHECK(has(step, 0.025));
  CHECK_FALSE(has(step, 0.0125));

  const auto cosine = lrs({{"scheduler", "cosine"}, {"min_lr", 0.01}}, 4);  // t_max from the source: 4
  CHECK(has(cosine, 0.055));                                                // half way
  CHECK(cosine.back() == Approx(0.01));

  // A monitor that cannot improve (accuracy 1.0 from the start) cuts the rate after the patience.
  const auto plateau = lrs({{"scheduler", "plateau"}, {"scheduler_patience", 1}, {"monitor", "val/accuracy"}}, 6);
  CHECK(plateau.back() < 0.1);
}

TEST_CASE("trainer: early stopping asks the run to stop and trains no more") {
  const auto rows = blobs(100, 2, 4, 11);
  auto h = NodeHarness::of<Trainer>({{"early_stopping", 2}, {"monitor", "val/accuracy"}, {"lr", 0.1}});
  h.start();
  feed(h, rows, 2, 8);
  CHECK(h.stop_requested());
  const auto epochs = named(h, "val/accuracy");
  CHECK(epochs.size() < 8);
  const std::int64_t steps = named(h, "train/loss").back().step;
  end(h);
  CHECK(named(h, "test/accuracy").back().step == steps);
  CHECK(last(h, "test/accuracy") > 0.9);
}

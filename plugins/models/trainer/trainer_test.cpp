#include "trainer/trainer.hpp"

#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iostream>
#include <map>
#include <random>
#include <sstream>
#include <string>
#include <tuple>

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

TEST_CASE("trainer: a linear model learns separable blobs, val after each epoch marker, test at the end") {
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

TEST_CASE("trainer: an mlp with sgd, adam and adamw lowers the loss, class names come from the source") {
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

TEST_CASE("trainer: checkpoints on a new best, on schedule and at the end, resume continues exactly") {
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
    // model_stats at the same steps with the same figures; pictures of the epochs it trained, whose
    // predictions for the val points are the uninterrupted run's (the principal components are
    // fitted again, so the planes may differ).
    const auto& stats = resumed.output("model_stats");
    REQUIRE(stats.size() == 1);  // step 50
    CHECK(stats[0]->attribute("step")->as_int() == 50);
    REQUIRE(whole.output("model_stats").size() == 1);
    for (std::size_t i = 0; i < stats[0]->metrics.size(); ++i) {
      CHECK(stats[0]->metrics[i].value == whole.output("model_stats")[0]->metrics[i].value);
    }
    const auto& pictures = resumed.output("boundary");
    REQUIRE(pictures.size() == 3);  // epochs 1, 2, 3
    REQUIRE(whole.output("boundary").size() == 4);
    for (std::size_t i = 0; i < 3; ++i) {
      const Packet& again = *pictures[i];
      const Packet& first = *whole.output("boundary")[i + 1];
      CHECK(again.attribute("epoch")->as_int() == first.attribute("epoch")->as_int());
      REQUIRE(again.tensors[4].numel() == first.tensors[4].numel());
      for (std::int64_t k = 0; k < again.tensors[4].numel(); ++k) {
        CHECK(again.tensors[4].at(k) == first.tensors[4].at(k));
      }
    }
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

// ---- model_stats and boundary ------------------------------------------------------------------

namespace {

const Packet& last_packet(const NodeHarness& h, const std::string& port) {
  REQUIRE_FALSE(h.output(port).empty());
  return *h.output(port).back();
}

// The class of the grid cell a projected point falls in.
std::int64_t cell_class(const Packet& picture, double px, double py) {
  const Tensor& grid = picture.tensors.at(0);
  const std::int64_t g = grid.dim(0);
  const double x0 = picture.attribute("x0")->as_number(), x1 = picture.attribute("x1")->as_number();
  const double y0 = picture.attribute("y0")->as_number(), y1 = picture.attribute("y1")->as_number();
  const auto c = std::clamp<std::int64_t>(static_cast<std::int64_t>((px - x0) / (x1 - x0) * g), 0, g - 1);
  const auto r = std::clamp<std::int64_t>(static_cast<std::int64_t>((py - y0) / (y1 - y0) * g), 0, g - 1);
  return static_cast<std::int64_t>(grid.at(r * g + c));
}

}  // namespace

TEST_CASE("trainer: model_stats every stats_every steps: per-parameter figures and histograms") {
  const auto rows = blobs(200, 4, 8, 12);  // 160 train rows: 16 steps of 10 per epoch
  auto h = NodeHarness::of<Trainer>({{"model", model({{"kind", "linear"}})},
                                     {"batch", 10},
                                     {"stats_every", 5},
                                     {"histogram_bins", 16},
                                     {"boundary_every", 0}});
  h.start();
  feed(h, rows, 4, 2);
  end(h);
  const auto& packets = h.output("model_stats");
  REQUIRE(packets.size() == 32 / 5);
  for (std::size_t i = 0; i < packets.size(); ++i) {
    const Packet& p = *packets[i];
    const std::int64_t step = 5 * static_cast<std::int64_t>(i + 1);
    CHECK(p.kind == PayloadKind::metrics);
    CHECK(p.attribute("step")->as_int() == step);
    CHECK(p.attribute("epoch")->as_int() == (step <= 16 ? 0 : 1));
    REQUIRE(p.metrics.size() == 2 * 7);
    for (const auto& m : p.metrics) CHECK(m.step == step);
    REQUIRE(p.tensors.size() == 4);
    const auto& histograms = p.attribute("histograms")->as_list();
    REQUIRE(histograms.size() == 4);
    const std::int64_t numel[] = {32, 32, 4, 4};  // weight [4, 8] and its gradient, bias [4] and its gradient
    for (std::size_t t = 0; t < 4; ++t) {
      const Value& entry = histograms[t];
      CHECK(entry.find("tensor")->as_int() == static_cast<std::int64_t>(t));
      CHECK(entry.find("of")->as_string() == (t % 2 == 0 ? "weight" : "grad"));
      CHECK(entry.find("lo")->as_number() <= entry.find("hi")->as_number());
      const Tensor& counts = p.tensors[t];
      CHECK(counts.dtype() == DType::f64);
      CHECK(counts.shape() == Shape{16});
      double sum = 0.0;
      for (std::int64_t b = 0; b < 16; ++b) sum += counts.at(b);
      CHECK(sum == static_cast<double>(numel[t]));
    }
    CHECK(histograms[0].find("parameter")->as_string() == "1.linear.weight");
    CHECK(histograms[2].find("parameter")->as_string() == "1.linear.bias");
  }
  std::map<std::string, double> points;
  for (const auto& m : packets.back()->metrics) points[m.name] = m.value;
  for (const char* name :
       {"model/1.linear.weight/weight/mean", "model/1.linear.weight/weight/std", "model/1.linear.weight/weight/norm",
        "model/1.linear.weight/grad/mean", "model/1.linear.weight/grad/std", "model/1.linear.weight/grad/norm",
        "model/1.linear.weight/grad/abs_mean", "model/1.linear.bias/grad/abs_mean"}) {
    INFO(name);
    CHECK(points.count(name) == 1);
  }
  CHECK(points["model/1.linear.weight/weight/norm"] > 0.0);
  CHECK(points["model/1.linear.weight/grad/abs_mean"] > 0.0);
}

TEST_CASE("trainer: the boundary of a 2-D input is drawn in the input and splits the plane as the data does") {
  auto rows = blobs(400, 2, 2, 13);  // class 0 around (3, 0), class 1 around (0, 3)
  for (std::size_t i = 0; i < rows.size(); ++i) rows[i].split = (i / 2) % 5 == 0 ? Split::val : Split::train;
  auto h = NodeHarness::of<Trainer>({{"model", model({{"kind", "linear"}})},
                                     {"lr", 0.05},
                                     {"batch", 10},
                                     {"boundary_grid", 32},
                                     {"boundary_points", 30},
                                     {"stats_every", 0}});
  h.start();
  feed(h, rows, 2, 6);
  end(h);
  REQUIRE(h.output("boundary").size() == 6);
  CHECK(h.output("model_stats").empty());
  const Packet& p = last_packet(h, "boundary");
  CHECK(p.kind == PayloadKind::features);
  CHECK(p.attribute("projection")->as_string() == "input");
  CHECK(p.attribute("explained") == nullptr);
  CHECK(p.attribute("epoch")->as_int() == 5);
  CHECK(p.attribute("step")->as_int() == named(h, "train/loss").back().step);
  CHECK(p.attribute("classes")->as_list() == std::vector<Value>{"0", "1"});
  REQUIRE(p.tensors.size() == 5);
  CHECK(p.tensors[0].dtype() == DType::i64);
  CHECK(p.tensors[0].shape() == Shape{32, 32});
  CHECK(p.tensors[1].dtype() == DType::f32);
  CHECK(p.tensors[1].shape() == Shape{32, 32});
  CHECK(p.tensors[2].dtype() == DType::f32);
  CHECK(p.tensors[2].shape() == Shape{30, 2});
  CHECK(p.tensors[3].dtype() == DType::i64);
  CHECK(p.tensors[3].shape() == Shape{30});
  CHECK(p.tensors[4].dtype() == DType::i64);
  CHECK(p.tensors[4].shape() == Shape{30});

  // The points are the first val examples as they are, inside the padded range.
  std::vector<const Row*> val_rows;
  for (const Row& r : rows) {
    if (r.split == Split::val) val_rows.push_back(&r);
  }
  const double x0 = p.attribute("x0")->as_number(), x1 = p.attribute("x1")->as_number();
  const double y0 = p.attribute("y0")->as_number(), y1 = p.attribute("y1")->as_number();
  int matching_cells = 0, right_predictions = 0;
  for (std::int64_t i = 0; i < 30; ++i) {
    const double px = p.tensors[2].at(2 * i), py = p.tensors[2].at(2 * i + 1);
    CHECK(px == val_rows[static_cast<std::size_t>(i)]->x[0]);
    CHECK(py == val_rows[static_cast<std::size_t>(i)]->x[1]);
    CHECK(p.tensors[3].at(i) == static_cast<double>(val_rows[static_cast<std::size_t>(i)]->label));
    CHECK((px > x0 && px < x1 && py > y0 && py < y1));
    const auto label = static_cast<std::int64_t>(p.tensors[3].at(i));
    matching_cells += cell_class(p, px, py) == label ? 1 : 0;
    right_predictions += static_cast<std::int64_t>(p.tensors[4].at(i)) == label ? 1 : 0;
  }
  CHECK(matching_cells >= 29);  // > 95%
  CHECK(right_predictions >= 29);
  // The corners far on each class's side: (x1, y0) is class 0's, (x0, y1) class 1's.
  CHECK(p.tensors[0].at(31) == 0.0);
  CHECK(p.tensors[0].at(31 * 32) == 1.0);
  for (std::int64_t i = 0; i < 32 * 32; ++i) {
    CHECK((p.tensors[1].at(i) >= 0.5 && p.tensors[1].at(i) <= 1.0));
  }
}

TEST_CASE("trainer: the boundary of a wider input is drawn in its first two principal components, fitted once") {
  const auto rows = blobs(300, 3, 8, 14);
  auto h = NodeHarness::of<Trainer>({{"model", model({{"kind", "mlp"}, {"hidden", std::vector<Value>{16}}})},
                                     {"lr", 0.01},
                                     {"batch", 10},
                                     {"boundary_every", 2}});
  h.start();
  feed(h, rows, 3, 5);
  end(h);
  const auto& pictures = h.output("boundary");
  REQUIRE(pictures.size() == 2);  // after the 2nd and 4th epochs
  CHECK(pictures[0]->attribute("epoch")->as_int() == 1);
  CHECK(pictures[1]->attribute("epoch")->as_int() == 3);
  for (const auto& p : pictures) {
    CHECK(p->attribute("projection")->as_string() == "pca");
    const auto& explained = p->attribute("explained")->as_list();
    REQUIRE(explained.size() == 2);
    for (const Value& e : explained) CHECK((e.as_number() > 0.0 && e.as_number() <= 1.0));
    CHECK(explained[0].as_number() >= explained[1].as_number());
    CHECK(explained[0].as_number() + explained[1].as_number() <= 1.0 + 1e-9);
    CHECK(p->tensors[0].shape() == Shape{64, 64});
    CHECK(p->tensors[2].shape() == Shape{30, 2});  // all 30 val examples: fewer than boundary_points
    CHECK(p->attribute("classes")->as_list().size() == 3);
  }
  // The same components for every picture: the same val points land at the same place.
  CHECK(*pictures[0]->attribute("explained") == *pictures[1]->attribute("explained"));
  for (std::int64_t i = 0; i < 60; ++i) CHECK(pictures[0]->tensors[2].at(i) == pictures[1]->tensors[2].at(i));
  // Three well separated blobs: the trained model's cells agree with most points' labels.
  const Packet& p = *pictures[1];
  int matching = 0;
  for (std::int64_t i = 0; i < 30; ++i) {
    matching += cell_class(p, p.tensors[2].at(2 * i), p.tensors[2].at(2 * i + 1)) ==
                        static_cast<std::int64_t>(p.tensors[3].at(i))
                    ? 1
                    : 0;
  }
  CHECK(matching >= 27);
}

TEST_CASE("trainer: the model_stats and boundary ports leave the run as it was, and emit nothing when off") {
  const auto rows = blobs(200, 3, 5, 15);
  auto run = [&](std::int64_t stats_every, std::int64_t boundary_every) {
    auto h = NodeHarness::of<Trainer>(
        {{"model", model({{"kind", "mlp"}, {"hidden", std::vector<Value>{8}}, {"dropout", 0.2}, {"batch_norm", true}})},
         {"seed", 3},
         {"batch", 10},
         {"log_every", 1},
         {"stats_every", stats_every},
         {"boundary_every", boundary_every}});
    h.start();
    feed(h, rows, 3, 3);
    end(h);
    std::vector<double> values;
    for (const char* name : {"train/loss", "val/loss", "test/loss"}) {
      for (const auto& m : named(h, name)) values.push_back(m.value);
    }
    return std::make_tuple(values, h.output("model_stats").size(), h.output("boundary").size());
  };
  const auto [off, off_stats, off_pictures] = run(0, 0);
  CHECK(off_stats == 0);
  CHECK(off_pictures == 0);
  const auto [on, on_stats, on_pictures] = run(1, 1);
  CHECK(on_stats == 48);
  CHECK(on_pictures == 3);
  CHECK(on == off);  // bit for bit: no random numbers drawn, the model's mode restored
}

TEST_CASE("trainer: without val examples the boundary is skipped, said once") {
  auto rows = blobs(100, 2, 2, 16);
  for (Row& r : rows) r.split = Split::train;
  auto h = NodeHarness::of<Trainer>({{"stats_every", 0}});
  h.start();
  feed(h, rows, 2, 3);
  end(h);
  CHECK(h.output("boundary").empty());
  int said = 0;
  for (const auto& record : h.logs()) {
    if (record.message.find("no decision-boundary picture") != std::string::npos) {
      ++said;
      CHECK(record.level == LogLevel::info);
      CHECK_THAT(record.message, Catch::Contains("no val examples"));
    }
  }
  CHECK(said == 1);
}

TEST_CASE("trainer: out-of-range model_stats and boundary parameters are refused by name") {
  for (const auto& [param, value] : std::vector<std::pair<std::string, std::int64_t>>{{"stats_every", -1},
                                                                                      {"histogram_bins", 3},
                                                                                      {"histogram_bins", 257},
                                                                                      {"boundary_every", -2},
                                                                                      {"boundary_grid", 7},
                                                                                      {"boundary_grid", 513},
                                                                                      {"boundary_points", 0}}) {
    INFO(param << " = " << value);
    try {
      NodeHarness::of<Trainer>({{param, value}});
      FAIL("accepted");
    } catch (const ParamError& e) {
      CHECK(e.param() == param);
    }
  }
}

// Not run by default: `models_tests "[.cost]" -s` prints what model_stats and boundary cost on a
// keyword-spotter-sized CNN (the README gives the figures).
TEST_CASE("trainer: the cost of model_stats and boundary on a keyword-spotter-sized cnn", "[.cost]") {
  std::mt19937 rng(17);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  std::vector<Row> rows;
  for (int i = 0; i < 2250; ++i) {
    Row r;
    r.label = i % 3;
    for (int c = 0; c < 20; ++c) {
      for (int t = 0; t < 101; ++t) r.x.push_back(noise(rng) + (c % 3 == r.label ? 1.0f : 0.0f));
    }
    r.split = i % 9 == 8 ? Split::val : Split::train;
    rows.push_back(r);
  }
  const int epochs = 2;
  // The seconds of a run, and what the trainer's debug lines say model_stats and boundary took.
  struct Cost {
    double run = 0.0;
    std::int64_t steps = 0;
    std::vector<double> stats;
    std::vector<double> pictures;
  };
  auto measure = [&](std::int64_t stats_every, std::int64_t boundary_every, std::int64_t grid) {
    auto h = NodeHarness::of<Trainer>({{"model", model({{"kind", "cnn"},
                                                        {"dims", 2},
                                                        {"channels", std::vector<Value>{32, 64, 64}},
                                                        {"separable", true},
                                                        {"batch_norm", true}})},
                                       {"lr", 0.003},
                                       {"batch", 32},
                                       {"stats_every", stats_every},
                                       {"boundary_every", boundary_every},
                                       {"boundary_grid", grid},
                                       {"checkpoint_best", false},
                                       {"checkpoint_end", false}});
    h.start();
    const auto started = std::chrono::steady_clock::now();
    for (int e = 0; e < epochs; ++e) {
      for (const Row& r : rows) {
        auto p = make_packet(PayloadKind::example);
        p->tensors.push_back(Tensor::from_vector(r.x, {20, 101}));
        p->label = r.label;
        p->split = r.split;
        p->set_attribute("classes", std::int64_t{3});
        h.push("in", p);
      }
      h.push("in", Marker{MarkerKind::epoch_end, e, Split::none, "data"});
    }
    end(h);
    Cost c;
    c.run = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    c.steps = named(h, "train/loss").back().step;
    for (const auto& record : h.logs()) {
      const auto in = record.message.rfind(" in ");
      if (in == std::string::npos) continue;
      const double seconds = std::atof(record.message.c_str() + in + 4);
      if (record.message.rfind("model_stats at", 0) == 0) c.stats.push_back(seconds);
      if (record.message.rfind("decision boundary", 0) == 0) c.pictures.push_back(seconds);
    }
    return c;
  };
  auto mean = [](const std::vector<double>& v) {
    double sum = 0.0;
    for (double x : v) sum += x;
    return v.empty() ? 0.0 : sum / static_cast<double>(v.size());
  };
  const Cost off = measure(0, 0, 64);
  const Cost on = measure(1, 1, 64);
  const Cost small = measure(0, 1, 32);
  const double per_step = off.run / static_cast<double>(off.steps);
  const double per_packet = mean(on.stats);
  std::cout << "ports off: " << off.run << " s for " << off.steps << " steps, " << per_step * 1e3
            << " ms a step (epochs' evaluation included)\n"
            << "model_stats: " << per_packet * 1e3 << " ms a packet (" << on.stats.size()
            << "): " << 100.0 * per_packet / (50.0 * per_step) << "% of the run at stats_every = 50\n"
            << "boundary, grid 64, 500 points: " << mean(on.pictures) * 1e3 << " ms a picture (" << on.pictures.size()
            << "), the first with the fit " << on.pictures.front() * 1e3
            << " ms: " << 100.0 * mean(on.pictures) * epochs / off.run << "% of the run\n"
            << "boundary, grid 32: " << mean(small.pictures) * 1e3
            << " ms a picture: " << 100.0 * mean(small.pictures) * epochs / off.run << "% of the run\n";
  CHECK(on.steps == off.steps);
  CHECK(on.stats.size() == static_cast<std::size_t>(on.steps));
  CHECK(on.pictures.size() == static_cast<std::size_t>(epochs));
}

// Autoencoders: dense and conv, reconstruction loss, no labels.
#include <torch/utils.h>

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <iostream>
#include <random>

#include "trainer/model_spec.hpp"
#include "trainer/network.hpp"
#include "trainer/test_support.hpp"
#include "trainer/trainer.hpp"

using namespace tributary;
using namespace tributary::models::testing;
using tributary::models::Trainer;

namespace {

Value model(std::vector<TableEntry> entries) { return Value::table(std::move(entries)); }

// A steady input: the same few patterns (sines of a few frequencies over `shape`), no labels.
std::vector<float> pattern(const Shape& shape, int which, std::mt19937& rng) {
  std::normal_distribution<float> noise(0.0f, 0.02f);
  const std::int64_t n = element_count(shape);
  std::vector<float> x;
  for (std::int64_t i = 0; i < n; ++i) {
    x.push_back(std::sin(0.3f * static_cast<float>((which + 1) * i)) + noise(rng));
  }
  return x;
}

PacketPtr unlabelled(const std::vector<float>& x, const Shape& shape, Split split) {
  auto p = make_packet(PayloadKind::features);
  p->stream = "data";
  p->tensors.push_back(Tensor::from_vector(x, shape));
  p->split = split;
  return p;
}

// Epochs of 64 unlabelled examples (every 8th val, every 8th test) each closed by a marker.
void feed(NodeHarness& h, const Shape& shape, int epochs, int first = 0) {
  for (int e = first; e < epochs; ++e) {
    std::mt19937 rng(static_cast<unsigned>(100 + e));
    for (int i = 0; i < 64; ++i) {
      h.push("in", unlabelled(pattern(shape, i % 3, rng), shape,
                              i % 8 == 7   ? Split::val
                              : i % 8 == 6 ? Split::test
                                           : Split::none));
    }
    h.push("in", Marker{MarkerKind::epoch_end, e, Split::none, "data"});
  }
}

}  // namespace

TEST_CASE("trainer: an autoencoder's reconstruction loss falls on a steady input, without labels") {
  const auto [kind_text, spec, shape] = GENERATE(
      std::make_tuple("dense", model({{"kind", "autoencoder"}, {"hidden", std::vector<Value>{32, 8}}}), Shape{40}),
      std::make_tuple("conv 1-D",
                      model({{"kind", "autoencoder"}, {"conv", true}, {"channels", std::vector<Value>{8, 8}}}),
                      Shape{2, 33}),
      std::make_tuple("conv 2-D", model({{"kind", "autoencoder"}, {"channels", std::vector<Value>{8}}, {"dims", 2}}),
                      Shape{11, 13}));
  INFO(kind_text);
  auto h = NodeHarness::of<Trainer>({{"model", spec}, {"lr", 0.01}, {"batch", 8}, {"log_every", 7}, {"seed", 3}});
  h.start();
  feed(h, shape, 12);
  end(h);
  const auto train = named(h, "train/loss");
  REQUIRE(train.size() >= 5);
  CHECK(train.back().value < 0.3 * train.front().value);
  const auto val = named(h, "val/loss");
  REQUIRE(val.size() == 12);
  CHECK(val.back().value < 0.3 * val.front().value);
  // No classes: no accuracy, no per-class scores, no confusion, no picture (said once).
  for (const auto& p : h.output("metrics")) {
    for (const auto& m : p->metrics) {
      INFO(m.name);
      CHECK(m.name.find("accuracy") == std::string::npos);
      CHECK(m.name.find("confusion") == std::string::npos);
      CHECK(m.name.find("f1") == std::string::npos);
    }
  }
  for (const char* name : {"lr", "grad_norm", "samples_per_s", "epoch", "best/val/loss"}) {
    INFO(name);
    CHECK_FALSE(named(h, name).empty());
  }
  CHECK(h.output("boundary").empty());
  int said = 0;
  for (const auto& record : h.logs()) said += record.message.find("no decision-boundary") != std::string::npos;
  CHECK(said == 1);
  // model_stats at its default period of 50 steps: 12 epochs of 48 train examples, batch 8.
  REQUIRE_FALSE(h.output("model_stats").empty());
  CHECK_FALSE(h.output("model_stats").front()->metrics.empty());
}

TEST_CASE("trainer: a conv autoencoder's output has exactly the input's shape, odd sizes too") {
  for (const auto& [shape, dims] : std::vector<std::pair<Shape, std::int64_t>>{
           {{37}, 0}, {{3, 37}, 0}, {{1, 5}, 0}, {{13, 17}, 2}, {{3, 15, 9}, 0}, {{1, 7, 1}, 0}, {{40, 31}, 0}}) {
    for (std::int64_t k : {3, 4, 5}) {
      INFO(to_string(shape) << " dims " << dims << " kernel " << k);
      tributary::models::ModelSpec spec;
      spec.kind = tributary::models::ModelKind::autoencoder;
      spec.conv = true;
      spec.channels = {4, 8, 8};
      spec.dims = dims;
      spec.kernel_size = k;
      auto net = tributary::models::build_network(spec, shape, 0);
      std::vector<std::int64_t> batch{2};
      batch.insert(batch.end(), shape.begin(), shape.end());
      const torch::Tensor out = net->forward(torch::randn(batch));
      CHECK(std::vector<std::int64_t>(out.sizes().begin(), out.sizes().end()) == batch);
    }
  }
  tributary::models::ModelSpec dense;
  dense.kind = tributary::models::ModelKind::autoencoder;
  dense.hidden = {16, 4};
  auto net = tributary::models::build_network(dense, {3, 5}, 0);
  const torch::Tensor out = net->forward(torch::randn({2, 3, 5}));
  CHECK(std::vector<std::int64_t>(out.sizes().begin(), out.sizes().end()) == std::vector<std::int64_t>{2, 3, 5});
}

TEST_CASE("trainer: an autoencoder resumes from a checkpoint exactly") {
  const Shape shape{2, 15};
  const std::vector<TableEntry> params{
      {"model", model({{"kind", "autoencoder"}, {"channels", std::vector<Value>{4, 8}}, {"batch_norm", true}})},
      {"lr", 0.01},
      {"batch", 6},
      {"log_every", 1},
      {"checkpoint_every", 13},
      {"seed", 4}};
  auto whole = NodeHarness::of<Trainer>(params);
  whole.start();
  feed(whole, shape, 3);
  end(whole);
  PacketPtr mid;
  for (const auto& c : whole.output("checkpoint")) {
    if (c->attribute("step")->as_int() == 13) mid = c;
  }
  REQUIRE(mid);
  ScratchDir dir;
  save_checkpoint(mid, dir.path());
  std::vector<TableEntry> resumed_params = params;
  resumed_params.push_back({"resume", dir.path().string()});
  auto resumed = NodeHarness::of<Trainer>(resumed_params);
  resumed.start();
  feed(resumed, shape, 3);
  end(resumed);
  const auto a = named(whole, "train/loss");
  const auto b = named(resumed, "train/loss");
  REQUIRE(b.size() + 13 == a.size());
  for (std::size_t i = 0; i < b.size(); ++i) {
    CHECK(b[i].step == a[i + 13].step);
    CHECK(b[i].value == a[i + 13].value);
  }
  CHECK(last(resumed, "test/loss") == last(whole, "test/loss"));
  CHECK(last(resumed, "val/loss") == last(whole, "val/loss"));
}

TEST_CASE("trainer: an autoencoder's bad declarations are refused by name") {
  auto param_of = [](const Value& m, std::vector<TableEntry> more = {}) {
    more.push_back({"model", m});
    try {
      NodeHarness::of<Trainer>(more);
    } catch (const ParamError& e) {
      return std::string(e.param()) + ": " + e.what();
    }
    return std::string("(accepted)");
  };
  CHECK_THAT(param_of(model({{"kind", "autoencoder"}, {"dropout", 0.1}})),
             Catch::StartsWith("model.dropout") && Catch::Contains("autoencoder model has no key 'dropout'"));
  CHECK_THAT(param_of(model({{"kind", "autoencoder"}, {"conv", true}, {"hidden", std::vector<Value>{8}}})),
             Catch::StartsWith("model.hidden"));
  CHECK_THAT(param_of(model({{"kind", "autoencoder"}}), {{"class_weights", "balanced"}}),
             Catch::StartsWith("class_weights") && Catch::Contains("no classes"));
  auto h = NodeHarness::of<Trainer>({{"model", model({{"kind", "autoencoder"}, {"conv", true}})}});
  h.start();
  auto cube = make_packet(PayloadKind::features);
  cube->tensors.push_back(Tensor::zeros(DType::f32, {2, 2, 2, 2}));
  CHECK_THAT(error_of([&] { h.push("in", cube); }),
             Catch::Contains("autoencoder cannot take examples of shape [2, 2, 2, 2]"));
}

// The rows per evaluation pass: the trainer takes at most 2^14 input values (and 1024 rows) a pass.
TEST_CASE("trainer: the cost of an evaluation pass by its rows, on a cnn and an mlp", "[.cost]") {
  namespace tm = tributary::models;
  tm::ModelSpec cnn;
  cnn.kind = tm::ModelKind::cnn;
  cnn.dims = 2;
  cnn.channels = {32, 64, 64};
  cnn.separable = true;
  cnn.batch_norm = true;
  tm::ModelSpec mlp;
  mlp.kind = tm::ModelKind::mlp;
  mlp.hidden = {64};
  for (const auto& [label, spec, shape, rows] : {std::make_tuple("kws cnn [20, 101]", cnn, Shape{20, 101}, 2048),
                                                 std::make_tuple("digits mlp [64]", mlp, Shape{64}, 16384)}) {
    torch::manual_seed(1);
    auto net = tm::build_network(spec, shape, 10);
    net->eval();
    torch::NoGradGuard no_grad;
    std::vector<std::int64_t> all{rows};
    all.insert(all.end(), shape.begin(), shape.end());
    const torch::Tensor x = torch::randn(all);
    for (std::int64_t chunk : {1, 8, 32, 128, 256, 1024, 4096}) {
      const auto started = std::chrono::steady_clock::now();
      double sum = 0.0;
      for (std::int64_t begin = 0; begin < rows; begin += chunk) {
        sum += net->forward(x.narrow(0, begin, std::min<std::int64_t>(chunk, rows - begin))).sum().item<double>();
      }
      const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
      std::cout << label << ": " << chunk << " rows a pass: " << seconds / static_cast<double>(rows) * 1e6
                << " us a row\n";
      CHECK(std::isfinite(sum));
    }
  }
}

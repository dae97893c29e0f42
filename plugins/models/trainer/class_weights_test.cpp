// class_weights: per-class weights of the training loss, given or "balanced".
#include <torch/nn/functional/loss.h>
#include <torch/utils.h>

#include <catch2/catch.hpp>
#include <random>

#include "trainer/model_spec.hpp"
#include "trainer/network.hpp"
#include "trainer/test_support.hpp"
#include "trainer/trainer.hpp"

using namespace tributary;
using namespace tributary::models::testing;
using tributary::models::Trainer;

namespace {

// 80 train examples of 3 classes, 60 / 15 / 5, in 4 dimensions.
struct Imbalanced {
  std::vector<std::vector<float>> x;
  std::vector<std::int64_t> y;
};

Imbalanced imbalanced() {
  std::mt19937 rng(21);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  Imbalanced d;
  const int counts[] = {60, 15, 5};
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < counts[c]; ++i) {
      std::vector<float> row;
      for (int k = 0; k < 4; ++k) row.push_back(noise(rng) + (k == c ? 1.5f : 0.0f));
      d.x.push_back(row);
      d.y.push_back(c);
    }
  }
  return d;
}

// One step over all 80 examples; returns the train/loss it reports.
double first_loss(const Imbalanced& d, std::vector<TableEntry> params, bool with_counts) {
  params.push_back({"batch", 80});
  params.push_back({"log_every", 1});
  params.push_back({"seed", 5});
  auto h = NodeHarness::of<Trainer>(params);
  h.start();
  for (std::size_t i = 0; i < d.y.size(); ++i) {
    auto p = make_packet(PayloadKind::example);
    p->tensors.push_back(Tensor::from_vector(d.x[i]));
    p->label = d.y[i];
    p->split = Split::train;
    p->set_attribute("classes", std::vector<Value>{"a", "b", "c"});
    if (with_counts) {
      p->set_attribute("class_counts", Value::table({{"train", std::vector<Value>{60, 15, 5}},
                                                     {"val", std::vector<Value>{0, 0, 0}},
                                                     {"test", std::vector<Value>{0, 0, 0}}}));
    }
    h.push("in", p);
  }
  const auto losses = named(h, "train/loss");
  REQUIRE(losses.size() == 1);
  return losses[0].value;
}

// The same loss by hand: the model the trainer builds from the seed, LibTorch's cross-entropy.
double by_hand(const Imbalanced& d, const std::vector<float>& weights) {
  tributary::models::ModelSpec spec;  // linear
  torch::manual_seed(5);
  auto net = tributary::models::build_network(spec, {4}, 3);
  std::vector<float> flat;
  for (const auto& row : d.x) flat.insert(flat.end(), row.begin(), row.end());
  const torch::Tensor x = torch::tensor(flat).view({80, 4});
  const torch::Tensor y = torch::tensor(d.y, torch::kInt64);
  namespace F = torch::nn::functional;
  torch::NoGradGuard no_grad;
  const torch::Tensor logits = net->forward(x);
  if (weights.empty()) return F::cross_entropy(logits, y).item<double>();
  return F::cross_entropy(logits, y, F::CrossEntropyFuncOptions().weight(torch::tensor(weights))).item<double>();
}

}  // namespace

TEST_CASE("trainer: class_weights weigh the training loss as LibTorch's cross-entropy with weights does") {
  const Imbalanced d = imbalanced();
  const double plain = first_loss(d, {}, true);
  CHECK(plain == Approx(by_hand(d, {})).epsilon(1e-6));

  // balanced: 80 / (3 * count) per class.
  const double balanced = first_loss(d, {{"class_weights", "balanced"}}, true);
  const std::vector<float> expected{80.0f / 180.0f, 80.0f / 45.0f, 80.0f / 15.0f};
  CHECK(balanced == Approx(by_hand(d, expected)).epsilon(1e-6));
  CHECK(std::abs(balanced - plain) > 1e-3);

  const double listed = first_loss(d, {{"class_weights", std::vector<Value>{1.0, 2.0, 8.0}}}, false);
  CHECK(listed == Approx(by_hand(d, {1.0f, 2.0f, 8.0f})).epsilon(1e-6));
}

TEST_CASE("trainer: class_weights of the wrong length, a wrong word or without class_counts are refused") {
  SECTION("a list of another length than classes, at validation") {
    try {
      NodeHarness::of<Trainer>({{"classes", 3}, {"class_weights", std::vector<Value>{1.0, 2.0}}});
      FAIL("accepted");
    } catch (const ParamError& e) {
      CHECK(e.param() == "class_weights");
      CHECK_THAT(e.what(), Catch::Contains("has 2 weights") && Catch::Contains("classes = 3"));
    }
  }
  SECTION("a list of another length than the source's classes, at the first example") {
    auto h = NodeHarness::of<Trainer>({{"class_weights", std::vector<Value>{1.0, 2.0}}});
    h.start();
    auto p = make_packet(PayloadKind::example);
    p->tensors.push_back(Tensor::from_vector(std::vector<float>{1, 2}));
    p->label = 0;
    p->set_attribute("classes", std::int64_t{4});
    CHECK_THAT(error_of([&] { h.push("in", p); }),
               Catch::Contains("class_weights has 2 weights but there are 4 classes"));
  }
  SECTION("a word other than balanced, negative or all-zero weights, at validation") {
    CHECK_THROWS_AS(NodeHarness::of<Trainer>({{"class_weights", "balance"}}), ParamError);
    CHECK_THROWS_AS(NodeHarness::of<Trainer>({{"class_weights", std::vector<Value>{1.0, -1.0}}}), ParamError);
    CHECK_THAT(error_of([] {
                 NodeHarness::of<Trainer>({{"class_weights", std::vector<Value>{0.0, 0.0}}});
               }),
               Catch::Contains("all 0"));
  }
  SECTION("balanced from a source without class_counts") {
    auto h = NodeHarness::of<Trainer>({{"class_weights", "balanced"}});
    h.start();
    auto p = make_packet(PayloadKind::example);
    p->tensors.push_back(Tensor::from_vector(std::vector<float>{1, 2}));
    p->label = 0;
    p->set_attribute("classes", std::int64_t{2});
    CHECK_THAT(error_of([&] { h.push("in", p); }),
               Catch::Contains("needs the source's 'class_counts'") && Catch::Contains("no class_counts"));
  }
}

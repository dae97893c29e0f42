#include "trainer/model_stats.hpp"

#include <torch/nn/modules/linear.h>
#include <torch/utils.h>

#include <catch2/catch.hpp>
#include <cmath>
#include <map>
#include <string>

using namespace tributary;
using tributary::models::model_stats_packet;
using tributary::models::readable_parameter_names;

namespace {

// Flatten, then a 2 -> 2 linear layer with weights and gradients set by hand.
torch::nn::Sequential tiny_model() {
  torch::nn::Sequential net(torch::nn::Flatten(), torch::nn::Linear(2, 2));
  torch::NoGradGuard no_grad;
  auto params = net->named_parameters();
  params["1.weight"].copy_(torch::tensor({1.0f, 1.0f, 2.0f, 4.0f}).view({2, 2}));
  params["1.bias"].copy_(torch::tensor({0.5f, -0.5f}));
  params["1.weight"].mutable_grad() = torch::tensor({0.1f, -0.2f, 0.3f, -0.4f}).view({2, 2});
  params["1.bias"].mutable_grad() = torch::tensor({1.0f, 1.0f});
  return net;
}

std::vector<double> counts(const Tensor& t) {
  std::vector<double> values;
  for (std::int64_t i = 0; i < t.numel(); ++i) values.push_back(t.at(i));
  return values;
}

}  // namespace

TEST_CASE("model_stats: parameters are named by layer index, kind and name, in LibTorch's order") {
  CHECK(readable_parameter_names(tiny_model()) == std::vector<std::string>{"1.linear.weight", "1.linear.bias"});
}

TEST_CASE("model_stats: the figures and histograms of a known model equal the hand computed ones") {
  const auto packet = model_stats_packet(tiny_model(), 4, "train", 7, 2);
  std::map<std::string, double> points;
  for (const auto& m : packet->metrics) {
    CHECK(m.node == "train");
    CHECK(m.step == 7);
    CHECK(m.epoch == 2);
    points[m.name] = m.value;
  }
  CHECK(points.size() == 14);
  // Weights 1, 1, 2, 4: mean 2, population std sqrt(1.5), norm sqrt(22).
  CHECK(points["model/1.linear.weight/weight/mean"] == Approx(2.0));
  CHECK(points["model/1.linear.weight/weight/std"] == Approx(std::sqrt(1.5)));
  CHECK(points["model/1.linear.weight/weight/norm"] == Approx(std::sqrt(22.0)));
  // Gradients 0.1, -0.2, 0.3, -0.4.
  CHECK(points["model/1.linear.weight/grad/mean"] == Approx(-0.05));
  CHECK(points["model/1.linear.weight/grad/std"] == Approx(std::sqrt(0.0725)));
  CHECK(points["model/1.linear.weight/grad/norm"] == Approx(std::sqrt(0.3)));
  CHECK(points["model/1.linear.weight/grad/abs_mean"] == Approx(0.25));
  CHECK(points["model/1.linear.bias/weight/mean"] == Approx(0.0).margin(1e-12));
  CHECK(points["model/1.linear.bias/weight/std"] == Approx(0.5));
  CHECK(points["model/1.linear.bias/grad/std"] == Approx(0.0).margin(1e-12));
  CHECK(points["model/1.linear.bias/grad/norm"] == Approx(std::sqrt(2.0)));

  // Weights' then gradients' histogram per parameter, in the parameters' order.
  REQUIRE(packet->tensors.size() == 4);
  for (const Tensor& t : packet->tensors) {
    CHECK(t.dtype() == DType::f64);
    CHECK(t.shape() == Shape{4});
  }
  const Value* histograms = packet->attribute("histograms");
  REQUIRE(histograms != nullptr);
  REQUIRE(histograms->as_list().size() == 4);
  const Value& first = histograms->as_list()[0];
  CHECK(first.find("parameter")->as_string() == "1.linear.weight");
  CHECK(first.find("of")->as_string() == "weight");
  CHECK(first.find("lo")->as_number() == 1.0);
  CHECK(first.find("hi")->as_number() == 4.0);
  CHECK(first.find("tensor")->as_int() == 0);
  // Over [1, 4] in bins of 0.75: 1 and 1, then 2, then 4 (the top value in the last bin).
  CHECK(counts(packet->tensors[0]) == std::vector<double>{2, 1, 0, 1});
  const Value& grads = histograms->as_list()[1];
  CHECK(grads.find("of")->as_string() == "grad");
  CHECK(grads.find("lo")->as_number() == Approx(-0.4));
  CHECK(grads.find("hi")->as_number() == Approx(0.3));
  CHECK(grads.find("tensor")->as_int() == 1);
  CHECK(counts(packet->tensors[1]) == std::vector<double>{1, 1, 1, 1});
  CHECK(histograms->as_list()[2].find("parameter")->as_string() == "1.linear.bias");
  CHECK(counts(packet->tensors[2]) == std::vector<double>{1, 0, 0, 1});
  // All gradients equal (lo == hi): every one in the middle bin.
  CHECK(histograms->as_list()[3].find("lo")->as_number() == 1.0);
  CHECK(histograms->as_list()[3].find("hi")->as_number() == 1.0);
  CHECK(counts(packet->tensors[3]) == std::vector<double>{0, 0, 2, 0});

  CHECK(packet->attribute("step")->as_int() == 7);
  CHECK(packet->attribute("epoch")->as_int() == 2);
}

TEST_CASE("model_stats: a diverged parameter's histogram counts its finite values") {
  auto net = tiny_model();
  {
    torch::NoGradGuard no_grad;
    net->named_parameters()["1.weight"].copy_(torch::tensor({1.0f, std::nanf(""), 3.0f, INFINITY}).view({2, 2}));
  }
  const auto packet = model_stats_packet(net, 4, "train", 1, 0);
  const Value& first = packet->attribute("histograms")->as_list()[0];
  CHECK(first.find("lo")->as_number() == 1.0);
  CHECK(first.find("hi")->as_number() == 3.0);
  CHECK(counts(packet->tensors[0]) == std::vector<double>{1, 0, 0, 1});
}

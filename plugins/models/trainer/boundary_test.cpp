#include "trainer/boundary.hpp"

#include <ATen/ATen.h>
#include <torch/nn/modules/linear.h>

#include <catch2/catch.hpp>
#include <cmath>

using namespace tributary;
using tributary::models::DecisionBoundary;

TEST_CASE("boundary: the principal components are those of an exact SVD, fitted once") {
  // 300 examples of 40 values (an exact SVD) or of 600 (subspace iteration), their variance
  // decaying over the axes.
  const std::int64_t features = GENERATE(std::int64_t{40}, std::int64_t{600});
  INFO(features << " values an example");
  at::manual_seed(1);
  const at::Tensor scales = at::pow(0.8, at::arange(features, at::kDouble)) * 4.0;
  const at::Tensor x = (at::randn({300, features}, at::kDouble) * scales + 2.0).to(at::kFloat);
  const at::Tensor y = at::zeros({300}, at::kLong);
  torch::nn::Sequential net(torch::nn::Flatten(), torch::nn::Linear(features, 2));
  net->train();
  DecisionBoundary boundary(8, 50);
  CHECK(boundary.cannot_draw(300, features).empty());
  const auto packet = boundary.draw(net, x, y, {features}, {"a", "b"}, torch::Device(torch::kCPU));
  CHECK(net->is_training());  // left as it was

  const at::Tensor centred = x.to(at::kDouble) - x.to(at::kDouble).mean(0);
  const auto [u, s, vh] = at::linalg_svd(centred, false);
  const double total = centred.pow(2).sum().item<double>();
  const auto& explained = packet->attribute("explained")->as_list();
  REQUIRE(explained.size() == 2);
  for (std::int64_t j = 0; j < 2; ++j) {
    const double sj = s[j].item<double>();
    CHECK(explained[static_cast<std::size_t>(j)].as_number() == Approx(sj * sj / total).epsilon(1e-6));
  }
  // The projected points are the centred examples on the two axes, up to each axis's sign.
  const at::Tensor exact = centred.narrow(0, 0, 50).matmul(vh.narrow(0, 0, 2).t());
  const Tensor& points = packet->tensors.at(2);
  REQUIRE(points.shape() == Shape{50, 2});
  for (std::int64_t j = 0; j < 2; ++j) {
    const double sign = exact[0][j].item<double>() * points.at(j) < 0.0 ? -1.0 : 1.0;
    for (std::int64_t i = 0; i < 50; ++i) {
      CHECK(sign * points.at(2 * i + j) == Approx(exact[i][j].item<double>()).margin(1e-3));
    }
  }
  CHECK(packet->attribute("projection")->as_string() == "pca");
  CHECK(packet->attribute("classes")->to_string() == R"(["a", "b"])");

  // A later picture keeps the components, whatever examples it draws.
  const auto later = boundary.draw(net, x.narrow(0, 20, 200), y.narrow(0, 20, 200), {features}, {"a", "b"},
                                   torch::Device(torch::kCPU));
  CHECK(later->attribute("explained")->to_string() == packet->attribute("explained")->to_string());
  for (std::int64_t j = 0; j < 2; ++j) {
    const double a = later->tensors.at(2).at(j);
    const double b = packet->tensors.at(2).at(2 * 20 + j);
    CHECK(a == Approx(b).margin(1e-4));  // example 20 is the later picture's first
  }
}

TEST_CASE("boundary: what cannot be drawn is said") {
  DecisionBoundary boundary(8, 50);
  CHECK_THAT(boundary.cannot_draw(0, 2), Catch::Contains("no val examples"));
  CHECK_THAT(boundary.cannot_draw(10, 1), Catch::Contains("1 value"));
  CHECK_THAT(boundary.cannot_draw(1, 5), Catch::Contains("fewer than 2"));
  CHECK(boundary.cannot_draw(1, 2).empty());
}

#include "trainer/boundary.hpp"

#include <ATen/ATen.h>
#include <torch/utils.h>

#include <algorithm>
#include <tuple>

#include "trainer/torch_tensor.hpp"

namespace tributary::models {

namespace {

// Rows per forward pass: at most 1024, and at most 2^14 input values, so that a convolution's
// activations stay in the cache: on a 32-channel cnn over [20, 101] MFCC clips, 8 rows a pass
// took 0.8 ms a row, 259 rows 2 ms.
constexpr std::int64_t kChunkRows = 1024;
constexpr std::int64_t kChunkValues = std::int64_t{1} << 14;
// Principal components: an exact SVD when the examples or their values number at most kExactUpTo,
// else subspace iteration in kOversampled dimensions.
constexpr std::int64_t kExactUpTo = 256;
constexpr std::int64_t kOversampled = 20;
constexpr int kIterations = 16;

std::vector<std::int64_t> batch_shape(std::int64_t rows, const std::vector<std::int64_t>& input_shape) {
  std::vector<std::int64_t> shape{rows};
  shape.insert(shape.end(), input_shape.begin(), input_shape.end());
  return shape;
}

// The class the model predicts for each row of `inputs` ([m, features] f32) and its softmax
// probability, on the CPU.
std::pair<at::Tensor, at::Tensor> decide(torch::nn::Sequential& net, const at::Tensor& inputs,
                                         const std::vector<std::int64_t>& input_shape, const torch::Device& device) {
  const at::Tensor logits = net->forward(inputs.reshape(batch_shape(inputs.size(0), input_shape)).to(device));
  auto [probability, predicted] = logits.softmax(1).max(1);
  return {predicted.to(at::kCPU), probability.to(at::kCPU, at::kFloat)};
}

// The range of `values` padded by 5% on each side (by 0.5 when they are all equal).
std::pair<double, double> padded_range(const at::Tensor& values) {
  const double lo = values.min().item<double>();
  const double hi = values.max().item<double>();
  const double pad = hi > lo ? 0.05 * (hi - lo) : 0.5;
  return {lo - pad, hi + pad};
}

}  // namespace

DecisionBoundary::DecisionBoundary(std::int64_t grid, std::int64_t points) : grid_(grid), points_(points) {}

std::string DecisionBoundary::cannot_draw(std::int64_t examples, std::int64_t features) const {
  if (examples == 0) return "no val examples in this epoch (the picture shows the val split)";
  if (features < 2) return "the input has 1 value: there is no plane to draw";
  if (features > 2 && !fitted_ && examples < 2) {
    return "fewer than 2 val examples to fit the principal components on";
  }
  return {};
}

// Mean and the first two principal components of up to kFitExamples rows of `x`. A large input
// (an MFCC clip of 2000 values, 2000 examples) takes subspace iteration (started from the first
// rows, so no random numbers) then an SVD of the small projection: a few matrix products, not a
// full SVD.
void DecisionBoundary::fit(const at::Tensor& x) {
  const std::int64_t features = x.size(1);
  fitted_ = true;
  if (features == 2) {
    pca_ = false;
    mean_ = at::zeros({2}, at::kDouble);
    basis_ = at::eye(2, at::kDouble);
    return;
  }
  pca_ = true;
  const std::int64_t m = std::min(x.size(0), kFitExamples);
  const at::Tensor data = x.narrow(0, 0, m).to(at::kDouble);
  mean_ = data.mean(0);
  const at::Tensor centred = data - mean_;
  at::Tensor s;
  if (std::min(m, features) <= kExactUpTo) {
    const auto [u, singular, vh] = at::linalg_svd(centred, false);
    s = singular;
    basis_ = vh.narrow(0, 0, 2).t().contiguous();
  } else {
    const std::int64_t k = std::min({kOversampled, m, features});
    at::Tensor q = std::get<0>(at::linalg_qr(centred.narrow(0, 0, k).t()));
    for (int i = 0; i < kIterations; ++i) q = std::get<0>(at::linalg_qr(centred.t().matmul(centred.matmul(q))));
    const auto [u, singular, vh] = at::linalg_svd(centred.matmul(q), false);
    s = singular;
    basis_ = q.matmul(vh.t().narrow(1, 0, 2)).contiguous();
  }
  // A fixed sign for each axis (its largest entry positive), so refits on other data agree.
  for (std::int64_t j = 0; j < 2; ++j) {
    at::Tensor axis = basis_.select(1, j);
    if (axis[axis.abs().argmax()].item<double>() < 0.0) axis.neg_();
  }
  const double total = centred.pow(2).sum().item<double>();
  explained_.clear();
  for (std::int64_t j = 0; j < 2; ++j) {
    const double sj = s[j].item<double>();
    explained_.push_back(total > 0.0 ? sj * sj / total : 0.0);
  }
}

std::shared_ptr<Packet> DecisionBoundary::draw(torch::nn::Sequential& net, const at::Tensor& x, const at::Tensor& y,
                                               const std::vector<std::int64_t>& input_shape,
                                               const std::vector<std::string>& classes, const torch::Device& device) {
  torch::NoGradGuard no_grad;
  if (!fitted_) fit(x);
  const std::int64_t features = x.size(1);
  const std::int64_t n = std::min(points_, x.size(0));
  const at::Tensor sample = x.narrow(0, 0, n);
  const at::Tensor projected = (sample.to(at::kDouble) - mean_).matmul(basis_);
  const auto [x0, x1] = padded_range(projected.select(1, 0));
  const auto [y0, y1] = padded_range(projected.select(1, 1));

  // Cell centres, row-major: row r at v(r) from y0, column c at u(c) from x0.
  const std::int64_t g = grid_;
  const at::Tensor centres = at::arange(g, at::kDouble).add_(0.5).div_(static_cast<double>(g));
  const at::Tensor u = (centres * (x1 - x0) + x0).view({1, g}).expand({g, g}).reshape({-1});
  const at::Tensor v = (centres * (y1 - y0) + y0).view({g, 1}).expand({g, g}).reshape({-1});
  const at::Tensor cells = at::stack({u, v}, 1);

  const bool was_training = net->is_training();
  net->eval();
  at::Tensor cell_class = at::empty({g * g}, at::kLong);
  at::Tensor cell_probability = at::empty({g * g}, at::kFloat);
  const std::int64_t chunk = std::clamp<std::int64_t>(kChunkValues / features, 1, kChunkRows);
  for (std::int64_t begin = 0; begin < g * g; begin += chunk) {
    const std::int64_t count = std::min(chunk, g * g - begin);
    const at::Tensor inputs = (mean_ + cells.narrow(0, begin, count).matmul(basis_.t())).to(at::kFloat);
    const auto [predicted, probability] = decide(net, inputs, input_shape, device);
    cell_class.narrow(0, begin, count).copy_(predicted);
    cell_probability.narrow(0, begin, count).copy_(probability);
  }
  at::Tensor point_class = at::empty({n}, at::kLong);
  for (std::int64_t begin = 0; begin < n; begin += chunk) {
    const std::int64_t count = std::min(chunk, n - begin);
    point_class.narrow(0, begin, count).copy_(decide(net, sample.narrow(0, begin, count), input_shape, device).first);
  }
  if (was_training) net->train();

  auto packet = make_packet(PayloadKind::features);
  packet->tensors.push_back(sdk_tensor(cell_class.view({g, g})));
  packet->tensors.push_back(sdk_tensor(cell_probability.view({g, g})));
  packet->tensors.push_back(sdk_tensor(projected.to(at::kFloat)));
  packet->tensors.push_back(sdk_tensor(y.narrow(0, 0, n).to(at::kLong).clone()));
  packet->tensors.push_back(sdk_tensor(point_class));
  packet->set_attribute("x0", x0);
  packet->set_attribute("x1", x1);
  packet->set_attribute("y0", y0);
  packet->set_attribute("y1", y1);
  packet->set_attribute("projection", pca_ ? "pca" : "input");
  if (pca_) packet->set_attribute("explained", std::vector<Value>{explained_[0], explained_[1]});
  std::vector<Value> names(classes.begin(), classes.end());
  packet->set_attribute("classes", std::move(names));
  return packet;
}

}  // namespace tributary::models

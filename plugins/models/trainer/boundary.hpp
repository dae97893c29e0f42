#pragma once
// The trainer's `boundary` packet: a classifier's decision over a 2-D grid, in the input itself
// when it has two values, else in its first two principal components, with the val points.
#include <torch/nn/modules/container/sequential.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tributary/packet.hpp"

namespace tributary::models {

class DecisionBoundary {
 public:
  static constexpr std::int64_t kFitExamples = 2000;  // examples the principal components are fitted on

  DecisionBoundary(std::int64_t grid, std::int64_t points);

  // Why no picture can be drawn from `examples` val examples of `features` values, or empty.
  std::string cannot_draw(std::int64_t examples, std::int64_t features) const;

  // A features packet: tensors 0 i64 [G, G] the class predicted at each cell centre (row r from y0,
  // column c from x0), 1 f32 [G, G] its softmax probability, 2 f32 [N, 2] the first N examples of
  // `x` projected, 3 i64 [N] their labels, 4 i64 [N] the model's predictions for them; attributes
  // x0, x1, y0, y1, projection ("input" or "pca"), explained (pca), classes. `x` is [n, features]
  // f32 on the CPU, `y` [n] i64. The first call on a pca input fits the components on up to
  // kFitExamples of `x` and keeps them. The model runs in eval mode without gradients and is left
  // in the mode it was in; no random numbers are drawn. The caller stamps step, epoch and stream.
  std::shared_ptr<Packet> draw(torch::nn::Sequential& net, const torch::Tensor& x, const torch::Tensor& y,
                               const std::vector<std::int64_t>& input_shape, const std::vector<std::string>& classes,
                               const torch::Device& device);

  bool fitted() const { return fitted_; }

 private:
  void fit(const torch::Tensor& x);

  std::int64_t grid_;
  std::int64_t points_;
  bool fitted_ = false;
  bool pca_ = false;
  torch::Tensor mean_;   // f64 [features]
  torch::Tensor basis_;  // f64 [features, 2]: the projection's axes as columns
  std::vector<double> explained_;
};

}  // namespace tributary::models

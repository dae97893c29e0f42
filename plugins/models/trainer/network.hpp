#pragma once
// Builds the LibTorch network a ModelSpec declares for examples of one shape and a class count.
#include <torch/csrc/jit/api/module.h>
#include <torch/nn/modules/container/sequential.h>

#include <cstdint>
#include <string>

#include "trainer/model_spec.hpp"
#include "tributary/tensor.hpp"

namespace tributary::models {

// `input` is the shape of one example (no batch dimension). Throws std::invalid_argument when the
// model cannot take that shape (a cnn over a rank-4 input), naming the shape and what fits.
torch::nn::Sequential build_network(const ModelSpec& spec, const Shape& input, std::int64_t classes);

// A TorchScript module (torch::jit::load) as the one layer of a Sequential: its parameters and
// buffers are registered (the same tensors, '.' in their names turned to '_'), so the optimizer,
// checkpoints and model_stats see them, and train()/eval() reach the scripted module.
torch::nn::Sequential wrap_script(const torch::jit::Module& module);

// "linear 64 -> 10 (650 parameters)": a line for the log.
std::string describe_network(const torch::nn::Sequential& net, const ModelSpec& spec, const Shape& input,
                             std::int64_t classes);

}  // namespace tributary::models

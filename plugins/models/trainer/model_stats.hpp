#pragma once
// The trainer's `model_stats` packet: per-parameter weight and gradient figures and histograms,
// for the dashboard's weight and gradient-flow views.
#include <torch/nn/modules/container/sequential.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "tributary/packet.hpp"

namespace tributary::models {

// "1.linear.weight" for LibTorch's "1.weight": the layer's index in the network, its kind and the
// parameter's own name, in named_parameters() order. Stable for one model declaration.
std::vector<std::string> readable_parameter_names(const torch::nn::Sequential& net);

// A metrics packet for the network as it is (after a step's backward and optimizer step): for each
// trainable parameter P, points model/P/weight/{mean,std,norm} and model/P/grad/{mean,std,norm,
// abs_mean} (std over all elements, population), and two f64 [bins] histograms of counts, the
// weights' then the gradients', over [min, max] of the values, described by the `histograms`
// attribute. A parameter without a gradient counts as a zero gradient. The caller stamps the
// packet's stream, sequence and time.
std::shared_ptr<Packet> model_stats_packet(const torch::nn::Sequential& net, std::int64_t bins, const std::string& node,
                                           std::int64_t step, std::int64_t epoch);

}  // namespace tributary::models

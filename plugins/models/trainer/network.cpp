#include "trainer/network.hpp"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include <stdexcept>

namespace tributary::models {

namespace {

namespace nn = torch::nn;

void add_activation(nn::Sequential& net, const std::string& name) {
  if (name == "tanh") {
    net->push_back(nn::Tanh());
  } else if (name == "gelu") {
    net->push_back(nn::GELU());
  } else if (name == "sigmoid") {
    net->push_back(nn::Sigmoid());
  } else if (name == "leaky_relu") {
    net->push_back(nn::LeakyReLU());
  } else {
    net->push_back(nn::ReLU());
  }
}

// Dense layers of `widths`, each followed by [batch norm], the activation and [dropout], then the
// classifier layer.
void add_dense(nn::Sequential& net, const ModelSpec& spec, std::int64_t in, std::int64_t classes) {
  for (std::int64_t width : spec.hidden) {
    net->push_back(nn::Linear(in, width));
    if (spec.batch_norm) net->push_back(nn::BatchNorm1d(width));
    add_activation(net, spec.activation);
    if (spec.dropout > 0.0) net->push_back(nn::Dropout(spec.dropout));
    in = width;
  }
  net->push_back(nn::Linear(in, classes));
}

template <typename Conv, typename ConvOptions, typename Norm, typename Pool, typename GlobalPool>
void add_conv_blocks(nn::Sequential& net, const ModelSpec& spec, std::int64_t in_channels,
                     std::vector<std::int64_t> spatial) {
  const std::int64_t k = spec.kernel_size;
  std::int64_t in = in_channels;
  bool first = true;
  for (std::int64_t out : spec.channels) {
    if (spec.separable && !first) {
      net->push_back(Conv(ConvOptions(in, in, k).padding(k / 2).groups(in).bias(false)));
      net->push_back(Conv(ConvOptions(in, out, 1)));
    } else {
      net->push_back(Conv(ConvOptions(in, out, k).padding(k / 2)));
    }
    if (spec.batch_norm) net->push_back(Norm(out));
    add_activation(net, spec.activation);
    bool poolable = true;
    for (std::int64_t& s : spatial) poolable = poolable && s >= 2;
    if (poolable) {
      net->push_back(Pool(2));
      for (std::int64_t& s : spatial) s /= 2;
    }
    in = out;
    first = false;
  }
  net->push_back(GlobalPool(1));
  net->push_back(nn::Flatten());
}

}  // namespace

torch::nn::Sequential build_network(const ModelSpec& spec, const Shape& input, std::int64_t classes) {
  const std::int64_t features = element_count(input);
  nn::Sequential net;
  if (spec.kind != ModelKind::cnn) {
    net->push_back(nn::Flatten());
    if (spec.kind == ModelKind::mlp) {
      add_dense(net, spec, features, classes);
    } else {
      net->push_back(nn::Linear(features, classes));
    }
    return net;
  }

  const std::int64_t dims = spec.dims != 0 ? spec.dims : (input.size() == 3 ? 2 : 1);
  const bool fits = (dims == 1 && (input.size() == 1 || input.size() == 2)) ||
                    (dims == 2 && (input.size() == 2 || input.size() == 3));
  if (!fits) {
    throw std::invalid_argument("a " + std::to_string(dims) + "-D cnn cannot take examples of shape " +
                                to_string(input) +
                                ": it takes [time] or [channels, time] (1-D), [height, width] or "
                                "[channels, height, width] (2-D)");
  }
  const bool add_channel = static_cast<std::int64_t>(input.size()) == dims;
  std::vector<std::int64_t> unflat{add_channel ? 1 : input[0]};
  for (std::size_t i = add_channel ? 0 : 1; i < input.size(); ++i) unflat.push_back(input[i]);
  const std::int64_t in_channels = unflat[0];
  const std::vector<std::int64_t> spatial(unflat.begin() + 1, unflat.end());
  net->push_back(nn::Flatten());
  net->push_back(nn::Unflatten(nn::UnflattenOptions(1, unflat)));
  if (dims == 1) {
    add_conv_blocks<nn::Conv1d, nn::Conv1dOptions, nn::BatchNorm1d, nn::MaxPool1d, nn::AdaptiveAvgPool1d>(
        net, spec, in_channels, spatial);
  } else {
    add_conv_blocks<nn::Conv2d, nn::Conv2dOptions, nn::BatchNorm2d, nn::MaxPool2d, nn::AdaptiveAvgPool2d>(
        net, spec, in_channels, spatial);
  }
  add_dense(net, spec, spec.channels.back(), classes);
  return net;
}

std::string describe_network(const torch::nn::Sequential& net, const ModelSpec& spec, const Shape& input,
                             std::int64_t classes) {
  std::int64_t parameters = 0;
  for (const auto& p : net->parameters()) parameters += p.numel();
  std::string layers;
  for (const auto& child : net->children()) layers += (layers.empty() ? "" : " ") + child->name();
  return std::string(kind_name(spec.kind)) + " " + to_string(input) + " -> " + std::to_string(classes) + " classes, " +
         std::to_string(parameters) + " parameters: " + layers;
}

}  // namespace tributary::models

#include "trainer/network.hpp"

#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/pooling.h>

#include <algorithm>
#include <stdexcept>

namespace tributary::models {

// The decoder's output brought to the input's shape: each spatial dimension cropped at its end (or
// zero-padded there, when the strides left it shorter), then the example's own shape.
class FitToImpl : public torch::nn::Module {
 public:
  FitToImpl(std::vector<std::int64_t> spatial, std::vector<std::int64_t> example)
      : spatial_(std::move(spatial)), example_(std::move(example)) {}
  torch::Tensor forward(torch::Tensor x) {
    // x: [N, C, spatial...]
    std::vector<std::int64_t> pad;  // last dimension first, as constant_pad_nd takes it
    for (std::size_t i = spatial_.size(); i-- > 0;) {
      const auto dim = static_cast<std::int64_t>(i + 2);
      if (x.size(dim) > spatial_[i]) x = x.narrow(dim, 0, spatial_[i]);
      pad.push_back(0);
      pad.push_back(std::max<std::int64_t>(0, spatial_[i] - x.size(dim)));
    }
    x = torch::constant_pad_nd(x, pad, 0.0);
    std::vector<std::int64_t> shape{x.size(0)};
    shape.insert(shape.end(), example_.begin(), example_.end());
    return x.reshape(shape);
  }

 private:
  std::vector<std::int64_t> spatial_;
  std::vector<std::int64_t> example_;
};
TORCH_MODULE(FitTo);

class ScriptedImpl : public torch::nn::Module {
 public:
  explicit ScriptedImpl(torch::jit::Module module) : torch::nn::Module("Scripted"), module_(std::move(module)) {
    for (const auto& p : module_.named_parameters(true))
      register_parameter(flat(p.name), p.value, p.value.requires_grad());
    for (const auto& b : module_.named_buffers(true)) register_buffer(flat(b.name), b.value);
    torch::nn::Module::train(module_.is_training());
  }
  torch::Tensor forward(torch::Tensor x) { return module_.forward({std::move(x)}).toTensor(); }
  void train(bool on) override {
    torch::nn::Module::train(on);
    module_.train(on);
  }
  const torch::jit::Module& scripted() const { return module_; }

 private:
  static std::string flat(std::string name) {
    std::replace(name.begin(), name.end(), '.', '_');
    return name;
  }
  torch::jit::Module module_;
};
TORCH_MODULE(Scripted);

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

// Which convolution an input of `input`'s shape takes: 1-D over [time] or [channels, time], 2-D over
// [height, width] or [channels, height, width]; `dims` 0 picks from the rank. The channels-first
// shape of one example, a channel added when it has none.
std::vector<std::int64_t> conv_layout(const ModelSpec& spec, const Shape& input, std::int64_t& dims) {
  dims = spec.dims != 0 ? spec.dims : (input.size() == 3 ? 2 : 1);
  const bool fits = (dims == 1 && (input.size() == 1 || input.size() == 2)) ||
                    (dims == 2 && (input.size() == 2 || input.size() == 3));
  if (!fits) {
    throw std::invalid_argument("a " + std::to_string(dims) + "-D " + kind_name(spec.kind) +
                                " cannot take examples of shape " + to_string(input) +
                                ": it takes [time] or [channels, time] (1-D), [height, width] or "
                                "[channels, height, width] (2-D)");
  }
  const bool add_channel = static_cast<std::int64_t>(input.size()) == dims;
  std::vector<std::int64_t> unflat{add_channel ? 1 : input[0]};
  for (std::size_t i = add_channel ? 0 : 1; i < input.size(); ++i) unflat.push_back(input[i]);
  return unflat;
}

// A conv autoencoder: per channel count a stride-2 conv, [batch norm] and the activation; then the
// mirror in transposed convs (each doubling the length), the last back to the input's channels
// with no activation, and the output fitted to the input's shape.
template <typename Conv, typename ConvOptions, typename Deconv, typename DeconvOptions, typename Norm>
void add_conv_autoencoder(nn::Sequential& net, const ModelSpec& spec, const std::vector<std::int64_t>& unflat,
                          const Shape& input) {
  const std::int64_t k = spec.kernel_size;
  std::int64_t in = unflat[0];
  for (std::int64_t out : spec.channels) {
    net->push_back(Conv(ConvOptions(in, out, k).stride(2).padding(k / 2)));
    if (spec.batch_norm) net->push_back(Norm(out));
    add_activation(net, spec.activation);
    in = out;
  }
  for (std::size_t i = spec.channels.size(); i-- > 0;) {
    const std::int64_t out = i == 0 ? unflat[0] : spec.channels[i - 1];
    // (L - 1) * 2 - 2 * (k / 2) + k + 1: 2L for an odd kernel.
    net->push_back(Deconv(DeconvOptions(in, out, k).stride(2).padding(k / 2).output_padding(1)));
    if (i > 0) {
      if (spec.batch_norm) net->push_back(Norm(out));
      add_activation(net, spec.activation);
    }
    in = out;
  }
  net->push_back(FitTo(std::vector<std::int64_t>(unflat.begin() + 1, unflat.end()),
                       std::vector<std::int64_t>(input.begin(), input.end())));
}

torch::nn::Sequential build_autoencoder(const ModelSpec& spec, const Shape& input) {
  nn::Sequential net;
  net->push_back(nn::Flatten());
  if (!spec.conv) {
    std::int64_t in = element_count(input);
    const std::int64_t features = in;
    for (std::int64_t width : spec.hidden) {
      net->push_back(nn::Linear(in, width));
      if (spec.batch_norm) net->push_back(nn::BatchNorm1d(width));
      add_activation(net, spec.activation);
      in = width;
    }
    for (std::size_t i = spec.hidden.size() - 1; i-- > 0;) {
      net->push_back(nn::Linear(in, spec.hidden[i]));
      if (spec.batch_norm) net->push_back(nn::BatchNorm1d(spec.hidden[i]));
      add_activation(net, spec.activation);
      in = spec.hidden[i];
    }
    net->push_back(nn::Linear(in, features));
    net->push_back(nn::Unflatten(nn::UnflattenOptions(1, std::vector<std::int64_t>(input.begin(), input.end()))));
    return net;
  }
  std::int64_t dims = 0;
  const std::vector<std::int64_t> unflat = conv_layout(spec, input, dims);
  net->push_back(nn::Unflatten(nn::UnflattenOptions(1, unflat)));
  if (dims == 1) {
    add_conv_autoencoder<nn::Conv1d, nn::Conv1dOptions, nn::ConvTranspose1d, nn::ConvTranspose1dOptions,
                         nn::BatchNorm1d>(net, spec, unflat, input);
  } else {
    add_conv_autoencoder<nn::Conv2d, nn::Conv2dOptions, nn::ConvTranspose2d, nn::ConvTranspose2dOptions,
                         nn::BatchNorm2d>(net, spec, unflat, input);
  }
  return net;
}

}  // namespace

torch::nn::Sequential build_network(const ModelSpec& spec, const Shape& input, std::int64_t classes) {
  if (spec.kind == ModelKind::autoencoder) return build_autoencoder(spec, input);
  if (spec.kind == ModelKind::torchscript) throw std::invalid_argument("a torchscript model is loaded, not built");
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

  std::int64_t dims = 0;
  const std::vector<std::int64_t> unflat = conv_layout(spec, input, dims);
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

torch::nn::Sequential wrap_script(const torch::jit::Module& module) {
  nn::Sequential net;
  net->push_back(Scripted(module));
  return net;
}

std::string describe_network(const torch::nn::Sequential& net, const ModelSpec& spec, const Shape& input,
                             std::int64_t classes) {
  std::int64_t parameters = 0;
  for (const auto& p : net->parameters()) parameters += p.numel();
  std::string layers;
  for (const auto& child : net->children()) layers += (layers.empty() ? "" : " ") + child->name();
  const std::string to =
      spec.reconstructs() ? to_string(input) + " (reconstruction)" : std::to_string(classes) + " classes";
  if (spec.kind == ModelKind::torchscript) {
    return "torchscript " + spec.path + " " + to_string(input) + " -> " + to + ", loss " + spec.loss + ", " +
           std::to_string(parameters) + " parameters";
  }
  return std::string(kind_name(spec.kind)) + (spec.conv ? " (conv)" : "") + " " + to_string(input) + " -> " + to +
         ", " + std::to_string(parameters) + " parameters: " + layers;
}

}  // namespace tributary::models

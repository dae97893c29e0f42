#include "standardize/standardize.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

namespace tributary::features {

namespace {

template <typename T>
void add_values(const T* x, std::uint64_t count, std::vector<double>& mean, std::vector<double>& m2) {
  const double n = static_cast<double>(count);
  for (std::size_t i = 0; i < mean.size(); ++i) {
    const double v = static_cast<double>(x[i]);
    const double delta = v - mean[i];
    mean[i] += delta / n;
    m2[i] += delta * (v - mean[i]);
  }
}

template <typename T>
void standardize_values(const T* x, float* y, const std::vector<double>& shift, const std::vector<double>& scale) {
  for (std::size_t i = 0; i < shift.size(); ++i) {
    y[i] = static_cast<float>((static_cast<double>(x[i]) - shift[i]) * scale[i]);
  }
}

}  // namespace

void RunningMoments::reset(std::size_t features) {
  count_ = 0;
  mean_.assign(features, 0.0);
  m2_.assign(features, 0.0);
}

void RunningMoments::add(const Tensor& values) {
  ++count_;
  if (values.dtype() == DType::f64) {
    add_values(values.data<double>(), count_, mean_, m2_);
  } else {
    add_values(values.data<float>(), count_, mean_, m2_);
  }
}

void Standardize::declare(NodeSpec& spec) {
  spec.summary("per-feature standardisation (x - mean) / sqrt(var + epsilon) with running Welford statistics");
  spec.input(kIn);
  spec.output(kOut);
  spec.keeps_kinds(kIn, kOut);
  spec.concurrency(Concurrency::serial);
  spec.param<std::string>("fit_split", "train",
                          "which packets update the statistics: train (train examples and packets without a "
                          "split) or all; every packet is transformed")
      .choices({"train", "all"});
  spec.param<std::int64_t>("warmup", 0,
                           "packets seen before the first is emitted; they are held, then emitted with the "
                           "statistics of all of them (or at end of stream); at most 1000000")
      .range(0, 1000000);
  spec.param<double>("epsilon", 1e-8, "added to the variance before the square root; must be > 0").min(0.0);
  spec.example(R"([pipeline]
name  = "iris-standardized"
links = [ "iris -> norm", "norm -> train", "train.metrics -> log" ]

[nodes.iris]
plugin  = "table"
path    = "/usr/lib/python3/dist-packages/sklearn/datasets/data/iris.csv"
shuffle = true
epochs  = 30

[nodes.norm]
plugin    = "standardize"
fit_split = "train"
warmup    = 150      # one pass over iris before anything is emitted

[nodes.train]
plugin  = "trainer"
model   = { kind = "linear" }

[nodes.log]
plugin = "csv"
path   = "${RUN_DIR}/metrics.csv"
)");
}

void Standardize::configure(const Params& params) {
  fit_all_ = params.get<std::string>("fit_split") == "all";
  warmup_ = static_cast<std::uint64_t>(params.get<std::int64_t>("warmup"));
  epsilon_ = params.get<double>("epsilon");
  if (!(epsilon_ > 0.0)) {
    throw ParamError("epsilon", "must be greater than 0 (it keeps constant features finite); try 1e-8");
  }
}

void Standardize::check(const Packet& packet) {
  const std::string& node = context().node_name();
  if (packet.tensors.empty()) {
    throw std::runtime_error(node +
                             ": expected a packet with a feature tensor (tensor 0), found a packet with no tensors");
  }
  const Tensor& x = packet.tensors.front();
  if (x.dtype() != DType::f32 && x.dtype() != DType::f64) {
    throw std::runtime_error(node + ": expected tensor 0 of dtype f32 or f64, found " + to_string(x.dtype()) +
                             " of shape " + to_string(x.shape()));
  }
  if (!have_shape_) {
    have_shape_ = true;
    first_shape_ = x.shape();
    moments_.reset(static_cast<std::size_t>(x.numel()));
    return;
  }
  if (static_cast<std::size_t>(x.numel()) != moments_.features()) {
    throw std::runtime_error(node + ": expected " + std::to_string(moments_.features()) +
                             " features per packet (tensor 0 of shape " + to_string(first_shape_) +
                             ", as in the first packet), found shape " + to_string(x.shape()) + " (" +
                             std::to_string(x.numel()) + " features)");
  }
}

bool Standardize::fits(const Packet& packet) const {
  return fit_all_ || packet.split == Split::train || packet.split == Split::none;
}

PacketPtr Standardize::transform(const Packet& packet) const {
  const std::size_t n = moments_.features();
  std::vector<double> shift(n, 0.0);
  std::vector<double> scale(n, 1.0);
  if (moments_.count() > 0) {
    for (std::size_t i = 0; i < n; ++i) {
      shift[i] = moments_.mean(i);
      // A feature with no spread yet (one value, or constant) is centred but not scaled.
      const double var = moments_.variance(i);
      scale[i] = var > 0.0 ? 1.0 / std::sqrt(var + epsilon_) : 1.0;
    }
  }
  const Tensor& x = packet.tensors.front();
  Tensor y = Tensor::empty(DType::f32, x.shape());
  if (x.dtype() == DType::f64) {
    standardize_values(x.data<double>(), y.data<float>(), shift, scale);
  } else {
    standardize_values(x.data<float>(), y.data<float>(), shift, scale);
  }
  // Everything but tensor 0 is shared with the input packet.
  auto result = std::make_shared<Packet>(packet);
  result->tensors.front() = std::move(y);
  return result;
}

void Standardize::emit_held(Emitter& out) {
  while (!held_.empty()) {
    out.emit(kOut, transform(*held_.front()));
    held_.pop_front();
  }
}

void Standardize::process(const InputPort&, const PacketPtr& packet, Emitter& out) {
  check(*packet);
  if (fits(*packet)) moments_.add(packet->tensors.front());
  ++seen_;
  if (seen_ < warmup_) {
    held_.push_back(packet);
    return;
  }
  emit_held(out);
  out.emit(kOut, transform(*packet));
}

void Standardize::flush(Emitter& out) {
  if (!held_.empty()) log().info("end of stream during warmup: emitting the ", held_.size(), " held packets");
  emit_held(out);
}

}  // namespace tributary::features

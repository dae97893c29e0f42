#include "trainer/model_stats.hpp"

#include <ATen/ATen.h>
#include <torch/utils.h>

#include <cctype>
#include <cmath>
#include <limits>
#include <map>

#include "trainer/torch_tensor.hpp"

namespace tributary::models {

namespace {

// "torch::nn::Conv2dImpl" -> "conv2d".
std::string layer_kind(const std::string& module_name) {
  std::string kind = module_name.substr(module_name.rfind(':') == std::string::npos ? 0 : module_name.rfind(':') + 1);
  const std::string impl = "Impl";
  if (kind.size() > impl.size() && kind.compare(kind.size() - impl.size(), impl.size(), impl) == 0) {
    kind.resize(kind.size() - impl.size());
  }
  for (char& c : kind) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return kind;
}

struct Summary {
  double mean = 0.0;
  double std = 0.0;
  double norm = 0.0;
  double abs_mean = 0.0;
  double lo = 0.0;
  double hi = 0.0;
  torch::Tensor counts;  // f64 [bins]
};

// The figures of one tensor's values, with few torch ops (their overhead is most of the cost on a
// small model) and one read of the results.
Summary summarize(const torch::Tensor& values, std::int64_t bins, bool with_abs_mean) {
  const torch::Tensor x = values.detach().to(torch::kCPU, torch::kFloat64).reshape({-1});
  const auto [std, mean] = at::std_mean(x, /*unbiased=*/false);
  const auto [min, max] = at::aminmax(x);
  std::vector<torch::Tensor> parts{mean, std, x.norm(), min, max};
  if (with_abs_mean) parts.push_back(x.abs().mean());
  const torch::Tensor figures = torch::stack(parts).contiguous();
  const double* f = figures.data_ptr<double>();
  Summary s{f[0], f[1], f[2], with_abs_mean ? f[5] : 0.0, f[3], f[4], {}};
  torch::Tensor counted = x;
  if (!std::isfinite(s.lo) || !std::isfinite(s.hi)) {
    // A diverged model: the histogram counts its finite values, over their range.
    counted = x.masked_select(torch::isfinite(x));
    if (counted.numel() == 0) {
      s.lo = s.hi = std::numeric_limits<double>::quiet_NaN();
      s.counts = torch::zeros({bins}, torch::kFloat64);
      return s;
    }
    s.lo = counted.min().item<double>();
    s.hi = counted.max().item<double>();
  }
  // Equal-width bins over [lo, hi], hi in the last; when lo == hi, histc counts every value in the
  // middle bin.
  s.counts = torch::histc(counted, bins, s.lo, s.hi);
  return s;
}

}  // namespace

std::vector<std::string> readable_parameter_names(const torch::nn::Sequential& net) {
  std::map<std::string, std::string> kinds;
  for (const auto& child : net->named_children()) kinds[child.key()] = layer_kind(child.value()->name());
  std::vector<std::string> names;
  for (const auto& p : net->named_parameters()) {
    const std::string& key = p.key();
    const auto dot = key.find('.');
    const auto kind = kinds.find(key.substr(0, dot));
    names.push_back(dot == std::string::npos || kind == kinds.end()
                        ? key
                        : key.substr(0, dot) + "." + kind->second + key.substr(dot));
  }
  return names;
}

std::shared_ptr<Packet> model_stats_packet(const torch::nn::Sequential& net, std::int64_t bins, const std::string& node,
                                           std::int64_t step, std::int64_t epoch) {
  torch::NoGradGuard no_grad;
  auto packet = make_packet(PayloadKind::metrics);
  const double now = wall_time_s();
  const std::vector<std::string> names = readable_parameter_names(net);
  std::vector<Value> histograms;
  std::size_t index = 0;
  for (const auto& p : net->named_parameters()) {
    const std::string& name = names[index++];
    const torch::Tensor& weights = p.value();
    if (!weights.requires_grad() || weights.numel() == 0) continue;
    const torch::Tensor grad = weights.grad().defined() ? weights.grad() : torch::zeros_like(weights);
    const Summary w = summarize(weights, bins, false);
    const Summary g = summarize(grad, bins, true);
    const std::string prefix = "model/" + name + "/";
    for (const auto& [metric_name, value] : {std::pair<const char*, double>{"weight/mean", w.mean},
                                             {"weight/std", w.std},
                                             {"weight/norm", w.norm},
                                             {"grad/mean", g.mean},
                                             {"grad/std", g.std},
                                             {"grad/norm", g.norm},
                                             {"grad/abs_mean", g.abs_mean}}) {
      packet->metrics.push_back(MetricPoint{now, node, prefix + metric_name, step, epoch, value});
    }
    for (const auto& [of, s] : {std::pair<const char*, const Summary*>{"weight", &w}, {"grad", &g}}) {
      histograms.push_back(Value::table({{"parameter", name},
                                         {"of", of},
                                         {"lo", s->lo},
                                         {"hi", s->hi},
                                         {"tensor", static_cast<std::int64_t>(packet->tensors.size())}}));
      packet->tensors.push_back(sdk_tensor(s->counts));
    }
  }
  packet->set_attribute("histograms", std::move(histograms));
  packet->set_attribute("step", step);
  packet->set_attribute("epoch", epoch);
  return packet;
}

}  // namespace tributary::models

#include "normalize/normalize.hpp"

#include <cmath>
#include <fstream>
#include <sstream>
#include <stdexcept>

namespace tributary::features {

namespace {

std::vector<double> read_numbers(const std::string& line) {
  std::string text = line;
  for (char& c : text) {
    if (c == ',') c = ' ';
  }
  std::istringstream in(text);
  std::vector<double> values;
  double v = 0.0;
  while (in >> v) values.push_back(v);
  if (!in.eof()) throw std::invalid_argument("not a number in '" + line + "'");
  return values;
}

}  // namespace

void Normalize::declare(NodeSpec& spec) {
  spec.summary("per-bin mean and variance normalisation (CMVN): running, per utterance, or from a file");
  spec.input(kIn);
  spec.output(kOut);
  spec.keeps_kinds(kIn, kOut);
  // Running statistics depend on arrival order.
  spec.concurrency(Concurrency::serial);
  spec.param<std::string>("mode", "running",
                          "running: statistics of every frame seen so far (from fit_split); utterance: each "
                          "packet's own frames; file: fixed statistics from stats_path")
      .choices({"running", "utterance", "file"});
  spec.param<bool>("variance", true, "divide by the standard deviation too (false: subtract the mean only)");
  spec.param<std::string>("fit_split", "train",
                          "running: which packets update the statistics: train (and packets without a split) or all")
      .choices({"train", "all"});
  spec.param<std::string>("stats_path", "",
                          "file: a text file, the means on the first line and the standard deviations on the "
                          "second, one per bin (spaces or commas)")
      .input_path();
  spec.param<double>("epsilon", 1e-8, "added to the variance before the square root").range(1e-30, 1.0);
  spec.example(R"([pipeline]
name  = "normalize-demo"
links = [ "tone -> mfcc", "mfcc -> cmvn", "cmvn -> export" ]

[nodes.tone]
plugin = "synthetic"
signal = "chirp"
count  = 20

[nodes.mfcc]
plugin = "mfcc"
n_mfcc = 13
n_mels = 40

[nodes.cmvn]
plugin    = "normalize"
mode      = "running"
fit_split = "all"

[nodes.export]
plugin = "jsonl"
path   = "${RUN_DIR}/cmvn.jsonl"
)");
}

void Normalize::configure(const Params& params) {
  const std::string mode = params.get<std::string>("mode");
  mode_ = mode == "utterance" ? Mode::utterance : mode == "file" ? Mode::file : Mode::running;
  variance_ = params.get<bool>("variance");
  fit_all_ = params.get<std::string>("fit_split") == "all";
  epsilon_ = params.get<double>("epsilon");
  const std::string path = params.get<std::string>("stats_path");
  if (mode_ == Mode::file) {
    if (path.empty()) throw ParamError("stats_path", "mode = \"file\" needs stats_path");
    std::ifstream in(path);
    if (!in) throw ParamError("stats_path", "cannot read '" + path + "'");
    std::string mean_line, std_line;
    std::getline(in, mean_line);
    std::getline(in, std_line);
    try {
      file_mean_ = read_numbers(mean_line);
      file_std_ = read_numbers(std_line);
    } catch (const std::invalid_argument& e) {
      throw ParamError("stats_path", path + ": " + e.what());
    }
    if (file_mean_.empty() || file_mean_.size() != file_std_.size()) {
      throw ParamError("stats_path", path +
                                         ": expected two lines of as many numbers (means, then standard "
                                         "deviations), found " +
                                         std::to_string(file_mean_.size()) + " and " +
                                         std::to_string(file_std_.size()));
    }
  } else if (!path.empty()) {
    throw ParamError("stats_path", "stats_path is read only with mode = \"file\"");
  }
}

void Normalize::process(const InputPort&, const PacketPtr& packet, Emitter& out) {
  const std::string& node = context().node_name();
  if (packet->tensors.empty() || packet->tensors.front().dtype() != DType::f32 ||
      (packet->tensors.front().rank() != 1 && packet->tensors.front().rank() != 2)) {
    throw std::runtime_error(
        node + ": expected frames [frames, bins] f32 in tensor 0, found " +
        (packet->tensors.empty() ? std::string("no tensors") : to_string(packet->tensors.front().shape())));
  }
  const Tensor x =
      packet->tensors.front().rank() == 1 ? packet->tensors.front().reshape({1, -1}) : packet->tensors.front();
  const auto frames = x.dim(0);
  const auto bins = static_cast<std::size_t>(x.dim(1));
  std::vector<double> mean(bins, 0.0);
  std::vector<double> scale(bins, 1.0);
  if (mode_ == Mode::file) {
    if (bins != file_mean_.size()) {
      throw std::runtime_error(node + ": the statistics file has " + std::to_string(file_mean_.size()) +
                               " bins, the packet " + std::to_string(bins));
    }
    mean = file_mean_;
    for (std::size_t b = 0; b < bins; ++b) scale[b] = file_std_[b] > 0.0 ? 1.0 / file_std_[b] : 1.0;
  } else {
    RunningMoments utterance;
    RunningMoments& m = mode_ == Mode::utterance ? utterance : moments_;
    if (mode_ == Mode::utterance || !started_) {
      m.reset(bins);
      started_ = true;
    }
    if (m.features() != bins) {
      throw std::runtime_error(node + ": expected " + std::to_string(m.features()) +
                               " bins per frame (as before), found " + std::to_string(bins));
    }
    const bool fits =
        mode_ == Mode::utterance || fit_all_ || packet->split == Split::train || packet->split == Split::none;
    if (fits) {
      for (std::int64_t t = 0; t < frames; ++t) m.add(x.select(t));
    }
    if (m.count() > 0) {
      for (std::size_t b = 0; b < bins; ++b) {
        mean[b] = m.mean(b);
        // A bin with no spread yet is centred but not scaled.
        const double var = m.variance(b);
        scale[b] = var > 0.0 ? 1.0 / std::sqrt(var + epsilon_) : 1.0;
      }
    }
  }
  if (!variance_) scale.assign(bins, 1.0);
  Tensor y = Tensor::empty(DType::f32, packet->tensors.front().shape());
  const float* in = x.data<float>();
  float* o = y.data<float>();
  for (std::int64_t t = 0; t < frames; ++t) {
    for (std::size_t b = 0; b < bins; ++b) {
      const std::size_t i = static_cast<std::size_t>(t) * bins + b;
      o[i] = static_cast<float>((in[i] - mean[b]) * scale[b]);
    }
  }
  auto result = std::make_shared<Packet>(*packet);
  result->tensors.front() = std::move(y);
  out.emit(kOut, std::move(result));
}

}  // namespace tributary::features

#include "spectral/spectral.hpp"

#include <algorithm>
#include <cmath>

#include "dsp/frame_params.hpp"

namespace tributary::features {

namespace {

const std::vector<std::string>& statistic_names() {
  static const std::vector<std::string> names{"centroid", "bandwidth", "rolloff", "flatness", "flux", "zcr", "rms"};
  return names;
}

}  // namespace

void Spectral::declare(NodeSpec& spec) {
  spec.summary("per-frame spectral statistics: centroid, bandwidth, rolloff, flatness, flux, zero-crossing rate, RMS");
  spec.input(kIn);
  spec.output(kOut);
  // Flux compares each frame with the one before, and a stream's frames span chunks.
  spec.concurrency(Concurrency::serial);
  // Whole clips share nothing: fed only clips, the node computes them at the same time, in order.
  spec.concurrency_for(PayloadKind::example, Concurrency::ordered);
  declare_spectrum_params(spec, 1.0);
  spec.param<std::vector<std::string>>("features", statistic_names(),
                                       "the statistics, one column each in this order: centroid, bandwidth, rolloff, "
                                       "flatness, flux, zcr, rms")
      .choices(statistic_names());
  spec.param<double>("roll_percent", 0.85, "rolloff: the frequency below which this share of the energy lies")
      .range(0.01, 0.99);
  spec.param<double>("bandwidth_p", 2.0, "bandwidth: the order p of the spread around the centroid").range(0.1, 10.0);
  spec.example(R"([pipeline]
name  = "spectral-demo"
links = [ "tone -> stats", "stats -> export" ]

[nodes.tone]
plugin = "synthetic"
signal = "chirp"
count  = 20

[nodes.stats]
plugin     = "spectral"
n_fft      = 512
hop_length = 160
features   = ["centroid", "rolloff", "flux", "rms"]

[nodes.export]
plugin = "jsonl"
path   = "${RUN_DIR}/spectral.jsonl"
)");
}

void Spectral::configure(const Params& params) {
  options_ = read_spectrum_options(params);
  check_spectrum_options(options_);
  statistics_.clear();
  for (const auto& name : params.get<std::vector<std::string>>("features")) {
    const auto& names = statistic_names();
    const auto index = static_cast<std::size_t>(std::find(names.begin(), names.end(), name) - names.begin());
    statistics_.push_back(static_cast<Statistic>(index));
  }
  if (statistics_.empty()) throw ParamError("features", "name at least one statistic");
  roll_percent_ = params.get<double>("roll_percent");
  bandwidth_p_ = params.get<double>("bandwidth_p");
  flux_ = std::find(statistics_.begin(), statistics_.end(), Statistic::flux) != statistics_.end();
  prepare_if_known(read_sample_rate(params));
}

AudioFeatureNode::Layout Spectral::prepare(double sample_rate) {
  const Spectrum spectrum(options_);
  const std::size_t bins = spectrum.bins();
  bins_ = bins;
  // Bin frequencies as torchaudio.functional.spectral_centroid spaces them.
  const double top = std::floor(sample_rate / 2.0);
  freqs_.assign(bins, 0.0);
  for (std::size_t k = 0; k < bins; ++k) {
    freqs_[k] = bins > 1 ? top * static_cast<double>(k) / static_cast<double>(bins - 1) : 0.0;
  }
  return layout_of(spectrum, statistics_.size() + (flux_ ? bins : 0));
}

void Spectral::compute(FrameScratch& scratch, float* out) const {
  const std::size_t n = scratch.frame.size();
  const float* samples = scratch.samples.data();
  std::copy_n(scratch.frame.data(), n, scratch.samples.data());  // the samples as cut, for zcr and rms
  const std::size_t bins = bins_;
  float* spectrum = scratch.bins.data();
  scratch.spectrum.compute(scratch.frame.data(), spectrum);

  double total = 0.0;
  double weighted = 0.0;
  for (std::size_t k = 0; k < bins; ++k) {
    total += spectrum[k];
    weighted += freqs_[k] * spectrum[k];
  }
  const double centroid = total > 0.0 ? weighted / total : 0.0;
  for (std::size_t i = 0; i < statistics_.size(); ++i) {
    double v = 0.0;
    switch (statistics_[i]) {
      case Statistic::centroid:
        v = centroid;
        break;
      case Statistic::bandwidth: {
        double spread = 0.0;
        for (std::size_t k = 0; k < bins; ++k)
          spread += spectrum[k] * std::pow(std::abs(freqs_[k] - centroid), bandwidth_p_);
        v = total > 0.0 ? std::pow(spread / total, 1.0 / bandwidth_p_) : 0.0;
        break;
      }
      case Statistic::rolloff: {
        // The lowest bin frequency at which the cumulative energy reaches roll_percent of it all.
        const double threshold = roll_percent_ * total;
        double cumulative = 0.0;
        for (std::size_t k = 0; k < bins; ++k) {
          cumulative += spectrum[k];
          if (cumulative >= threshold) {
            v = freqs_[k];
            break;
          }
        }
        break;
      }
      case Statistic::flatness: {
        // librosa's: geometric over arithmetic mean of the power spectrum, floored at 1e-10.
        double log_sum = 0.0;
        double sum = 0.0;
        for (std::size_t k = 0; k < bins; ++k) {
          const double power = std::max(1e-10, static_cast<double>(spectrum[k]) * spectrum[k]);
          log_sum += std::log(power);
          sum += power;
        }
        v = std::exp(log_sum / static_cast<double>(bins)) / (sum / static_cast<double>(bins));
        break;
      }
      case Statistic::flux:
        break;  // finish_block, from this frame's spectrum and the one before
      case Statistic::zcr: {
        // Sign changes between neighbouring samples (0 counts as positive), per sample.
        std::size_t crossings = 0;
        for (std::size_t j = 1; j < n; ++j) crossings += std::signbit(samples[j]) != std::signbit(samples[j - 1]);
        v = static_cast<double>(crossings) / static_cast<double>(n);
        break;
      }
      case Statistic::rms: {
        double energy = 0.0;
        for (std::size_t j = 0; j < n; ++j) energy += static_cast<double>(samples[j]) * samples[j];
        v = std::sqrt(energy / static_cast<double>(n));
        break;
      }
    }
    out[i] = static_cast<float>(v);
  }
  if (flux_) std::copy_n(spectrum, bins, out + statistics_.size());
}

void Spectral::finish_block(FrameBlock& block, BlockState& state, bool) const {
  if (!flux_) return;
  const std::size_t bins = bins_;
  const std::size_t columns = statistics_.size();
  const std::size_t flux_column = static_cast<std::size_t>(
      std::find(statistics_.begin(), statistics_.end(), Statistic::flux) - statistics_.begin());
  if (state.held.size() < block.channels) state.held.resize(block.channels);
  std::vector<float> compact(block.channels * block.frames * columns);
  for (std::size_t c = 0; c < block.channels; ++c) {
    std::vector<float>& previous = state.held[c];
    for (std::size_t t = 0; t < block.frames; ++t) {
      const float* row = block.row(c, t);
      const float* spectrum = row + columns;
      // Positive flux: how much the spectrum rose since the frame before (0 for the first).
      double flux = 0.0;
      if (!previous.empty()) {
        for (std::size_t k = 0; k < bins; ++k) flux += std::max(0.0f, spectrum[k] - previous[k]);
      }
      previous.assign(spectrum, spectrum + bins);
      float* out = compact.data() + (c * block.frames + t) * columns;
      std::copy_n(row, columns, out);
      out[flux_column] = static_cast<float>(flux);
    }
  }
  block.values = std::move(compact);
  block.width = columns;
}

}  // namespace tributary::features

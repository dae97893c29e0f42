#include "denoise/spectral_gate.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

#include "dsp/window.hpp"

namespace tributary::features {

std::vector<double> triangle(std::size_t n) {
  std::vector<double> k(2 * n + 1);
  const double steps = static_cast<double>(n + 1);
  for (std::size_t i = 0; i <= n; ++i) {
    k[i] = static_cast<double>(i + 1) / steps;
    k[2 * n - i] = k[i];
  }
  return k;
}

SpectralGate::SpectralGate(const SpectralGateOptions& options)
    : o_(options),
      bins_(options.n_fft / 2 + 1),
      cutter_(options.n_fft, options.hop_length, options.n_fft / 2, PadMode::reflect),
      fft_(options.n_fft) {
  const auto w = make_window(WindowKind::hann, o_.n_fft, true);
  window_.assign(w.begin(), w.end());
  frame_.assign(o_.n_fft, 0.0f);
  time_frame_.assign(o_.n_fft, 0.0f);
  masked_bins_.resize(bins_);
  kernel_time_ = triangle(o_.smooth_frames);
  kernel_freq_ = triangle(o_.smooth_bins);
  double sum_t = 0.0;
  double sum_f = 0.0;
  for (double v : kernel_time_) sum_t += v;
  for (double v : kernel_freq_) sum_f += v;
  for (double& v : kernel_time_) v /= sum_t;
  for (double& v : kernel_freq_) v /= sum_f;
  average_.assign(bins_, 0.0);
  emitted_ = o_.n_fft / 2;
  ola_first_ = 0;
}

void SpectralGate::push(const float* samples, std::size_t count, std::size_t stride, std::vector<float>& out) {
  samples_in_ += count;
  cutter_.push(samples, count, stride);
  analyse_ready_frames();
  release(false);
  emit(released_ * o_.hop_length, out);
}

void SpectralGate::finish(std::vector<float>& out) {
  cutter_.finish();
  analyse_ready_frames();
  if (o_.stationary && !profiled_) compute_profile();
  while (masked_ < analysed_) raw_mask(masked_);
  release(true);
  emit(o_.n_fft / 2 + static_cast<std::size_t>(samples_in_), out);
}

namespace {

// Each bin's mean plus n_std (population) standard deviations over the first `frames` levels.
template <typename Levels>
std::vector<double> thresholds(const Levels& levels, std::size_t frames, std::size_t bins, double n_std) {
  std::vector<double> threshold(bins, 0.0);
  if (frames == 0) return threshold;
  for (std::size_t k = 0; k < bins; ++k) {
    double sum = 0.0;
    for (std::size_t t = 0; t < frames; ++t) sum += levels[t][k];
    const double mean = sum / static_cast<double>(frames);
    double squares = 0.0;
    for (std::size_t t = 0; t < frames; ++t) squares += (levels[t][k] - mean) * (levels[t][k] - mean);
    threshold[k] = mean + n_std * std::sqrt(squares / static_cast<double>(frames));
  }
  return threshold;
}

}  // namespace

std::vector<float> SpectralGate::level_of(const float* frame) {
  float* in = fft_.input();
  for (std::size_t i = 0; i < o_.n_fft; ++i) in[i] = frame[i] * window_[i];
  fft_.forward();
  const std::complex<float>* x = fft_.output();
  std::vector<float> level(bins_);
  for (std::size_t k = 0; k < bins_; ++k) {
    const float magnitude = std::abs(x[k]);
    level[k] = o_.stationary ? 20.0f * std::log10(std::max(magnitude, 1e-10f)) : magnitude;
  }
  return level;
}

void SpectralGate::set_noise(const float* noise, std::size_t count) {
  FrameCutter cutter(o_.n_fft, o_.hop_length, o_.n_fft / 2, PadMode::reflect);
  cutter.push(noise, count);
  cutter.finish();
  std::vector<std::vector<float>> levels;
  while (cutter.next(frame_.data())) levels.push_back(level_of(frame_.data()));
  threshold_ = thresholds(levels, levels.size(), bins_, o_.n_std_thresh);
  profiled_ = true;
}

void SpectralGate::analyse_ready_frames() {
  while (cutter_.next(frame_.data())) {
    levels_.push_back(level_of(frame_.data()));
    const std::complex<float>* x = fft_.output();
    spectra_.emplace_back(x, x + bins_);
    ++analysed_;
    if (o_.stationary && !profiled_ && o_.profile_frames > 0 && analysed_ >= o_.profile_frames) compute_profile();
    if (!o_.stationary || profiled_) {
      while (masked_ < analysed_) raw_mask(masked_);
    }
  }
}

void SpectralGate::compute_profile() {
  const std::size_t frames = std::min(o_.profile_frames > 0 ? o_.profile_frames : analysed_, analysed_);
  threshold_ = thresholds(levels_, frames, bins_, o_.n_std_thresh);
  profiled_ = true;
}

void SpectralGate::raw_mask(std::size_t index) {
  const std::vector<float>& level = levels_[index - first_];
  std::vector<double> pass(bins_);
  if (o_.stationary) {
    for (std::size_t k = 0; k < bins_; ++k) pass[k] = level[k] > threshold_[k] ? 1.0 : 0.0;
  } else {
    const double t = o_.time_constant_frames;
    const double b = (std::sqrt(1.0 + 4.0 * t * t) - 1.0) / (2.0 * t * t);
    for (std::size_t k = 0; k < bins_; ++k) {
      average_[k] = b * level[k] + (1.0 - b) * average_[k];
      const double rise = (level[k] - average_[k]) / std::max(average_[k], 1e-10);
      pass[k] = 1.0 / (1.0 + std::exp(-o_.sigmoid_slope * (rise - o_.n_std_thresh)));
    }
  }
  // Mix with prop_decrease, then smooth over frequency now and over time on release.
  const double keep = 1.0 - o_.prop_decrease;
  for (double& v : pass) v = v * o_.prop_decrease + keep;
  std::vector<float> smoothed(bins_);
  const auto half = static_cast<std::ptrdiff_t>(o_.smooth_bins);
  for (std::size_t k = 0; k < bins_; ++k) {
    double sum = 0.0;
    for (std::ptrdiff_t d = -half; d <= half; ++d) {
      const std::ptrdiff_t j = static_cast<std::ptrdiff_t>(k) + d;
      if (j < 0 || j >= static_cast<std::ptrdiff_t>(bins_)) continue;
      sum += kernel_freq_[static_cast<std::size_t>(d + half)] * pass[static_cast<std::size_t>(j)];
    }
    smoothed[k] = static_cast<float>(sum);
  }
  masks_.push_back(std::move(smoothed));
  ++masked_;
}

void SpectralGate::release(bool end) {
  const std::size_t look_ahead = o_.smooth_frames;
  while (released_ < masked_ && (end || released_ + look_ahead < masked_)) {
    synthesise(released_);
    ++released_;
  }
  // Drop what neither smoothing nor the profile will read again.
  while (profiled_ || !o_.stationary) {
    if (first_ + look_ahead >= released_ || spectra_.empty()) break;
    spectra_.pop_front();
    levels_.pop_front();
    masks_.pop_front();
    ++first_;
  }
}

void SpectralGate::synthesise(std::size_t index) {
  const auto half = static_cast<std::ptrdiff_t>(o_.smooth_frames);
  const std::vector<std::complex<float>>& x = spectra_[index - first_];
  for (std::size_t k = 0; k < bins_; ++k) {
    double m = 0.0;
    for (std::ptrdiff_t d = -half; d <= half; ++d) {
      const std::ptrdiff_t t = static_cast<std::ptrdiff_t>(index) + d;
      // Beyond the signal's edges (and frames not cut) the mask is 0, as in a "same" convolution.
      if (t < static_cast<std::ptrdiff_t>(first_) || t >= static_cast<std::ptrdiff_t>(masked_)) continue;
      m += kernel_time_[static_cast<std::size_t>(d + half)] * masks_[static_cast<std::size_t>(t) - first_][k];
    }
    masked_bins_[k] = x[k] * static_cast<float>(m);
  }
  fft_.inverse(masked_bins_.data(), time_frame_.data());
  const std::size_t start = index * o_.hop_length;
  const std::size_t need = start + o_.n_fft - ola_first_;
  if (ola_.size() < need) {
    ola_.resize(need, 0.0);
    weight_.resize(need, 0.0);
  }
  const double scale = 1.0 / static_cast<double>(o_.n_fft);
  for (std::size_t i = 0; i < o_.n_fft; ++i) {
    ola_[start - ola_first_ + i] += time_frame_[i] * scale * window_[i];
    weight_[start - ola_first_ + i] += static_cast<double>(window_[i]) * window_[i];
  }
}

void SpectralGate::emit(std::size_t upto, std::vector<float>& out) {
  for (; emitted_ < upto; ++emitted_) {
    const std::size_t i = emitted_ - ola_first_;
    const double w = i < weight_.size() ? weight_[i] : 0.0;
    out.push_back(w > 1e-11 ? static_cast<float>(ola_[i] / w) : 0.0f);
  }
  if (emitted_ - ola_first_ > 65536) {
    const std::size_t drop = emitted_ - ola_first_;
    ola_.erase(ola_.begin(), ola_.begin() + static_cast<std::ptrdiff_t>(drop));
    weight_.erase(weight_.begin(), weight_.begin() + static_cast<std::ptrdiff_t>(drop));
    ola_first_ += drop;
  }
}

}  // namespace tributary::features

#include "dsp/spectrum.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace tributary::features {

Spectrum::Spectrum(const SpectrumOptions& options) : options_(options), fft_(options.n_fft) {
  // torch.stft centres a shorter window inside the n_fft frame; Kaldi puts it first and pads.
  window_offset_ = options_.kaldi ? 0 : (options_.n_fft - options_.win_length) / 2;
  const auto w = make_window(options_.window, options_.win_length, !options_.kaldi);
  window_.assign(w.begin(), w.end());
  if (options_.normalized) {
    double energy = 0.0;
    for (double v : w) energy += v * v;
    scale_ = static_cast<float>(1.0 / std::sqrt(energy));
  }
}

double Spectrum::compute(float* frame, float* out) {
  double log_energy = 0.0;
  const std::size_t w = options_.win_length;
  if (options_.kaldi) {
    if (options_.remove_dc_offset) {
      double sum = 0.0;
      for (std::size_t i = 0; i < w; ++i) sum += frame[i];
      const auto mean = static_cast<float>(sum / static_cast<double>(w));
      for (std::size_t i = 0; i < w; ++i) frame[i] -= mean;
    }
    double energy = 0.0;
    for (std::size_t i = 0; i < w; ++i) energy += static_cast<double>(frame[i]) * frame[i];
    log_energy = std::log(std::max(energy, static_cast<double>(std::numeric_limits<float>::epsilon())));
    if (options_.energy_floor > 0.0) log_energy = std::max(log_energy, std::log(options_.energy_floor));
    if (options_.preemphasis != 0.0) {
      const auto c = static_cast<float>(options_.preemphasis);
      for (std::size_t i = w - 1; i > 0; --i) frame[i] -= c * frame[i - 1];
      frame[0] -= c * frame[0];
    }
  }
  // Only the window's span is written; the rest of the FFT's input stays 0.
  const float* src = options_.kaldi ? frame : frame + window_offset_;
  float* dst = fft_.input() + window_offset_;
  const float* window = window_.data();
  for (std::size_t i = 0; i < w; ++i) dst[i] = src[i] * window[i];
  fft_.forward();
  const std::complex<float>* x = fft_.output();

  const std::size_t n = bins();
  const double p = options_.power;
  const float s = scale_;
  if (p == 2.0) {
    const float s2 = s * s;
    for (std::size_t k = 0; k < n; ++k) out[k] = (x[k].real() * x[k].real() + x[k].imag() * x[k].imag()) * s2;
  } else if (p == 1.0) {
    for (std::size_t k = 0; k < n; ++k) out[k] = std::abs(x[k]) * s;
  } else {
    for (std::size_t k = 0; k < n; ++k) out[k] = static_cast<float>(std::pow(std::abs(x[k]) * s, p));
  }
  return log_energy;
}

}  // namespace tributary::features

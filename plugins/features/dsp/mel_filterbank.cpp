#include "dsp/mel_filterbank.hpp"

#include <algorithm>
#include <cmath>

namespace tributary::features {

namespace {
// Slaney's scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
constexpr double kSlaneyHzPerMel = 200.0 / 3.0;
constexpr double kSlaneyBreakHz = 1000.0;
constexpr double kSlaneyBreakMel = kSlaneyBreakHz / kSlaneyHzPerMel;
double slaney_log_step() { return std::log(6.4) / 27.0; }

double kaldi_mel(double hz) { return 1127.0 * std::log(1.0 + hz / 700.0); }
}  // namespace

double hz_to_mel(double hz, MelScale scale) {
  if (scale == MelScale::htk) return 2595.0 * std::log10(1.0 + hz / 700.0);
  if (hz >= kSlaneyBreakHz) return kSlaneyBreakMel + std::log(hz / kSlaneyBreakHz) / slaney_log_step();
  return hz / kSlaneyHzPerMel;
}

double mel_to_hz(double mel, MelScale scale) {
  if (scale == MelScale::htk) return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
  if (mel >= kSlaneyBreakMel) return kSlaneyBreakHz * std::exp(slaney_log_step() * (mel - kSlaneyBreakMel));
  return mel * kSlaneyHzPerMel;
}

MelFilterbank MelFilterbank::torchaudio(std::size_t n_freqs, double sample_rate, double f_min, double f_max,
                                        std::size_t n_mels, MelScale scale, MelNorm norm) {
  MelFilterbank fb;
  fb.bins_ = n_freqs;
  // torchaudio spaces the bins up to the integer half of the sample rate.
  const double top = std::floor(sample_rate / 2.0);
  std::vector<double> freqs(n_freqs, 0.0);
  for (std::size_t k = 0; k < n_freqs; ++k) {
    freqs[k] = n_freqs > 1 ? top * static_cast<double>(k) / static_cast<double>(n_freqs - 1) : 0.0;
  }
  const double m_min = hz_to_mel(f_min, scale);
  const double m_max = hz_to_mel(f_max, scale);
  std::vector<double> points(n_mels + 2);
  for (std::size_t i = 0; i < points.size(); ++i) {
    points[i] = mel_to_hz(m_min + (m_max - m_min) * static_cast<double>(i) / static_cast<double>(n_mels + 1), scale);
  }
  std::vector<double> dense(n_freqs);
  for (std::size_t m = 0; m < n_mels; ++m) {
    const double lower = points[m];
    const double centre = points[m + 1];
    const double upper = points[m + 2];
    const double gain = norm == MelNorm::slaney ? 2.0 / (upper - lower) : 1.0;
    for (std::size_t k = 0; k < n_freqs; ++k) {
      const double up = (freqs[k] - lower) / (centre - lower);
      const double down = (upper - freqs[k]) / (upper - centre);
      dense[k] = std::max(0.0, std::min(up, down)) * gain;
    }
    fb.add_filter(dense);
  }
  return fb;
}

MelFilterbank MelFilterbank::kaldi(std::size_t n_mels, std::size_t n_fft, double sample_rate, double low_freq,
                                   double high_freq) {
  MelFilterbank fb;
  fb.bins_ = n_fft / 2 + 1;
  const double bin_hz = sample_rate / static_cast<double>(n_fft);
  const double mel_low = kaldi_mel(low_freq);
  const double mel_high = kaldi_mel(high_freq);
  const double delta = (mel_high - mel_low) / static_cast<double>(n_mels + 1);
  std::vector<double> dense(fb.bins_, 0.0);
  for (std::size_t m = 0; m < n_mels; ++m) {
    const double left = mel_low + static_cast<double>(m) * delta;
    const double centre = left + delta;
    const double right = centre + delta;
    for (std::size_t k = 0; k + 1 < fb.bins_; ++k) {
      const double mel = kaldi_mel(bin_hz * static_cast<double>(k));
      const double up = (mel - left) / (centre - left);
      const double down = (right - mel) / (right - centre);
      dense[k] = std::max(0.0, std::min(up, down));
    }
    fb.add_filter(dense);
  }
  return fb;
}

void MelFilterbank::add_filter(const std::vector<double>& dense) {
  std::size_t first = 0;
  while (first < dense.size() && dense[first] == 0.0) ++first;
  std::size_t last = dense.size();
  while (last > first && dense[last - 1] == 0.0) --last;
  first_.push_back(first);
  offset_.push_back(weights_.size());
  width_.push_back(last - first);
  for (std::size_t k = first; k < last; ++k) weights_.push_back(static_cast<float>(dense[k]));
}

std::vector<std::size_t> MelFilterbank::empty_filters() const {
  std::vector<std::size_t> empty;
  for (std::size_t m = 0; m < filters(); ++m) {
    if (width_[m] == 0) empty.push_back(m);
  }
  return empty;
}

void MelFilterbank::apply(const float* spectrum, float* out) const {
  for (std::size_t m = 0; m < first_.size(); ++m) {
    const float* w = weights_.data() + offset_[m];
    const float* s = spectrum + first_[m];
    // Four partial sums, so the compiler can keep them in one vector register.
    const std::size_t width = width_[m];
    float sums[4] = {0.0f, 0.0f, 0.0f, 0.0f};
    std::size_t k = 0;
    for (; k + 4 <= width; k += 4) {
      for (std::size_t j = 0; j < 4; ++j) sums[j] += w[k + j] * s[k + j];
    }
    for (; k < width; ++k) sums[0] += w[k] * s[k];
    out[m] = (sums[0] + sums[1]) + (sums[2] + sums[3]);
  }
}

double MelFilterbank::weight(std::size_t m, std::size_t k) const {
  if (k < first_[m] || k >= first_[m] + width_[m]) return 0.0;
  return weights_[offset_[m] + (k - first_[m])];
}

}  // namespace tributary::features

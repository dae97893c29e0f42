#pragma once
// MelFilterbank: triangular mel filters over the bins of a one-sided spectrum, kept sparse (each
// filter is its first bin and its non-zero weights), so applying one costs its width.
#include <cstddef>
#include <string>
#include <vector>

namespace tributary::features {

enum class MelScale { htk, slaney };
enum class MelNorm { none, slaney };

double hz_to_mel(double hz, MelScale scale);
double mel_to_hz(double mel, MelScale scale);

class MelFilterbank {
 public:
  MelFilterbank() = default;

  // torchaudio.functional.melscale_fbanks: triangles in Hz between mel-spaced points over
  // linspace(0, sample_rate // 2, n_freqs).
  static MelFilterbank torchaudio(std::size_t n_freqs, double sample_rate, double f_min, double f_max,
                                  std::size_t n_mels, MelScale scale, MelNorm norm);
  // Kaldi's (torchaudio.compliance.kaldi.get_mel_banks): triangles in the mel domain
  // (1127 ln(1 + f/700)) over the bins of an n_fft-point spectrum, the Nyquist bin left out.
  static MelFilterbank kaldi(std::size_t n_mels, std::size_t n_fft, double sample_rate, double low_freq,
                             double high_freq);

  std::size_t filters() const noexcept { return first_.size(); }
  std::size_t bins() const noexcept { return bins_; }
  // Indices of the filters that have no weight on any bin (n_mels too high for n_fft).
  std::vector<std::size_t> empty_filters() const;
  // out[m] = sum_k weight[m][k] * spectrum[k]; spectrum has bins() values, out filters().
  void apply(const float* spectrum, float* out) const;
  // Dense weight of filter m on bin k, for tests.
  double weight(std::size_t m, std::size_t k) const;

 private:
  void add_filter(const std::vector<double>& dense);

  std::size_t bins_ = 0;
  std::vector<std::size_t> first_;
  std::vector<std::size_t> offset_;  // start of filter m's weights in weights_
  std::vector<std::size_t> width_;
  std::vector<float> weights_;
};

}  // namespace tributary::features

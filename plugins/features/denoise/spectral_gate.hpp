#pragma once
// SpectralGate: spectral-gating noise reduction of one channel, the algorithm of the noisereduce
// package. The signal's STFT (torch.stft: hann, centred, reflect padding) is masked bin by bin
// and turned back into audio by overlap-add (torch.istft):
//  - stationary: a bin passes when its level, 20 log10(max(|X|, 1e-10)), is above the noise
//    profile's mean + n_std_thresh standard deviations for that frequency; the profile is the
//    first `profile_frames` frames (0: every frame of the signal, for a whole clip);
//  - non-stationary: a bin passes by a sigmoid of how far |X| rises above a running (causal,
//    one-pole) average of itself over time_constant_s: 1 / (1 + exp(-slope (r - n_std_thresh))),
//    r = (|X| - avg) / avg;
// then mask = pass * prop_decrease + (1 - prop_decrease), smoothed over frequency and time by
// noisereduce's triangular kernel (zeros beyond the signal's edges). Pushed in chunks, the signal
// gives the same output as pushed at once; output lags by the smoothing's look-ahead plus a frame.
#include <complex>
#include <cstddef>
#include <deque>
#include <vector>

#include "dsp/frame_cutter.hpp"
#include "dsp/real_fft.hpp"

namespace tributary::features {

struct SpectralGateOptions {
  std::size_t n_fft = 1024;
  std::size_t hop_length = 256;
  bool stationary = true;
  std::size_t profile_frames = 0;  // stationary: 0 = the whole signal
  double n_std_thresh = 1.5;
  double prop_decrease = 1.0;
  std::size_t smooth_bins = 1;        // half-width of the kernel over frequency, in bins
  std::size_t smooth_frames = 1;      // half-width over time, in frames
  double time_constant_frames = 0.0;  // non-stationary: the running average's time constant
  double sigmoid_slope = 10.0;
};

// noisereduce's smoothing kernel: a triangle of half-width n, without its zero ends, normalised
// together with the other axis's. Length 2n + 1.
std::vector<double> triangle(std::size_t n);

class SpectralGate {
 public:
  explicit SpectralGate(const SpectralGateOptions& options);

  // Appends to `out` the samples that are final.
  void push(const float* samples, std::size_t count, std::size_t stride, std::vector<float>& out);
  // Ends the signal and appends the rest. Throws std::invalid_argument when the signal is too
  // short for reflect padding.
  void finish(std::vector<float>& out);

  // Stationary: takes the noise profile from a separate recording of the noise (noisereduce's
  // y_noise) instead of the signal's first frames. Call before the first push().
  void set_noise(const float* noise, std::size_t count);

  std::uint64_t samples_in() const noexcept { return samples_in_; }

 private:
  void analyse_ready_frames();
  void compute_profile();
  std::vector<float> level_of(const float* frame);
  void raw_mask(std::size_t index);
  void release(bool end);
  void synthesise(std::size_t index);
  void emit(std::size_t upto, std::vector<float>& out);

  SpectralGateOptions o_;
  std::size_t bins_;
  FrameCutter cutter_;
  RealFft fft_;
  std::vector<float> window_;
  std::vector<float> frame_;
  std::vector<double> kernel_time_;
  std::vector<double> kernel_freq_;

  // Frames by stream index, from first_ on: spectra, levels, and their unsmoothed masks.
  std::deque<std::vector<std::complex<float>>> spectra_;
  std::deque<std::vector<float>> levels_;  // dB (stationary) or |X| (non-stationary)
  std::deque<std::vector<float>> masks_;
  std::size_t first_ = 0;     // stream index of spectra_[0]
  std::size_t analysed_ = 0;  // frames cut
  std::size_t masked_ = 0;    // frames with a raw mask
  std::size_t released_ = 0;  // frames synthesised
  bool profiled_ = false;
  std::vector<double> threshold_;  // stationary: per-bin dB threshold
  std::vector<double> average_;    // non-stationary: running |X| per bin
  std::vector<std::vector<float>> profile_levels_;

  // Overlap-add in padded coordinates, from ola_first_ on.
  std::vector<double> ola_;
  std::vector<double> weight_;
  std::size_t ola_first_ = 0;
  std::size_t emitted_ = 0;  // padded position of the next sample to emit
  std::uint64_t samples_in_ = 0;
  std::vector<std::complex<float>> masked_bins_;
  std::vector<float> time_frame_;
};

}  // namespace tributary::features

#pragma once
// Spectrum: from one frame to its one-sided power or magnitude spectrum, the way torch.stft +
// torchaudio.functional.spectrogram do it, or the way Kaldi does (DC removal, log energy,
// pre-emphasis, window, zero padding to the FFT size).
#include <complex>
#include <cstddef>
#include <vector>

#include "dsp/frame_cutter.hpp"
#include "dsp/real_fft.hpp"
#include "dsp/window.hpp"

namespace tributary::features {

struct SpectrumOptions {
  std::size_t n_fft = 400;
  std::size_t win_length = 400;
  std::size_t hop_length = 200;
  WindowKind window = WindowKind::hann;
  bool center = true;
  PadMode pad_mode = PadMode::reflect;
  double power = 2.0;       // 2: power, 1: magnitude, other: |X|^power
  bool normalized = false;  // divide by the window's L2 norm, as torchaudio's normalized=True
  // Kaldi's frame processing (torchaudio.compliance.kaldi): frames of win_length samples with no
  // centre padding, zero-padded to n_fft after the window.
  bool kaldi = false;
  bool remove_dc_offset = true;
  double preemphasis = 0.97;
  double energy_floor = 1.0;  // Kaldi's log energy is at least log(energy_floor); 0: no floor
};

class Spectrum {
 public:
  explicit Spectrum(const SpectrumOptions& options);

  const SpectrumOptions& options() const noexcept { return options_; }
  std::size_t bins() const noexcept { return options_.n_fft / 2 + 1; }
  // The frames a FrameCutter must cut for this spectrum: their length and edge padding.
  std::size_t pad() const noexcept { return !options_.kaldi && options_.center ? options_.n_fft / 2 : 0; }
  std::size_t frame_length() const noexcept { return options_.kaldi ? options_.win_length : options_.n_fft; }

  // `frame` holds frame_length() samples and may be overwritten; writes bins() values. Kaldi
  // mode returns the frame's log energy (before pre-emphasis and window), otherwise 0.
  double compute(float* frame, float* out);

 private:
  SpectrumOptions options_;
  std::size_t window_offset_ = 0;  // where the win_length window sits inside n_fft
  std::vector<float> window_;
  float scale_ = 1.0f;
  RealFft fft_;
};

}  // namespace tributary::features

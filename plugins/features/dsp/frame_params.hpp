#pragma once
// The parameters stft, mel and mfcc share, with torchaudio's names, and how they are read.
#include <cstdint>
#include <string>

#include "dsp/mel_filterbank.hpp"
#include "dsp/spectrum.hpp"
#include "tributary/node.hpp"

namespace tributary::features {

// n_fft, win_length, hop_length, window, center, pad_mode, power, normalized, sample_rate.
void declare_spectrum_params(NodeSpec& spec, double default_power = 2.0);
// n_mels, f_min, f_max, mel_scale, norm.
void declare_mel_params(NodeSpec& spec);

// Reads what declare_spectrum_params declared; torchaudio's defaults for what was left out
// (win_length = n_fft, hop_length = win_length / 2). Throws ParamError for a window longer
// than n_fft.
SpectrumOptions read_spectrum_options(const Params& params);
void check_spectrum_options(const SpectrumOptions& options);

struct MelOptions {
  std::size_t n_mels = 128;
  double f_min = 0.0;
  double f_max = 0.0;  // 0: sample_rate / 2
  MelScale scale = MelScale::htk;
  MelNorm norm = MelNorm::none;
};
MelOptions read_mel_options(const Params& params);

// Builds torchaudio's filterbank for a sample rate, with ParamErrors for f_max above Nyquist,
// f_min not below f_max, and more filters than FFT bins. Some filters may still be empty (as with
// torchaudio's own defaults, n_fft 400 and 128 mels at 16 kHz): MelFilterbank::empty_filters.
MelFilterbank make_mel_filterbank(const MelOptions& mel, std::size_t n_fft, double sample_rate);
// The same checks and Kaldi's filterbank (triangles in the mel domain, Nyquist bin unused).
MelFilterbank make_kaldi_filterbank(const MelOptions& mel, std::size_t n_fft, double sample_rate);

// Logs, as torchaudio warns, when some filters have no FFT bin (they stay 0).
void warn_empty_filters(Logger& log, const MelFilterbank& filterbank);

// The sample rate given in the file, or 0 when it comes from the packets.
double read_sample_rate(const Params& params);

}  // namespace tributary::features

#include "dsp/frame_params.hpp"

#include <cmath>
#include <string>

namespace tributary::features {

void declare_spectrum_params(NodeSpec& spec, double default_power) {
  spec.param<std::int64_t>("n_fft", 400, "FFT size in samples; the spectrum has n_fft / 2 + 1 bins").range(2, 65536);
  spec.param<std::int64_t>("win_length", 400, "window length in samples, at most n_fft (left out: n_fft)")
      .range(1, 65536);
  spec.param<std::int64_t>("hop_length", 200, "samples between frames (left out: win_length / 2)").range(1, 65536);
  spec.param<std::string>("window", "hann",
                          "analysis window: hann, hamming (periodic, as torch.*_window), povey (Kaldi's), "
                          "rectangular")
      .choices({"hann", "hamming", "povey", "rectangular"});
  spec.param<bool>("center", true, "pad n_fft / 2 samples on both sides so frame t is centred on sample t * hop");
  spec.param<std::string>("pad_mode", "reflect", "edge padding when center is true: reflect or constant (zeros)")
      .choices({"reflect", "constant"});
  spec.param<double>("power", default_power, "exponent of the magnitude: 2 for power, 1 for magnitude")
      .range(0.01, 16.0);
  spec.param<bool>("normalized", false, "divide the spectrum by the window's L2 norm (torchaudio's normalized)");
  spec.param<std::int64_t>("sample_rate", 0,
                           "expected sample rate in Hz, checked against every packet's sample_rate attribute; "
                           "0 takes it from the packets (frequency limits are then checked at the first packet)")
      .range(0, 1000000);
}

void declare_mel_params(NodeSpec& spec) {
  spec.param<std::int64_t>("n_mels", 128, "mel filters").range(1, 4096);
  spec.param<double>("f_min", 0.0, "lowest filter edge in Hz").min(0.0);
  spec.param<double>("f_max", 0.0, "highest filter edge in Hz, at most sample_rate / 2; 0 = sample_rate / 2").min(0.0);
  spec.param<std::string>("mel_scale", "htk", "mel scale: htk (2595 log10(1 + f/700)) or slaney (linear below 1 kHz)")
      .choices({"htk", "slaney"});
  spec.param<std::string>("norm", "none", "filter normalisation: none, or slaney (each filter divided by its width)")
      .choices({"none", "slaney"});
}

SpectrumOptions read_spectrum_options(const Params& params) {
  SpectrumOptions o;
  o.n_fft = static_cast<std::size_t>(params.get<std::int64_t>("n_fft"));
  o.win_length =
      params.was_given("win_length") ? static_cast<std::size_t>(params.get<std::int64_t>("win_length")) : o.n_fft;
  o.hop_length = params.was_given("hop_length") ? static_cast<std::size_t>(params.get<std::int64_t>("hop_length"))
                                                : std::max<std::size_t>(1, o.win_length / 2);
  o.window = *parse_window(params.get<std::string>("window"));
  o.center = params.get<bool>("center");
  o.pad_mode = params.get<std::string>("pad_mode") == "constant" ? PadMode::constant : PadMode::reflect;
  o.power = params.get<double>("power");
  o.normalized = params.get<bool>("normalized");
  return o;
}

void check_spectrum_options(const SpectrumOptions& o) {
  if (o.win_length > o.n_fft) {
    throw ParamError("win_length", "win_length " + std::to_string(o.win_length) + " is longer than n_fft " +
                                       std::to_string(o.n_fft) + ": raise n_fft to at least " +
                                       std::to_string(o.win_length) + " or shorten the window");
  }
  if (o.hop_length == 0) throw ParamError("hop_length", "hop_length must be at least 1 sample");
}

MelOptions read_mel_options(const Params& params) {
  MelOptions m;
  m.n_mels = static_cast<std::size_t>(params.get<std::int64_t>("n_mels"));
  m.f_min = params.get<double>("f_min");
  m.f_max = params.get<double>("f_max");
  m.scale = params.get<std::string>("mel_scale") == "slaney" ? MelScale::slaney : MelScale::htk;
  m.norm = params.get<std::string>("norm") == "slaney" ? MelNorm::slaney : MelNorm::none;
  return m;
}

namespace {

std::string hz(double v) {
  std::string s = std::to_string(v);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s + " Hz";
}

double checked_f_max(const MelOptions& mel, double sample_rate) {
  const double nyquist = sample_rate / 2.0;
  const double f_max = mel.f_max > 0.0 ? mel.f_max : nyquist;
  if (f_max > nyquist) {
    throw ParamError("f_max", "f_max " + hz(f_max) + " is above the Nyquist frequency " + hz(nyquist) +
                                  " (sample_rate / 2): lower f_max or leave it out");
  }
  if (mel.f_min >= f_max) {
    throw ParamError("f_min", "f_min " + hz(mel.f_min) + " must be below f_max " + hz(f_max));
  }
  return f_max;
}

void check_filters(const MelOptions& mel, std::size_t n_fft) {
  const std::size_t bins = n_fft / 2 + 1;
  if (mel.n_mels <= bins) return;
  throw ParamError("n_mels", "n_mels " + std::to_string(mel.n_mels) + " is more than the " + std::to_string(bins) +
                                 " bins of an n_fft " + std::to_string(n_fft) +
                                 " spectrum: lower n_mels or raise n_fft");
}

}  // namespace

MelFilterbank make_mel_filterbank(const MelOptions& mel, std::size_t n_fft, double sample_rate) {
  // torchaudio's default f_max is the integer half of the sample rate.
  check_filters(mel, n_fft);
  checked_f_max(mel, sample_rate);
  const double f_max = mel.f_max > 0.0 ? mel.f_max : std::floor(sample_rate / 2.0);
  return MelFilterbank::torchaudio(n_fft / 2 + 1, sample_rate, mel.f_min, f_max, mel.n_mels, mel.scale, mel.norm);
}

MelFilterbank make_kaldi_filterbank(const MelOptions& mel, std::size_t n_fft, double sample_rate) {
  check_filters(mel, n_fft);
  const double f_max = checked_f_max(mel, sample_rate);
  return MelFilterbank::kaldi(mel.n_mels, n_fft, sample_rate, mel.f_min, f_max);
}

void warn_empty_filters(Logger& log, const MelFilterbank& filterbank) {
  const auto empty = filterbank.empty_filters();
  if (empty.empty()) return;
  log.warn(empty.size(), " of the ", filterbank.filters(), " mel filters have no FFT bin (the first is filter ",
           empty.front(), "): they stay 0; lower n_mels or raise n_fft");
}

double read_sample_rate(const Params& params) { return static_cast<double>(params.get<std::int64_t>("sample_rate")); }

}  // namespace tributary::features

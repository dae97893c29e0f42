#include "mfcc/mfcc.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "dsp/decibels.hpp"
#include "mfcc/deltas.hpp"

namespace tributary::features {

namespace {

std::size_t next_power_of_two(std::size_t n) {
  std::size_t p = 1;
  while (p < n) p <<= 1;
  return p;
}

}  // namespace

void Mfcc::declare(NodeSpec& spec) {
  spec.summary(
      "MFCC [frames, n_mfcc], as torchaudio.transforms.MFCC, librosa.feature.mfcc or Kaldi's compute-mfcc-feats");
  spec.input(kIn);
  spec.output(kOut);
  // A live stream's frames cross chunk boundaries, so packets are taken one at a time.
  spec.concurrency(Concurrency::serial);
  // Whole clips share nothing: fed only clips, the node computes them at the same time, in order.
  spec.concurrency_for(PayloadKind::example, Concurrency::ordered);
  spec.param<std::string>("convention", "torchaudio",
                          "whose MFCC, and whose defaults for what is left out: torchaudio, librosa (n_fft 2048, "
                          "hop 512, Slaney mels, constant padding, 20 coefficients) or kaldi (25 ms povey frames "
                          "every 10 ms, no centre padding, 23 mel bins from 20 Hz, 13 coefficients, lifter 22)")
      .choices({"torchaudio", "librosa", "kaldi"});
  declare_spectrum_params(spec);
  declare_mel_params(spec);
  spec.param<std::int64_t>("n_mfcc", 40, "coefficients per frame (librosa: 20, kaldi: 13), at most n_mels")
      .range(1, 4096);
  spec.param<bool>("log_mels", false, "natural log of the mels (log(mel + 1e-6)) instead of decibels");
  spec.param<double>("top_db", 80.0,
                     "floor the dB mels at the peak minus top_db (the clip's peak; on a stream, the peak so far); "
                     "0 = no floor")
      .range(0.0, 1000.0);
  spec.param<double>("lifter", 0.0,
                     "cepstral lifter L: coefficient i scaled by 1 + L/2 sin(pi (i + 1) / L) (kaldi: sin(pi i / "
                     "L), default 22); 0 = none")
      .range(0.0, 10000.0);
  spec.param<std::int64_t>("deltas", 0, "0, 1: append deltas, 2: append deltas and delta-deltas").range(0, 2);
  spec.param<std::int64_t>("delta_win_length", 5, "frames in the delta regression window (odd, at least 3)")
      .range(3, 101);
  spec.param<double>("preemphasis", 0.97, "kaldi: pre-emphasis coefficient; 0 = none").range(0.0, 1.0);
  spec.param<bool>("remove_dc_offset", true, "kaldi: subtract each frame's mean first");
  spec.param<bool>("use_energy", true, "kaldi: the frame's log energy replaces C0");
  spec.param<double>("energy_floor", 1.0, "kaldi: log energy is at least log(energy_floor); 0 = no floor")
      .range(0.0, 1e30);
  spec.example(R"([pipeline]
name  = "mfcc-demo"
links = [ "tone -> mfcc", "mfcc -> export" ]

[nodes.tone]
plugin = "synthetic"
signal = "chirp"
count  = 20

[nodes.mfcc]
plugin     = "mfcc"
n_fft      = 512
hop_length = 160
n_mels     = 40
n_mfcc     = 13
deltas     = 2

[nodes.export]
plugin = "jsonl"
path   = "${RUN_DIR}/mfcc.jsonl"
)");
}

void Mfcc::configure(const Params& params) {
  const std::string convention = params.get<std::string>("convention");
  convention_ = convention == "librosa" ? Convention::librosa
                : convention == "kaldi" ? Convention::kaldi
                                        : Convention::torchaudio;
  const auto given = [&](const char* name) { return params.was_given(name); };
  options_ = read_spectrum_options(params);
  mel_ = read_mel_options(params);
  n_mfcc_ = static_cast<std::size_t>(params.get<std::int64_t>("n_mfcc"));
  log_mels_ = params.get<bool>("log_mels");
  top_db_ = params.get<double>("top_db");
  lifter_ = params.get<double>("lifter");
  deltas_ = static_cast<int>(params.get<std::int64_t>("deltas"));
  delta_win_length_ = static_cast<std::size_t>(params.get<std::int64_t>("delta_win_length"));
  if (delta_win_length_ % 2 == 0) {
    throw ParamError("delta_win_length", "delta_win_length must be odd (a window centred on the frame), found " +
                                             std::to_string(delta_win_length_));
  }
  win_given_ = given("win_length");
  hop_given_ = given("hop_length");
  n_fft_given_ = given("n_fft");

  if (convention_ == Convention::librosa) {
    if (!n_fft_given_) options_.n_fft = 2048;
    if (!win_given_) options_.win_length = options_.n_fft;
    if (!hop_given_) options_.hop_length = std::max<std::size_t>(1, options_.win_length / 4);
    if (!given("pad_mode")) options_.pad_mode = PadMode::constant;
    if (!given("mel_scale")) mel_.scale = MelScale::slaney;
    if (!given("norm")) mel_.norm = MelNorm::slaney;
    if (!given("n_mfcc")) n_mfcc_ = 20;
  } else if (convention_ == Convention::kaldi) {
    options_.kaldi = true;
    options_.center = false;
    if (!given("window")) options_.window = WindowKind::povey;
    if (!given("n_mels")) mel_.n_mels = 23;
    if (!given("f_min")) mel_.f_min = 20.0;
    if (!given("n_mfcc")) n_mfcc_ = 13;
    if (!given("lifter")) lifter_ = 22.0;
    options_.preemphasis = params.get<double>("preemphasis");
    options_.remove_dc_offset = params.get<bool>("remove_dc_offset");
    options_.energy_floor = params.get<double>("energy_floor");
    use_energy_ = params.get<bool>("use_energy");
    if (options_.power != 2.0) {
      throw ParamError("power", "the kaldi convention works on the power spectrum: leave power out (2)");
    }
    if (given("center") && params.get<bool>("center")) {
      throw ParamError("center",
                       "the kaldi convention cuts frames without centre padding (snip_edges): leave "
                       "center out");
    }
  }
  if (n_mfcc_ > mel_.n_mels) {
    throw ParamError("n_mfcc", "n_mfcc " + std::to_string(n_mfcc_) + " is more than n_mels " +
                                   std::to_string(mel_.n_mels) + ": lower n_mfcc or raise n_mels");
  }
  // Kaldi's frame lengths depend on the rate; the others can be checked now.
  if (convention_ != Convention::kaldi || (win_given_ && n_fft_given_)) check_spectrum_options(options_);
  prepare_if_known(read_sample_rate(params));
}

AudioFeatureNode::Layout Mfcc::prepare(double sample_rate) {
  if (convention_ == Convention::kaldi) {
    // 25 ms every 10 ms, truncated to whole samples as Kaldi does; the FFT the next power of 2.
    if (!win_given_) options_.win_length = static_cast<std::size_t>(sample_rate * 0.025);
    if (!hop_given_) options_.hop_length = static_cast<std::size_t>(sample_rate * 0.010);
    if (!n_fft_given_) options_.n_fft = next_power_of_two(options_.win_length);
    if (options_.win_length < 2 || options_.hop_length < 1) {
      throw ParamError("win_length", "a 25 ms frame has fewer than 2 samples at this sample rate");
    }
    check_spectrum_options(options_);
  }
  filterbank_ = convention_ == Convention::kaldi ? make_kaldi_filterbank(mel_, options_.n_fft, sample_rate)
                                                 : make_mel_filterbank(mel_, options_.n_fft, sample_rate);
  warn_empty_filters(log(), filterbank_);
  // DCT-II, orthonormal: sqrt(2 / n) cos(pi / n (m + 1/2) k), row 0 scaled by 1 / sqrt(2).
  const std::size_t n = mel_.n_mels;
  const double pi = std::acos(-1.0);
  dct_.assign(n * n_mfcc_, 0.0f);
  for (std::size_t k = 0; k < n_mfcc_; ++k) {
    const double scale = std::sqrt(2.0 / static_cast<double>(n)) * (k == 0 ? 1.0 / std::sqrt(2.0) : 1.0);
    for (std::size_t m = 0; m < n; ++m) {
      dct_[m * n_mfcc_ + k] = static_cast<float>(
          scale * std::cos(pi / static_cast<double>(n) * (static_cast<double>(m) + 0.5) * static_cast<double>(k)));
    }
  }
  lifts_.assign(n_mfcc_, 1.0f);
  if (lifter_ > 0.0) {
    const std::size_t shift = convention_ == Convention::kaldi ? 0 : 1;
    for (std::size_t i = 0; i < n_mfcc_; ++i) {
      lifts_[i] = static_cast<float>(1.0 + 0.5 * lifter_ * std::sin(pi * static_cast<double>(i + shift) / lifter_));
    }
  }
  return layout_of(Spectrum(options_), n + 1);
}

void Mfcc::compute(FrameScratch& scratch, float* out) const {
  const std::size_t n = mel_.n_mels;
  float* frame = scratch.frame.data();
  float* power = scratch.bins.data();
  if (convention_ == Convention::kaldi) {
    // Kaldi reads 16-bit samples as their integer values.
    for (float& sample : scratch.frame) sample *= 32768.0f;
    out[n] = static_cast<float>(scratch.spectrum.compute(frame, power));
    filterbank_.apply(power, out);
    const float eps = std::numeric_limits<float>::epsilon();
    for (std::size_t m = 0; m < n; ++m) out[m] = std::log(std::max(out[m], eps));
    return;
  }
  scratch.spectrum.compute(frame, power);
  filterbank_.apply(power, out);
  out[n] = 0.0f;
  if (log_mels_) {
    for (std::size_t m = 0; m < n; ++m) out[m] = std::log(out[m] + 1e-6f);
  } else {
    for (std::size_t m = 0; m < n; ++m) out[m] = to_decibels(out[m], 10.0f);
  }
}

void Mfcc::finish_block(FrameBlock& block, BlockState& state, bool end) const {
  const std::size_t n = mel_.n_mels;
  const std::size_t rows = block.channels * block.frames;
  const bool floored = convention_ != Convention::kaldi && !log_mels_ && top_db_ > 0.0;
  if (floored) {
    for (std::size_t r = 0; r < rows; ++r) {
      const float* mels = block.values.data() + r * (n + 1);
      for (std::size_t m = 0; m < n; ++m) state.peak = std::max(state.peak, static_cast<double>(mels[m]));
    }
  }
  std::vector<float> cepstra(rows * n_mfcc_);
  for (std::size_t r = 0; r < rows; ++r) {
    float* mels = block.values.data() + r * (n + 1);
    if (floored) floor_decibels(mels, n, state.peak, top_db_);
    // Mel by mel over all coefficients at once: the inner loop runs over contiguous rows.
    float* c = cepstra.data() + r * n_mfcc_;
    for (std::size_t m = 0; m < n; ++m) {
      const float* basis = dct_.data() + m * n_mfcc_;
      const float v = mels[m];
      for (std::size_t k = 0; k < n_mfcc_; ++k) c[k] += basis[k] * v;
    }
    for (std::size_t k = 0; k < n_mfcc_; ++k) c[k] *= lifts_[k];
    if (convention_ == Convention::kaldi && use_energy_) c[0] = mels[n];
  }
  block.values = std::move(cepstra);
  block.width = n_mfcc_;
  if (deltas_ > 0) append_deltas(block, state, deltas_, delta_win_length_, end);
}

}  // namespace tributary::features

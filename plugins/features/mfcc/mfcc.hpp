#pragma once
// mfcc: mel-frequency cepstral coefficients in one of three conventions:
//   torchaudio (default)  torchaudio.transforms.MFCC: dB mels floored at top_db 80, DCT-II ortho
//   librosa               librosa.feature.mfcc: Slaney mels and norm, n_fft 2048, hop 512,
//                         constant padding, 20 coefficients
//   kaldi                 torchaudio.compliance.kaldi.mfcc (dither 0): 25 ms povey frames every
//                         10 ms without centre padding, DC removal, pre-emphasis 0.97, 23 mel
//                         bins in Kaldi's mel domain, 13 coefficients, lifter 22, log energy in
//                         C0; samples scaled to the int16 range as Kaldi reads them
// Each convention fills in its own defaults for parameters the file leaves out.
//
//   [nodes.mfcc]
//   plugin = "mfcc"
//   n_mfcc = 40
//   deltas = 2     # append deltas and delta-deltas: [frames, 3 * n_mfcc]
#include <optional>
#include <vector>

#include "dsp/audio_feature_node.hpp"
#include "dsp/frame_params.hpp"
#include "dsp/mel_filterbank.hpp"
#include "dsp/spectrum.hpp"

namespace tributary::features {

class Mfcc final : public AudioFeatureNode {
 public:
  static constexpr const char* kType = "mfcc";
  static constexpr InputPort kIn{"in", PayloadKind::audio | PayloadKind::example,
                                 "audio chunks of a stream, or whole clips; tensor 0 [samples] or [samples, channels]"};
  static constexpr OutputPort kOut{"out", PayloadKind::features | PayloadKind::example,
                                   "coefficients [frames, n_mfcc * (1 + deltas)] f32 (chunks: features; clips: "
                                   "examples)"};

  enum class Convention { torchaudio, librosa, kaldi };

  static void declare(NodeSpec& spec);

  Mfcc() : AudioFeatureNode(kOut) {}
  void configure(const Params& params) override;

 private:
  Layout prepare(double sample_rate) override;
  void compute(FrameScratch& scratch, float* out) const override;
  void finish_block(FrameBlock& block, BlockState& state, bool end) const override;

  Convention convention_ = Convention::torchaudio;
  SpectrumOptions options_;
  MelOptions mel_;
  // Kaldi gives frame lengths in time; they become samples once the rate is known.
  bool win_given_ = false;
  bool hop_given_ = false;
  bool n_fft_given_ = false;
  std::size_t n_mfcc_ = 40;
  bool log_mels_ = false;
  double top_db_ = 80.0;
  double lifter_ = 0.0;
  bool use_energy_ = true;
  int deltas_ = 0;
  std::size_t delta_win_length_ = 5;

  MelFilterbank filterbank_;
  std::vector<float> dct_;    // n_mfcc x n_mels, row-major
  std::vector<float> lifts_;  // n_mfcc
};

}  // namespace tributary::features

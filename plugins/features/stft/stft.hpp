#pragma once
// stft: power or magnitude spectra of audio, as torchaudio.transforms.Spectrogram gives them.
//
//   [nodes.spec]
//   plugin     = "stft"
//   n_fft      = 512
//   hop_length = 160
//   power      = 2.0   # 1.0 for magnitude
//
// Whole clips (`example`) become one [frames, n_fft/2 + 1] f32 packet; chunks of a live `audio`
// stream become packets of the frames each chunk completes, the same frames as the whole signal.
#include <memory>
#include <optional>

#include "dsp/audio_feature_node.hpp"
#include "dsp/spectrum.hpp"

namespace tributary::features {

class Stft final : public AudioFeatureNode {
 public:
  static constexpr const char* kType = "stft";
  static constexpr InputPort kIn{"in", PayloadKind::audio | PayloadKind::example,
                                 "audio chunks of a stream, or whole clips; tensor 0 [samples] or [samples, channels]"};
  static constexpr OutputPort kOut{"out", PayloadKind::features | PayloadKind::example,
                                   "spectra [frames, n_fft/2 + 1] f32 (chunks: features; clips: examples)"};

  static void declare(NodeSpec& spec);

  Stft() : AudioFeatureNode(kOut) {}
  void configure(const Params& params) override;

 private:
  Layout prepare(double sample_rate) override;
  void compute(FrameScratch& scratch, float* out) const override;

  SpectrumOptions options_;
};

}  // namespace tributary::features

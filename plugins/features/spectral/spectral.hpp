#pragma once
// spectral: per-frame spectral statistics of audio.
//
//   [nodes.stats]
//   plugin   = "spectral"
//   n_fft    = 512
//   features = ["centroid", "rolloff", "rms"]
//
// Output f32 [frames, len(features)], the columns in the order of `features`. Frames are the
// stft node's (the same parameters, torchaudio's defaults); whole clips and live streams alike.
#include <optional>
#include <string>
#include <vector>

#include "dsp/audio_feature_node.hpp"
#include "dsp/spectrum.hpp"

namespace tributary::features {

class Spectral final : public AudioFeatureNode {
 public:
  static constexpr const char* kType = "spectral";
  static constexpr InputPort kIn{"in", PayloadKind::audio | PayloadKind::example,
                                 "audio chunks of a stream, or whole clips; tensor 0 [samples] or [samples, channels]"};
  static constexpr OutputPort kOut{"out", PayloadKind::features | PayloadKind::example,
                                   "statistics [frames, len(features)] f32 (chunks: features; clips: examples)"};

  enum class Statistic { centroid, bandwidth, rolloff, flatness, flux, zcr, rms };

  static void declare(NodeSpec& spec);

  Spectral() : AudioFeatureNode(kOut) {}
  void configure(const Params& params) override;

 private:
  Layout prepare(double sample_rate) override;
  void compute(FrameScratch& scratch, float* out) const override;
  void finish_block(FrameBlock& block, BlockState& state, bool end) const override;

  SpectrumOptions options_;
  std::vector<Statistic> statistics_;
  double roll_percent_ = 0.85;
  double bandwidth_p_ = 2.0;
  bool flux_ = false;

  std::size_t bins_ = 0;
  std::vector<double> freqs_;
};

}  // namespace tributary::features

#pragma once
// mel: mel spectrograms, as torchaudio.transforms.MelSpectrogram gives them, optionally as
// natural log (log(x + log_offset)) or decibels (AmplitudeToDB, with a top_db floor).
//
//   [nodes.mel]
//   plugin     = "mel"
//   n_fft      = 512
//   hop_length = 160
//   n_mels     = 40
//   log        = "natural"
//
// Whole clips (`example`) become one [frames, n_mels] f32 packet; chunks of a live `audio`
// stream become packets of the frames each chunk completes. Spectra from an `stft` node can be
// linked to the `spectra` port instead, with the same n_fft.
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "dsp/audio_feature_node.hpp"
#include "dsp/frame_params.hpp"
#include "dsp/mel_filterbank.hpp"
#include "dsp/spectrum.hpp"

namespace tributary::features {

class Mel final : public AudioFeatureNode {
 public:
  static constexpr const char* kType = "mel";
  static constexpr InputPort kIn{"in", PayloadKind::audio | PayloadKind::example,
                                 "audio chunks of a stream, or whole clips; tensor 0 [samples] or [samples, channels]",
                                 Feed::links, true};
  static constexpr InputPort kSpectra{"spectra", PayloadKind::features | PayloadKind::example,
                                      "power or magnitude spectra [frames, n_fft/2 + 1] from an stft node", Feed::links,
                                      true};
  static constexpr OutputPort kOut{"out", PayloadKind::features | PayloadKind::example,
                                   "mel spectrograms [frames, n_mels] f32 (chunks: features; clips: examples)"};

  static void declare(NodeSpec& spec);

  Mel() : AudioFeatureNode(kOut) {}
  void configure(const Params& params) override;
  void process(const InputPort& port, const PacketPtr& packet, Emitter& out) override;

 private:
  enum class LogScale { none, natural, decibels };

  Layout prepare(double sample_rate) override;
  void compute(FrameScratch& scratch, float* out) const override;
  void finish_block(FrameBlock& block, BlockState& state, bool end) const override;
  void process_spectra(const Packet& packet, Emitter& out);

  SpectrumOptions options_;
  MelOptions mel_;
  LogScale log_ = LogScale::none;
  double log_offset_ = 1e-6;
  double top_db_ = 0.0;
  MelFilterbank filterbank_;  // for audio, made by prepare()
  std::mutex spectra_mutex_;  // the spectra port's filterbank, made for the rate of its packets
  std::shared_ptr<const MelFilterbank> spectra_filterbank_;
  double spectra_rate_ = 0.0;
  std::map<std::string, BlockState> spectra_streams_;
};

}  // namespace tributary::features

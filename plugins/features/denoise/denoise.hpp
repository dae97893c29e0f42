#pragma once
// denoise: spectral-gating noise reduction (the algorithm of the noisereduce package), on whole
// clips and on live streams.
//
//   [nodes.clean]
//   plugin     = "denoise"
//   stationary = true
//   noise_ms   = 500    # the first half second is the noise profile
//
// Audio in, audio out: an example clip leaves as one example of the same length; a stream's
// chunks leave as audio packets of the samples that are final (the output lags the input by
// the mask smoothing's look-ahead plus one frame), the rest at end of stream.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "augment/wav_file.hpp"
#include "denoise/spectral_gate.hpp"
#include "tributary/node.hpp"

namespace tributary::features {

class Denoise final : public Node {
 public:
  static constexpr const char* kType = "denoise";
  static constexpr InputPort kIn{"in", PayloadKind::audio | PayloadKind::example,
                                 "audio chunks of a stream, or whole clips; tensor 0 [samples] or [samples, channels]"};
  static constexpr OutputPort kOut{"out", PayloadKind::audio | PayloadKind::example,
                                   "the audio with noise reduced, f32 in the input's shape"};

  static void declare(NodeSpec& spec);

  void configure(const Params& params) override;
  void process(const InputPort& port, const PacketPtr& packet, Emitter& out) override;
  void flush(Emitter& out) override;

 private:
  struct Stream {
    std::vector<SpectralGate> gates;  // one per channel
    double sample_rate = 0.0;
    bool multichannel = false;
    std::int64_t start_ns = 0;
    std::uint64_t sequence = 0;
    std::uint64_t samples_out = 0;
    PacketPtr last;
  };

  SpectralGateOptions options_for(double sample_rate) const;
  Stream open(const Packet& packet, std::size_t channels, double sample_rate) const;
  void emit_samples(Stream& stream, std::vector<std::vector<float>>& channels, Emitter& out);

  std::size_t n_fft_ = 1024;
  std::size_t hop_length_ = 256;
  bool stationary_ = true;
  double noise_ms_ = 0.0;
  double prop_decrease_ = 1.0;
  double n_std_thresh_ = 1.5;
  double freq_mask_smooth_hz_ = 500.0;
  double time_mask_smooth_ms_ = 50.0;
  double time_constant_s_ = 2.0;
  double sigmoid_slope_ = 10.0;
  std::string noise_path_;
  WavAudio noise_;  // stationary: the profile's recording, when noise_path is given
  std::map<std::string, Stream> streams_;
};

}  // namespace tributary::features

#pragma once
// augment: random data augmentation of train examples, seedable and reproducible.
//
//   [nodes.aug]
//   plugin     = "augment"
//   noise_dir  = "data/noise"      # WAV files mixed in as background noise
//   snr_db     = [5.0, 20.0]
//   gain_db    = [-6.0, 6.0]
//   shift_ms   = 100
//   freq_masks = 2                 # SpecAugment, on feature packets
//   freq_mask_width = 8
//
// Audio (tensor 0 [samples] or [samples, channels]) gets background noise, gain and a time
// shift; features ([frames, bins] from stft, mel, mfcc) get SpecAugment's time and frequency
// masks. Only packets of the listed splits (train by default) change; the rest pass as they are.
#include <cstdint>
#include <string>
#include <vector>

#include "augment/wav_file.hpp"
#include "tributary/node.hpp"

namespace tributary::features {

class Augment final : public Node {
 public:
  static constexpr const char* kType = "augment";
  static constexpr InputPort kIn{"in", PayloadKind::audio | PayloadKind::example | PayloadKind::features,
                                 "audio or feature packets; only train ones are changed"};
  static constexpr OutputPort kOut{"out", PayloadKind::audio | PayloadKind::example | PayloadKind::features,
                                   "the same packets, train ones augmented (tensor 0 as f32)"};

  static void declare(NodeSpec& spec);

  void configure(const Params& params) override;
  void start() override;
  void process(const InputPort& port, const PacketPtr& packet, Emitter& out) override;

 private:
  class Random;
  void augment_audio(Tensor& x, double sample_rate, Random& random) const;
  void augment_features(Tensor& x, Random& random) const;

  std::vector<Split> splits_;
  std::string noise_dir_;
  double noise_prob_ = 1.0;
  double snr_min_ = 5.0;
  double snr_max_ = 20.0;
  double gain_min_ = 0.0;
  double gain_max_ = 0.0;
  double shift_ms_ = 0.0;
  std::int64_t freq_masks_ = 0;
  std::int64_t freq_mask_width_ = 0;
  std::int64_t time_masks_ = 0;
  std::int64_t time_mask_width_ = 0;
  std::uint64_t seed_ = 0;
  std::vector<WavAudio> noises_;  // read in start(), read-only after
};

}  // namespace tributary::features

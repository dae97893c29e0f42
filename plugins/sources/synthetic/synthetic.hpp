#pragma once
// Deterministic, seedable test signals and labelled points.
//
//   [nodes.tone]
//   plugin = "synthetic"
//   signal = "chirp"
//   count = 50
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include "sampling/seeded_random.hpp"
#include "sampling/split_fractions.hpp"
#include "tributary/node.hpp"

namespace tributary::sources {

class Synthetic final : public Node {
 public:
  static constexpr const char* kType = "synthetic";
  static constexpr OutputPort kOut{"out", PayloadKind::audio | PayloadKind::example,
                                   "audio chunks (sine, square, chirp, noise) or labelled points (blobs)"};
  static void declare(NodeSpec& spec);

  void configure(const Params& params) override;
  void start() override;
  bool produce(Emitter& out) override;
  bool on_tick(Emitter& out) override;
  PayloadKinds output_kinds(const OutputPort& port) const override;
  SourceMode source_mode(SourceMode declared) const override;

 private:
  enum class Signal { sine, square, chirp, noise, silence, blobs };

  PacketPtr next_audio();
  PacketPtr next_example();
  // Sleeps until the next packet is due; false when a stop was requested meanwhile.
  void place_centres();
  // Advances the oscillator's phase (in cycles, kept in [0, 1)) by one sample at `hz`.
  void advance_phase(double hz);

  Signal signal_ = Signal::sine;
  std::int64_t count_ = 100;
  double rate_hz_ = 0.0;
  bool live_ = false;
  std::int64_t sample_rate_ = 16000;
  std::int64_t chunk_ = 1600;
  double frequency_ = 440.0;
  double amplitude_ = 0.5;
  double noise_ = 0.0;
  std::uint64_t seed_ = 0;
  std::int64_t classes_ = 3;
  std::int64_t dims_ = 2;
  SplitFractions split_;

  std::optional<SeededRandom> random_;
  std::uint64_t sequence_ = 0;
  std::int64_t sample_index_ = 0;  // position of the next audio sample in the stream
  double phase_ = 0.0;             // oscillator phase in cycles
  std::vector<double> centres_;    // blobs: classes x dims, row-major
};

}  // namespace tributary::sources

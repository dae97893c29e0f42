#pragma once
// standardize: per-feature standardisation with running statistics (Welford).
//
//   [nodes.norm]
//   plugin    = "standardize"
//   fit_split = "train"   # only train examples update the statistics; every example is transformed
//   warmup    = 100       # hold the first 100 packets until the statistics have settled
//
// Tensor 0 of each packet (f32 or f64, any shape) is read as one flat feature vector; the output
// carries it as f32 in the same shape, (x - mean) / sqrt(var + epsilon), with everything else
// in the packet (label, split, attributes, other tensors) shared unchanged.
#include <cstdint>
#include <deque>
#include <vector>

#include "tributary/node.hpp"

namespace tributary::features {

// Running per-feature mean and variance, updated one vector at a time.
class RunningMoments {
 public:
  void reset(std::size_t features);
  void add(const Tensor& values);  // f32 or f64, numel() == features()
  std::size_t features() const noexcept { return mean_.size(); }
  std::uint64_t count() const noexcept { return count_; }
  double mean(std::size_t i) const { return mean_[i]; }
  // Population variance; 0 before two values.
  double variance(std::size_t i) const { return count_ < 2 ? 0.0 : m2_[i] / static_cast<double>(count_); }

 private:
  std::uint64_t count_ = 0;
  std::vector<double> mean_;
  std::vector<double> m2_;
};

class Standardize final : public Node {
 public:
  static constexpr const char* kType = "standardize";
  static constexpr InputPort kIn{"in", PayloadKind::example | PayloadKind::features,
                                 "examples or feature vectors; tensor 0 (f32 or f64) is standardised"};
  static constexpr OutputPort kOut{"out", PayloadKind::example | PayloadKind::features,
                                   "the same packets with tensor 0 standardised, as f32"};

  static void declare(NodeSpec& spec);

  void configure(const Params& params) override;
  void process(const InputPort& port, const PacketPtr& packet, Emitter& out) override;
  void flush(Emitter& out) override;

 private:
  void check(const Packet& packet);
  bool fits(const Packet& packet) const;
  PacketPtr transform(const Packet& packet) const;
  void emit_held(Emitter& out);

  bool fit_all_ = false;
  std::uint64_t warmup_ = 0;
  double epsilon_ = 1e-8;

  bool have_shape_ = false;
  Shape first_shape_;
  RunningMoments moments_;
  std::uint64_t seen_ = 0;
  std::deque<PacketPtr> held_;  // packets kept back during warmup
};

}  // namespace tributary::features

#pragma once
// normalize: per-feature mean and variance normalisation (CMVN) of frames [frames, bins].
//
//   [nodes.cmvn]
//   plugin = "normalize"
//   mode   = "running"   # or "utterance", or "file" with stats_path
//
// Each bin (column) is normalised with its own statistics: over every frame seen so far
// (running, from the fit split), over the packet's own frames (utterance), or fixed ones read
// from a file (file).
#include <string>
#include <vector>

#include "standardize/standardize.hpp"
#include "tributary/node.hpp"

namespace tributary::features {

class Normalize final : public Node {
 public:
  static constexpr const char* kType = "normalize";
  static constexpr InputPort kIn{"in", PayloadKind::features | PayloadKind::example,
                                 "frames [frames, bins] f32 (a rank-1 tensor is one frame)"};
  static constexpr OutputPort kOut{"out", PayloadKind::features | PayloadKind::example,
                                   "the same packets with tensor 0 normalised per bin, f32"};

  static void declare(NodeSpec& spec);

  void configure(const Params& params) override;
  void process(const InputPort& port, const PacketPtr& packet, Emitter& out) override;

 private:
  enum class Mode { running, utterance, file };

  Mode mode_ = Mode::running;
  bool variance_ = true;
  bool fit_all_ = false;
  double epsilon_ = 1e-8;
  std::vector<double> file_mean_;
  std::vector<double> file_std_;
  RunningMoments moments_;
  bool started_ = false;
};

}  // namespace tributary::features

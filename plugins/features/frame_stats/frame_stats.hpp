#pragma once
// frame_stats: per-frame statistics of video frames as metric points, for watching a screen or a
// camera (is it blank, did it change, how bright is it) in a CSV or JSON Lines file or on the
// dashboard.
//
//   [nodes.stats]
//   plugin = "frame_stats"
//   stats  = ["mean", "std", "min", "max", "motion"]
//
// Input: video packets [height, width, channels] u8, channels named by the `format` attribute
// (rgb, gray, BGRx, RGBA...). Output: one metrics packet per frame with the points
// `<channel>/mean`, `<channel>/std`, `<channel>/min`, `<channel>/max` (0..255) and `motion`, the
// mean absolute difference from the previous frame; step is the frame's sequence number.
#include <cstdint>
#include <string>
#include <vector>

#include "tributary/node.hpp"

namespace tributary::features {

class FrameStats final : public Node {
 public:
  static constexpr const char* kType = "frame_stats";
  static constexpr InputPort kIn{"in", PayloadKind::video,
                                 "frames [height, width, channels] u8 (channels named by the format attribute)"};
  static constexpr OutputPort kOut{
      "out", PayloadKind::metrics,
      "one metrics packet per frame: <channel>/mean, /std, /min, /max and motion; step = the frame's sequence"};

  static void declare(NodeSpec& spec);

  void configure(const Params& params) override;
  void process(const InputPort& port, const PacketPtr& packet, Emitter& out) override;

 private:
  enum class Stat : std::uint8_t { mean, std, min, max };
  std::vector<Stat> per_channel_;  // in the order `stats` lists them
  bool motion_ = false;
  Tensor previous_;  // the last frame, held (not copied) for motion
  bool has_previous_ = false;
};

}  // namespace tributary::features

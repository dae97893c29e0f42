#pragma once
// window: stacks consecutive feature frames into fixed-length windows with a hop, for a model
// that sees a fixed stretch of time (one second of 10 ms frames: frames = 100).
//
//   [nodes.clips]
//   plugin = "window"
//   frames = 100
//   hop    = 50
//
// A stream's feature packets ([frames, bins], as stft, mel and mfcc emit them) are joined across
// packets: each full window leaves as one features packet [frames, bins]. A whole clip (an
// example) is cut into windows of its own, each an example with the clip's label and split.
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "tributary/node.hpp"

namespace tributary::features {

class FrameWindow final : public Node {
 public:
  static constexpr const char* kType = "window";
  static constexpr InputPort kIn{"in", PayloadKind::features | PayloadKind::example,
                                 "frames [frames, bins] f32: chunks of a stream or whole clips"};
  static constexpr OutputPort kOut{"out", PayloadKind::features | PayloadKind::example,
                                   "windows [frames, bins] f32 (stream: features; clips: examples)"};

  static void declare(NodeSpec& spec);

  void configure(const Params& params) override;
  void process(const InputPort& port, const PacketPtr& packet, Emitter& out) override;
  void flush(Emitter& out) override;

 private:
  struct Stream {
    std::size_t bins = 0;
    std::vector<float> values;             // buffered frames, row-major
    std::vector<std::int64_t> timestamps;  // one per buffered frame
    std::uint64_t first = 0;               // stream index of the first buffered frame
    std::uint64_t sequence = 0;
    PacketPtr last;
  };

  void cut(Stream& stream, const Packet& like, bool clip, bool end, Emitter& out);

  std::size_t frames_ = 100;
  std::size_t hop_ = 100;
  bool pad_end_ = false;
  std::map<std::string, Stream> streams_;
};

}  // namespace tributary::features

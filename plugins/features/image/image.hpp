#pragma once
// image: screen and camera frames to model input: crop, resize (bilinear), grayscale, scale to
// f32 and normalise per channel.
//
//   [nodes.frames]
//   plugin    = "image"
//   width     = 224
//   height    = 224
//   grayscale = false
//   mean      = [0.485, 0.456, 0.406]
//   std       = [0.229, 0.224, 0.225]
//
// Input: video packets [height, width, channels] u8 (or examples of that shape), RGB order or the
// order the `format` attribute names (BGR, BGRx, RGBA, GRAY8...). Output: f32, [channels, height,
// width] (layout chw, as torch models take it) or [height, width, channels].
#include <cstdint>
#include <vector>

#include "tributary/node.hpp"

namespace tributary::features {

class ImageFrames final : public Node {
 public:
  static constexpr const char* kType = "image";
  static constexpr InputPort kIn{"in", PayloadKind::video | PayloadKind::example,
                                 "frames [height, width, channels] u8 (RGB, or as the format attribute says)"};
  static constexpr OutputPort kOut{"out", PayloadKind::features | PayloadKind::example,
                                   "f32 images [channels, height, width] (layout chw) or [height, width, channels]"};

  static void declare(NodeSpec& spec);

  void configure(const Params& params) override;
  void process(const InputPort& port, const PacketPtr& packet, Emitter& out) override;

 private:
  std::vector<std::int64_t> crop_;  // x, y, width, height; empty: none
  std::int64_t width_ = 0;
  std::int64_t height_ = 0;
  bool grayscale_ = false;
  bool chw_ = true;
  double scale_ = 1.0 / 255.0;
  std::vector<double> mean_;
  std::vector<double> std_;
};

}  // namespace tributary::features

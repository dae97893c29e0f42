#include "image/image.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>
#include <string>

namespace tributary::features {

namespace {

// Where each output column reads from along one axis, as torch's bilinear interpolation with
// align_corners=False: source = (out + 0.5) * in / out - 0.5, clamped at 0.
struct Taps {
  std::vector<std::int64_t> lo, hi;
  std::vector<float> frac;
};

Taps taps(std::int64_t in, std::int64_t out) {
  Taps t;
  const double scale = static_cast<double>(in) / static_cast<double>(out);
  for (std::int64_t o = 0; o < out; ++o) {
    const double src = std::max(0.0, (static_cast<double>(o) + 0.5) * scale - 0.5);
    const auto lo = std::min(static_cast<std::int64_t>(src), in - 1);
    t.lo.push_back(lo);
    t.hi.push_back(std::min(lo + 1, in - 1));
    t.frac.push_back(static_cast<float>(src - static_cast<double>(lo)));
  }
  return t;
}

// The colour channels of a format, as offsets of R, G, B within a pixel (gray: all 0).
struct ChannelOrder {
  std::int64_t r = 0, g = 1, b = 2;
  std::int64_t colours = 3;  // 1 for gray
};

ChannelOrder order_of(const Packet& packet, std::int64_t channels) {
  ChannelOrder o;
  const Value* format = packet.attribute("format");
  std::string f = format != nullptr && format->type() == ValueType::string ? format->as_string() : "";
  std::transform(f.begin(), f.end(), f.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
  if (channels < 3 || f.rfind("GRAY", 0) == 0) {
    o.r = o.g = o.b = 0;
    o.colours = 1;
  } else if (f.rfind("BGR", 0) == 0) {
    o.r = 2;
    o.b = 0;
  } else if (f == "XRGB" || f == "ARGB") {
    o.r = 1;
    o.g = 2;
    o.b = 3;
  } else if (f == "XBGR" || f == "ABGR") {
    o.r = 3;
    o.g = 2;
    o.b = 1;
  }
  return o;
}

}  // namespace

void ImageFrames::declare(NodeSpec& spec) {
  spec.summary("screen and camera frames to f32 model input: crop, bilinear resize, grayscale, scale, normalise");
  spec.input(kIn);
  spec.output(kOut);
  spec.concurrency(Concurrency::ordered);  // stateless: frames in parallel, stream order kept
  spec.param<std::vector<std::int64_t>>("crop", std::vector<std::int64_t>{},
                                        "[x, y, width, height] of the region to keep, before resizing; empty: all")
      .min(0);
  spec.param<std::int64_t>("width", 0, "output width after resizing (bilinear); 0 = keep").range(0, 65536);
  spec.param<std::int64_t>("height", 0, "output height after resizing; 0 = keep").range(0, 65536);
  spec.param<bool>("grayscale", false, "one channel: 0.299 R + 0.587 G + 0.114 B (ITU-R 601)");
  spec.param<double>("scale", 1.0 / 255.0, "multiplies the 0..255 values first");
  spec.param<std::vector<double>>("mean", std::vector<double>{}, "per channel, subtracted after scaling; empty: 0");
  spec.param<std::vector<double>>("std", std::vector<double>{}, "per channel, divides after the mean; empty: 1");
  spec.param<std::string>("layout", "chw", "output layout: chw ([channels, height, width]) or hwc")
      .choices({"chw", "hwc"});
  spec.example(R"([pipeline]
name  = "screen-frames"
links = [ "screen -> frames", "frames -> export" ]

[nodes.screen]
plugin  = "screen"
display = ":99"
fps     = 5

[nodes.frames]
plugin    = "image"
width     = 160
height    = 90
grayscale = true

[nodes.export]
plugin = "jsonl"
path   = "${RUN_DIR}/frames.jsonl"
)");
}

void ImageFrames::configure(const Params& params) {
  crop_ = params.get<std::vector<std::int64_t>>("crop");
  if (!crop_.empty() && (crop_.size() != 4 || crop_[2] == 0 || crop_[3] == 0)) {
    throw ParamError("crop", "crop is [x, y, width, height] with width and height at least 1");
  }
  width_ = params.get<std::int64_t>("width");
  height_ = params.get<std::int64_t>("height");
  if ((width_ == 0) != (height_ == 0))
    throw ParamError(width_ == 0 ? "width" : "height", "give both width and height, or neither");
  grayscale_ = params.get<bool>("grayscale");
  scale_ = params.get<double>("scale");
  mean_ = params.get<std::vector<double>>("mean");
  std_ = params.get<std::vector<double>>("std");
  for (double s : std_) {
    if (!(s > 0.0)) throw ParamError("std", "every std must be greater than 0");
  }
  chw_ = params.get<std::string>("layout") == "chw";
}

void ImageFrames::process(const InputPort&, const PacketPtr& packet, Emitter& out) {
  const std::string& node = context().node_name();
  if (packet->tensors.empty() || packet->tensors.front().rank() != 3 || packet->tensors.front().dtype() != DType::u8) {
    throw std::runtime_error(node + ": expected a frame [height, width, channels] u8 in tensor 0, found " +
                             (packet->tensors.empty() ? std::string("no tensors")
                                                      : std::string(to_string(packet->tensors.front().dtype())) + " " +
                                                            to_string(packet->tensors.front().shape())));
  }
  const Tensor& x = packet->tensors.front();
  const std::int64_t in_h = x.dim(0);
  const std::int64_t in_w = x.dim(1);
  const std::int64_t channels = x.dim(2);
  std::int64_t cx = 0, cy = 0, cw = in_w, ch = in_h;
  if (!crop_.empty()) {
    cx = crop_[0];
    cy = crop_[1];
    cw = crop_[2];
    ch = crop_[3];
    if (cx + cw > in_w || cy + ch > in_h) {
      throw std::runtime_error(node + ": crop [" + std::to_string(cx) + ", " + std::to_string(cy) + ", " +
                               std::to_string(cw) + ", " + std::to_string(ch) + "] reaches outside the " +
                               std::to_string(in_w) + "x" + std::to_string(in_h) + " frame");
    }
  }
  const std::int64_t out_w = width_ > 0 ? width_ : cw;
  const std::int64_t out_h = height_ > 0 ? height_ : ch;
  const ChannelOrder order = order_of(*packet, channels);
  const std::int64_t out_c = grayscale_ ? 1 : order.colours;
  if ((!mean_.empty() && static_cast<std::int64_t>(mean_.size()) != out_c) ||
      (!std_.empty() && static_cast<std::int64_t>(std_.size()) != out_c)) {
    throw std::runtime_error(node + ": mean and std need one value per output channel (" + std::to_string(out_c) + ")");
  }
  const Taps xs = taps(cw, out_w);
  const Taps ys = taps(ch, out_h);
  const std::uint8_t* src = x.data<std::uint8_t>();
  const auto at = [&](std::int64_t y, std::int64_t xx, std::int64_t c) {
    return static_cast<float>(src[((cy + y) * in_w + (cx + xx)) * channels + c]);
  };
  const std::int64_t colour[3] = {order.r, order.g, order.b};
  std::vector<float> result(static_cast<std::size_t>(out_c * out_h * out_w));
  for (std::int64_t oy = 0; oy < out_h; ++oy) {
    const float fy = ys.frac[static_cast<std::size_t>(oy)];
    const std::int64_t y0 = ys.lo[static_cast<std::size_t>(oy)], y1 = ys.hi[static_cast<std::size_t>(oy)];
    for (std::int64_t ox = 0; ox < out_w; ++ox) {
      const float fx = xs.frac[static_cast<std::size_t>(ox)];
      const std::int64_t x0 = xs.lo[static_cast<std::size_t>(ox)], x1 = xs.hi[static_cast<std::size_t>(ox)];
      float rgb[3] = {0.0f, 0.0f, 0.0f};
      for (std::int64_t c = 0; c < order.colours; ++c) {
        const std::int64_t k = colour[c];
        const float top = at(y0, x0, k) * (1.0f - fx) + at(y0, x1, k) * fx;
        const float bottom = at(y1, x0, k) * (1.0f - fx) + at(y1, x1, k) * fx;
        rgb[c] = top * (1.0f - fy) + bottom * fy;
      }
      float values[3] = {rgb[0], rgb[1], rgb[2]};
      if (grayscale_ && order.colours == 3) values[0] = 0.299f * rgb[0] + 0.587f * rgb[1] + 0.114f * rgb[2];
      for (std::int64_t c = 0; c < out_c; ++c) {
        double v = values[c] * scale_;
        if (!mean_.empty()) v -= mean_[static_cast<std::size_t>(c)];
        if (!std_.empty()) v /= std_[static_cast<std::size_t>(c)];
        const std::int64_t i = chw_ ? (c * out_h + oy) * out_w + ox : (oy * out_w + ox) * out_c + c;
        result[static_cast<std::size_t>(i)] = static_cast<float>(v);
      }
    }
  }
  auto p = std::make_shared<Packet>(*packet);
  p->kind = packet->kind == PayloadKind::example ? PayloadKind::example : PayloadKind::features;
  p->tensors.front() =
      Tensor::from_vector(std::move(result), chw_ ? Shape{out_c, out_h, out_w} : Shape{out_h, out_w, out_c});
  p->set_attribute("width", out_w);
  p->set_attribute("height", out_h);
  p->set_attribute("channels", out_c);
  out.emit(kOut, std::move(p));
}

}  // namespace tributary::features

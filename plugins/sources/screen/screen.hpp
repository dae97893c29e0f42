#pragma once
// The X11 screen, or a region of it, as u8 video frames [height, width, channels], captured by
// GStreamer's ximagesrc and scaled by GStreamer.
//
//   [nodes.screen]
//   plugin = "screen"
//   fps = 10
//   out_width = 320
//   out_height = 180
//   format = "gray"
#include <cstdint>
#include <memory>
#include <string>

#include "gstreamer/reconnect.hpp"
#include "tributary/node.hpp"

namespace tributary::sources {

class GstStream;
struct MediaSample;

class Screen final : public Node {
 public:
  static constexpr const char* kType = "screen";
  static constexpr OutputPort kOut{"out", PayloadKind::video,
                                   "u8 frames [height, width, channels] (3 for rgb, 1 for gray) with attributes "
                                   "width, height, channels, format"};
  static void declare(NodeSpec& spec);

  Screen();
  ~Screen() override;

  void configure(const Params& params) override;
  void start() override;
  bool produce(Emitter& out) override;
  void flush(Emitter& out) override;
  void stop() override;
  SourceMode source_mode(SourceMode declared) const override;

 private:
  void open();
  void take(MediaSample&& sample, Emitter& out);
  bool lose_stream(const std::string& why);
  // Stops the capture, or keeps it aside for good when its X connection broke.
  void end_stream();
  [[noreturn]] void explain(const std::exception& error) const;
  std::string display_name() const;

  std::string display_;
  std::int64_t x_ = 0;
  std::int64_t y_ = 0;
  std::int64_t width_ = 0;
  std::int64_t height_ = 0;
  double fps_ = 10.0;
  std::int64_t out_width_ = 0;
  std::int64_t out_height_ = 0;
  bool gray_ = false;

  bool reconnect_ = false;
  std::unique_ptr<Reconnector> reconnector_;  // with reconnect = true
  std::uint64_t breaks_seen_ = 0;             // broken connections to the display seen so far

  std::unique_ptr<GstStream> stream_;
  std::uint64_t sequence_ = 0;  // written by GStreamer's streaming thread only
};

}  // namespace tributary::sources

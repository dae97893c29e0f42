#pragma once
// Any GStreamer launch description as a source: the node links an appsink after it and maps what
// arrives to tensors: raw audio to [samples, channels], raw video to u8 [height, width, channels],
// anything else to u8 bytes.
//
//   [nodes.cam]
//   plugin = "gst"
//   launch = "v4l2src ! videoconvert ! videoscale"
//   caps = "video/x-raw,format=RGB,width=320,height=240"
//   live = true
#include <cstdint>
#include <memory>
#include <string>

#include "gstreamer/reconnect.hpp"
#include "tributary/node.hpp"

namespace tributary::sources {

class GstStream;
class AudioChunker;
struct MediaSample;

class Gst final : public Node {
 public:
  static constexpr const char* kType = "gst";
  static constexpr OutputPort kOut{"out", PayloadKind::audio | PayloadKind::video | PayloadKind::blob,
                                   "raw audio as [samples, channels], raw video as u8 [height, width, channels], "
                                   "other buffers as u8 [bytes] blobs with a caps attribute"};
  static void declare(NodeSpec& spec);

  Gst();
  ~Gst() override;

  void configure(const Params& params) override;
  void start() override;
  bool produce(Emitter& out) override;
  void flush(Emitter& out) override;
  void stop() override;
  SourceMode source_mode(SourceMode declared) const override;

 private:
  void take(MediaSample&& sample, Emitter& out);
  void emit_audio(Emitter& out, Tensor samples, std::int64_t timestamp_ns, int rate);
  // Hands on the audio the chunker still holds.
  void finish_chunks(Emitter& out);
  void emit(Emitter& out, std::shared_ptr<Packet> packet);
  void open();
  bool lose_stream(Emitter& out, const std::string& why);
  [[noreturn]] void explain(const std::exception& error) const;

  std::string launch_;
  std::string caps_;
  bool live_ = false;
  std::int64_t chunk_ms_ = 0;
  bool reconnect_ = false;
  std::unique_ptr<Reconnector> reconnector_;  // live, with reconnect = true

  std::unique_ptr<GstStream> stream_;
  std::unique_ptr<AudioChunker> chunker_;
  int chunk_rate_ = 0;  // the rate the chunker was made for
  std::uint64_t sequence_ = 0;
  bool flushed_ = false;
};

}  // namespace tributary::sources

#pragma once
// Live or file audio through GStreamer, as f32 chunks [samples, channels].
//
//   [nodes.mic]
//   plugin = "audio"
//   device = "default"
//   rate = 16000
//   chunk_ms = 100
#include <atomic>
#include <cstdint>
#include <memory>
#include <string>

#include "gstreamer/reconnect.hpp"
#include "tributary/node.hpp"

namespace tributary::sources {

class GstStream;
class AudioChunker;
struct MediaSample;

class Audio final : public Node {
 public:
  static constexpr const char* kType = "audio";
  static constexpr OutputPort kOut{
      "out", PayloadKind::audio,
      "f32 chunks [samples, channels] with attributes sample_rate and channels; timestamp_ns: "
      "the first sample's capture time (monotonic clock) from a device, the time from "
      "the start from a file"};
  static void declare(NodeSpec& spec);

  Audio();
  ~Audio() override;

  void configure(const Params& params) override;
  void start() override;
  bool produce(Emitter& out) override;
  void flush(Emitter& out) override;
  void stop() override;
  SourceMode source_mode(SourceMode declared) const override;

 private:
  enum class Input { device, path, uri };

  void open();
  // Cuts a sample into chunks and emits them; on GStreamer's streaming thread when live.
  void take(MediaSample&& sample, Emitter& out);
  void emit_chunk(Emitter& out, Tensor chunk, std::int64_t timestamp_ns);
  // The error GStreamer reported, said in terms of this node's parameters.
  [[noreturn]] void explain(const std::exception& error) const;
  bool reconnect_after(const std::exception& error);
  void report_warnings();
  // Publishes capture/latency_ms and capture/latency_max_ms about once a second.
  void report_latency();
  // Throws when a PulseAudio device the node captures from went away.
  void check_device();

  Input input_ = Input::device;
  std::string device_;
  std::string path_;
  std::string uri_;
  int rate_ = 16000;
  int channels_ = 1;
  std::int64_t chunk_ms_ = 100;
  bool reconnect_ = false;

  std::unique_ptr<GstStream> stream_;
  std::unique_ptr<AudioChunker> chunker_;
  std::uint64_t sequence_ = 0;         // touched by one thread at a time: produce() or the streaming thread
  std::atomic<std::int64_t> gaps_{0};  // buffers the device marked as following lost data
  std::int64_t gaps_reported_ = 0;
  std::unique_ptr<Reconnector> reconnector_;  // with reconnect = true
  // Delays from capture to emission since the last report, summed on the streaming thread.
  std::atomic<std::int64_t> latency_sum_ns_{0};
  std::atomic<std::int64_t> latency_count_{0};
  std::atomic<std::int64_t> latency_max_ns_{0};
  std::int64_t latency_reported_at_ns_ = 0;
  bool flushed_ = false;
  bool pulse_device_ = false;
};

}  // namespace tributary::sources

#pragma once
// GStreamer samples as tensors, without copying where the layout allows, and audio cut into
// chunks of a fixed number of samples whatever the size of the buffers that carry it.
#include <cstdint>
#include <functional>
#include <optional>

#include "gstreamer/stream.hpp"
#include "tributary/tensor.hpp"

namespace tributary::sources {

// Interleaved raw audio as [samples, channels] of its sample type (F32LE -> f32, S16LE -> i16,
// S32LE -> i32, F64LE -> f64, U8 -> u8), wrapping the sample's memory.
// Throws std::invalid_argument for other layouts, naming the caps.
Tensor audio_tensor(const MediaSample& sample);
// Raw video with one plane (RGB, BGR, RGBA, BGRx..., GRAY8) as u8 [height, width, channels];
// rows padded by GStreamer are packed into a copy. Throws std::invalid_argument for other layouts.
Tensor video_tensor(const MediaSample& sample);
// Any other buffer as u8 [bytes].
Tensor byte_tensor(const MediaSample& sample);

// Cuts [samples, channels] tensors into chunks of `chunk` samples (0: as they come). A chunk that
// lies within one buffer is a view of it; one that spans buffers is copied.
class AudioChunker {
 public:
  using Sink = std::function<void(Tensor chunk, std::int64_t timestamp_ns)>;

  explicit AudioChunker(std::int64_t chunk) : chunk_(chunk) {}

  // `pts_ns` is the time of the buffer's first sample; without it the samples follow on.
  void push(const Tensor& samples, std::optional<std::int64_t> pts_ns, int rate, const Sink& sink);
  // Hands on the samples still waiting, as a shorter chunk.
  void finish(const Sink& sink);

 private:
  std::int64_t chunk_;
  Tensor pending_;
  std::int64_t filled_ = 0;
  std::int64_t pending_ns_ = 0;
  std::int64_t next_ns_ = 0;  // the time of the sample after the last one pushed
  int rate_ = 0;
};

// Nanoseconds spanned by `samples` at `rate`, without overflowing for long streams.
std::int64_t samples_to_ns(std::int64_t samples, int rate);

}  // namespace tributary::sources

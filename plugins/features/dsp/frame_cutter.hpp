#pragma once
// FrameCutter: cuts one channel of a signal, given in chunks of any size, into frames of `length`
// samples every `hop`, with the edge padding torch.stft(center=True) applies (reflect or
// constant, `pad` samples on each side) or none (Kaldi's snip_edges). The frames of a signal
// pushed in chunks are exactly the frames of the same signal pushed at once.
#include <cstddef>
#include <cstdint>
#include <vector>

namespace tributary::features {

enum class PadMode { constant, reflect };

class FrameCutter {
 public:
  FrameCutter() = default;
  FrameCutter(std::size_t length, std::size_t hop, std::size_t pad, PadMode mode);

  // Appends samples read with a stride (interleaved channels).
  void push(const float* samples, std::size_t count, std::size_t stride = 1);
  // Ends the signal: the right edge padding is added. Throws std::invalid_argument when reflect
  // padding needs more samples than the signal has (as torch.stft does).
  void finish();
  // Copies the next complete frame into `frame` (length() samples); false when none is ready.
  bool next(float* frame);

  std::size_t length() const noexcept { return length_; }
  std::uint64_t frames_cut() const noexcept { return frames_; }
  std::uint64_t samples_seen() const noexcept { return seen_; }

 private:
  void start_padding();

  std::size_t length_ = 0;
  std::size_t hop_ = 1;
  std::size_t pad_ = 0;
  PadMode mode_ = PadMode::reflect;

  std::vector<float> buffer_;  // padded signal from position base_ on
  std::size_t begin_ = 0;      // next frame's first sample within buffer_
  bool padded_left_ = false;
  bool finished_ = false;
  std::vector<float> head_;  // the first pad + 1 samples, until the left padding is written
  std::vector<float> tail_;  // the last pad + 1 samples, for the right padding
  std::uint64_t seen_ = 0;
  std::uint64_t frames_ = 0;
};

}  // namespace tributary::features

#include "dsp/frame_cutter.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace tributary::features {

FrameCutter::FrameCutter(std::size_t length, std::size_t hop, std::size_t pad, PadMode mode)
    : length_(length), hop_(hop), pad_(pad), mode_(mode) {
  if (length_ == 0 || hop_ == 0) throw std::invalid_argument("frame length and hop must be at least 1");
  if (pad_ == 0 || mode_ == PadMode::constant) {
    buffer_.assign(pad_, 0.0f);
    padded_left_ = true;
  }
}

void FrameCutter::start_padding() {
  // torch's reflect padding mirrors around the first sample, which it does not repeat.
  for (std::size_t i = 0; i < pad_; ++i) buffer_.push_back(head_[pad_ - i]);
  buffer_.insert(buffer_.end(), head_.begin(), head_.end());
  head_.clear();
  head_.shrink_to_fit();
  padded_left_ = true;
}

void FrameCutter::push(const float* samples, std::size_t count, std::size_t stride) {
  if (finished_) throw std::logic_error("FrameCutter::push after finish");
  if (count == 0) return;
  seen_ += count;
  if (pad_ > 0 && mode_ == PadMode::reflect) {
    // Only the last pad + 1 samples are ever read back.
    const std::size_t keep = pad_ + 1;
    const std::size_t from = count > keep ? count - keep : 0;
    if (from > 0) tail_.clear();
    for (std::size_t i = from; i < count; ++i) tail_.push_back(samples[i * stride]);
    if (tail_.size() > 2 * keep) tail_.erase(tail_.begin(), tail_.end() - static_cast<std::ptrdiff_t>(keep));
  }
  std::size_t i = 0;
  if (!padded_left_) {
    while (i < count && head_.size() < pad_ + 1) head_.push_back(samples[i++ * stride]);
    if (head_.size() < pad_ + 1) return;
    start_padding();
  }
  // Drop what no frame will read any more before growing the buffer.
  if (begin_ >= 8192) {
    const std::size_t drop = std::min(begin_, buffer_.size());
    buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<std::ptrdiff_t>(drop));
    begin_ -= drop;
  }
  const std::size_t old = buffer_.size();
  buffer_.resize(old + (count - i));
  for (std::size_t k = old; i < count; ++i, ++k) buffer_[k] = samples[i * stride];
}

void FrameCutter::finish() {
  if (finished_) return;
  if (pad_ > 0 && mode_ == PadMode::reflect) {
    if (seen_ < pad_ + 1) {
      throw std::invalid_argument("reflect padding of " + std::to_string(pad_) +
                                  " samples needs a signal of at least " + std::to_string(pad_ + 1) +
                                  " samples, found " + std::to_string(seen_) +
                                  " (use pad_mode = \"constant\" or a smaller n_fft)");
    }
    if (!padded_left_) start_padding();
    // Mirror around the last sample: x[N-2], x[N-3], ..., x[N-1-pad].
    const std::size_t n = tail_.size();
    for (std::size_t j = 0; j < pad_; ++j) buffer_.push_back(tail_[n - 2 - j]);
  } else {
    buffer_.insert(buffer_.end(), pad_, 0.0f);
  }
  finished_ = true;
}

bool FrameCutter::next(float* frame) {
  if (!padded_left_ || begin_ + length_ > buffer_.size()) return false;
  std::copy_n(buffer_.begin() + static_cast<std::ptrdiff_t>(begin_), length_, frame);
  begin_ += hop_;
  ++frames_;
  return true;
}

}  // namespace tributary::features

#include "gstreamer/tensors.hpp"

#include <cstring>
#include <stdexcept>
#include <string>

namespace tributary::sources {

namespace {

std::optional<DType> audio_dtype(const std::string& format) {
  if (format == "F32LE") return DType::f32;
  if (format == "S16LE") return DType::i16;
  if (format == "S32LE") return DType::i32;
  if (format == "F64LE") return DType::f64;
  if (format == "U8") return DType::u8;
  return std::nullopt;
}

}  // namespace

std::int64_t samples_to_ns(std::int64_t samples, int rate) {
  constexpr std::int64_t kNs = 1'000'000'000;
  return (samples / rate) * kNs + (samples % rate) * kNs / rate;
}

Tensor audio_tensor(const MediaSample& sample) {
  const MediaFormat& f = sample.format;
  const auto dtype = audio_dtype(f.format);
  if (f.kind != MediaFormat::Kind::audio || !dtype || !f.interleaved || f.channels <= 0) {
    throw std::invalid_argument("raw audio in caps '" + f.caps +
                                "' has no tensor layout: add `audioconvert ! audio/x-raw,format=F32LE,"
                                "layout=interleaved` before the end of the pipeline");
  }
  const auto frame = element_size(*dtype) * static_cast<std::size_t>(f.channels);
  const auto samples = static_cast<std::int64_t>(sample.size / frame);
  return Tensor::wrap(sample.owner, sample.data, *dtype, {samples, f.channels});
}

Tensor video_tensor(const MediaSample& sample) {
  const MediaFormat& f = sample.format;
  if (f.kind != MediaFormat::Kind::video || f.channels <= 0 || f.width <= 0 || f.height <= 0) {
    throw std::invalid_argument("raw video in caps '" + f.caps +
                                "' has no tensor layout: add `videoconvert ! video/x-raw,format=RGB` (or GRAY8) "
                                "before the end of the pipeline");
  }
  const auto row = static_cast<std::size_t>(f.width) * static_cast<std::size_t>(f.channels);
  const auto stride = static_cast<std::size_t>(f.stride);
  if (sample.size < stride * static_cast<std::size_t>(f.height - 1) + row) {
    throw std::invalid_argument("a video buffer of " + std::to_string(sample.size) + " bytes is too small for caps '" +
                                f.caps + "'");
  }
  const Shape shape{f.height, f.width, f.channels};
  if (stride == row) return Tensor::wrap(sample.owner, sample.data, DType::u8, shape);
  Tensor packed = Tensor::empty(DType::u8, shape);
  const auto* from = static_cast<const std::uint8_t*>(sample.data);
  auto* to = packed.data<std::uint8_t>();
  for (int y = 0; y < f.height; ++y) std::memcpy(to + y * row, from + y * stride, row);
  return packed;
}

Tensor byte_tensor(const MediaSample& sample) {
  return Tensor::wrap(sample.owner, sample.data, DType::u8, {static_cast<std::int64_t>(sample.size)});
}

void AudioChunker::push(const Tensor& samples, std::optional<std::int64_t> pts_ns, int rate, const Sink& sink) {
  const std::int64_t n = samples.dim(0);
  const std::int64_t channels = samples.dim(1);
  if (pending_.defined() && filled_ > 0 &&
      (pending_.dtype() != samples.dtype() || pending_.dim(1) != channels || rate != rate_)) {
    finish(sink);  // the format changed: what waits keeps the old one
  }
  rate_ = rate;
  const std::int64_t first_ns = pts_ns.value_or(next_ns_);
  next_ns_ = first_ns + samples_to_ns(n, rate);
  if (chunk_ <= 0) {
    if (n > 0) sink(samples, first_ns);
    return;
  }
  std::int64_t offset = 0;
  if (filled_ > 0) {
    const std::int64_t take = std::min(chunk_ - filled_, n);
    const std::size_t row = static_cast<std::size_t>(channels) * element_size(samples.dtype());
    std::memcpy(static_cast<std::uint8_t*>(pending_.raw()) + static_cast<std::size_t>(filled_) * row, samples.raw(),
                static_cast<std::size_t>(take) * row);
    filled_ += take;
    offset = take;
    if (filled_ == chunk_) {
      sink(pending_, pending_ns_);
      pending_ = Tensor();
      filled_ = 0;
    }
  }
  for (; offset + chunk_ <= n; offset += chunk_)
    sink(samples.slice(offset, offset + chunk_), first_ns + samples_to_ns(offset, rate));
  if (offset < n) {
    pending_ = Tensor::empty(samples.dtype(), {chunk_, channels});
    const std::size_t row = static_cast<std::size_t>(channels) * element_size(samples.dtype());
    std::memcpy(pending_.raw(),
                static_cast<const std::uint8_t*>(samples.raw()) + static_cast<std::size_t>(offset) * row,
                static_cast<std::size_t>(n - offset) * row);
    filled_ = n - offset;
    pending_ns_ = first_ns + samples_to_ns(offset, rate);
  }
}

void AudioChunker::finish(const Sink& sink) {
  if (filled_ > 0) sink(pending_.slice(0, filled_), pending_ns_);
  pending_ = Tensor();
  filled_ = 0;
}

}  // namespace tributary::sources

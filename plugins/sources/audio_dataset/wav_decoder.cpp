#include "audio_dataset/wav_decoder.hpp"

#include <fcntl.h>
#include <gst/audio/audio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <numeric>

#include "audio_dataset/wav_header.hpp"
#include "gstreamer/stream.hpp"

namespace tributary::sources {

namespace {

// Enough for the header and a 1 s clip of 16 kHz 16-bit mono in one read.
constexpr std::size_t kHeadBytes = 64 * 1024;
// Frames read and converted a round, past the first bytes.
constexpr std::size_t kReadFrames = 32 * 1024;

GstAudioFormat gst_format_of(WavSample sample) {
  switch (sample) {
    case WavSample::u8:
      return GST_AUDIO_FORMAT_U8;
    case WavSample::s16:
      return GST_AUDIO_FORMAT_S16LE;
    case WavSample::s24:
      return GST_AUDIO_FORMAT_S24LE;
    case WavSample::s32:
      return GST_AUDIO_FORMAT_S32LE;
    case WavSample::f32:
      return GST_AUDIO_FORMAT_F32LE;
    case WavSample::f64:
      return GST_AUDIO_FORMAT_F64LE;
  }
  return GST_AUDIO_FORMAT_UNKNOWN;
}

// Channel positions as wavparse and audioconvert give them: mono and stereo without a mask, more
// channels by the file's mask when it names one position per channel, else GStreamer's default
// layout for that many.
void set_info(GstAudioInfo& info, GstAudioFormat format, int rate, int channels, std::uint64_t mask) {
  if (channels <= 2) {
    gst_audio_info_set_format(&info, format, rate, channels, nullptr);
    return;
  }
  GstAudioChannelPosition positions[64];
  if (mask == 0 || __builtin_popcountll(mask) != channels) mask = gst_audio_channel_get_fallback_mask(channels);
  const bool positioned = mask != 0 && gst_audio_channel_positions_from_mask(channels, mask, positions);
  gst_audio_info_set_format(&info, format, rate, channels, positioned ? positions : nullptr);
}

// Closes a file descriptor when it goes.
struct FileDescriptor {
  int fd = -1;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

std::size_t read_at(int fd, std::uint64_t offset, char* to, std::size_t n) {
  std::size_t done = 0;
  while (done < n) {
    const ssize_t got = ::pread(fd, to + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got <= 0) break;
    done += static_cast<std::size_t>(got);
  }
  return done;
}

}  // namespace

// The two steps of `audioconvert ! audioresample`, each as its element sets it up, so the
// clips are the ones that pipeline gives (the resampler also runs in f32, as there).
struct WavDecoder::Converter {
  WavSample sample;
  int rate;
  int channels;
  std::uint32_t mask;
  // To f32 with the clip's channels at the file's rate; null when the file's samples are that.
  GstAudioConverter* convert = nullptr;
  // To the clip's rate; null when the file is at it.
  GstAudioConverter* resample = nullptr;
  // The resampler's phase comes back to where it starts every `cycle` output frames (the output
  // rate over its greatest common divisor with the input rate); `produced` counts the frames
  // since it last did.
  std::size_t cycle = 1;
  std::size_t produced = 0;
  ~Converter() {
    if (convert != nullptr) gst_audio_converter_free(convert);
    if (resample != nullptr) gst_audio_converter_free(resample);
  }

  // Back to the state of a new resampler, so every file is decoded as if it came first.
  // gst_audio_converter_reset() empties the filter's history but keeps the resampler's phase:
  // after a file that ended within a cycle, the next would be resampled at an offset of a
  // fraction of a sample. Silence run through to the end of the cycle brings the phase back.
  void restart(std::vector<float>& scratch, std::size_t out_channels) {
    if (resample == nullptr) return;
    const std::size_t rest = (cycle - produced % cycle) % cycle;
    if (rest > 0) {
      const std::size_t taps = 2 * gst_audio_converter_get_max_latency(resample);
      std::size_t in_frames = gst_audio_converter_get_in_frames(resample, rest) + taps;
      while (gst_audio_converter_get_out_frames(resample, in_frames) < rest) in_frames += taps + 1;
      scratch.resize(rest * out_channels);
      gpointer out[1] = {scratch.data()};
      gst_audio_converter_samples(resample, GST_AUDIO_CONVERTER_FLAG_NONE, nullptr, in_frames, out, rest);
    }
    gst_audio_converter_reset(resample);
    produced = 0;
  }
};

WavDecoder::WavDecoder(int rate, int channels) : rate_(rate), channels_(channels) { ensure_gstreamer(); }

WavDecoder::~WavDecoder() = default;

WavDecoder::Converter* WavDecoder::converter_for(const WavFormat& format) {
  const std::uint32_t mask = format.channels > 2 ? format.channel_mask : 0;
  for (const auto& c : converters_) {
    if (c->sample == format.sample && c->rate == format.rate && c->channels == format.channels && c->mask == mask) {
      return c.get();
    }
  }
  GstAudioInfo in;
  GstAudioInfo converted;
  GstAudioInfo out;
  set_info(in, gst_format_of(format.sample), format.rate, format.channels, mask);
  set_info(converted, GST_AUDIO_FORMAT_F32LE, format.rate, channels_, 0);
  set_info(out, GST_AUDIO_FORMAT_F32LE, rate_, channels_, 0);
  auto converter = std::make_unique<Converter>();
  converter->sample = format.sample;
  converter->rate = format.rate;
  converter->channels = format.channels;
  converter->mask = mask;
  if (!gst_audio_info_is_equal(&in, &converted)) {
    converter->convert = gst_audio_converter_new(GST_AUDIO_CONVERTER_FLAG_NONE, &in, &converted, nullptr);
    if (converter->convert == nullptr) return nullptr;
  }
  if (format.rate != rate_) {
    // audioresample's defaults, as it hands them to its converter.
    GstStructure* config = gst_structure_new_empty("GstAudioConverter.config");
    gst_audio_resampler_options_set_quality(GST_AUDIO_RESAMPLER_METHOD_KAISER, GST_AUDIO_RESAMPLER_QUALITY_DEFAULT,
                                            format.rate, rate_, config);
    gst_structure_set(config, GST_AUDIO_CONVERTER_OPT_RESAMPLER_METHOD, GST_TYPE_AUDIO_RESAMPLER_METHOD,
                      GST_AUDIO_RESAMPLER_METHOD_KAISER, GST_AUDIO_RESAMPLER_OPT_FILTER_MODE,
                      GST_TYPE_AUDIO_RESAMPLER_FILTER_MODE, GST_AUDIO_RESAMPLER_FILTER_MODE_AUTO,
                      GST_AUDIO_RESAMPLER_OPT_FILTER_MODE_THRESHOLD, G_TYPE_UINT, 1048576u,
                      GST_AUDIO_RESAMPLER_OPT_FILTER_INTERPOLATION, GST_TYPE_AUDIO_RESAMPLER_FILTER_INTERPOLATION,
                      GST_AUDIO_RESAMPLER_FILTER_INTERPOLATION_CUBIC, nullptr);
    converter->resample =  // takes the config
        gst_audio_converter_new(GST_AUDIO_CONVERTER_FLAG_VARIABLE_RATE, &converted, &out, config);
    if (converter->resample == nullptr) return nullptr;
    converter->cycle = static_cast<std::size_t>(rate_ / std::gcd(format.rate, rate_));
  }
  converters_.push_back(std::move(converter));
  return converters_.back().get();
}

std::optional<Tensor> WavDecoder::decode(const std::string& path, std::int64_t frames, std::string& why) {
  FileDescriptor file{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK)};
  struct stat status {};
  if (file.fd < 0 || ::fstat(file.fd, &status) != 0 || !S_ISREG(status.st_mode)) {
    why.clear();  // nothing to say about its header: the caller's decoder names the problem
    return std::nullopt;
  }
  const auto file_size = static_cast<std::uint64_t>(status.st_size);
  head_.resize(std::min<std::uint64_t>(file_size, kHeadBytes));
  head_.resize(read_at(file.fd, 0, head_.data(), head_.size()));
  const int fd = file.fd;
  const auto read = [this, fd](std::uint64_t offset, char* to, std::size_t n) -> std::size_t {
    if (offset + n <= head_.size()) {
      std::memcpy(to, head_.data() + offset, n);
      return n;
    }
    return read_at(fd, offset, to, n);
  };
  const WavHeader header = parse_wav_header(read, file_size);
  if (!header.format) {
    why = header.refused;
    return std::nullopt;
  }
  const WavFormat& format = *header.format;
  Converter* converter = converter_for(format);
  if (converter == nullptr) {
    why = std::string("GStreamer cannot convert ") + to_string(format.sample) + " at " + std::to_string(format.rate) +
          " Hz, " + std::to_string(format.channels) + " channels";
    return std::nullopt;
  }
  const auto channels = static_cast<std::size_t>(channels_);
  converter->restart(spill_, channels);
  GstAudioConverter* convert = converter->convert;
  GstAudioConverter* resample = converter->resample;

  const auto wanted = static_cast<std::size_t>(frames);
  Tensor clip = Tensor::empty(DType::f32, {frames, channels_});
  float* out = clip.data<float>();
  const auto frame_bytes = static_cast<std::size_t>(format.block_align);
  // 24-bit samples are read byte by byte; the others as 2, 4 or 8-byte words.
  const std::size_t sample_bytes = frame_bytes / static_cast<std::size_t>(format.channels);
  const std::size_t sample_alignment = sample_bytes == 3 ? 1 : sample_bytes;
  const std::size_t latency = resample != nullptr ? gst_audio_converter_get_max_latency(resample) : 0;
  std::uint64_t at = format.data_offset;
  const std::uint64_t end = format.data_offset + format.data_bytes;
  std::size_t filled = 0;
  // Resamples `in_frames` converted frames (none: the filter's tail, drained with silence) into
  // the clip; what passes its end is dropped.
  const auto resample_into_clip = [&](const float* in, std::size_t in_frames) {
    const std::size_t out_frames = gst_audio_converter_get_out_frames(resample, in_frames);
    const std::size_t room = wanted - filled;
    float* to = out + filled * channels;
    if (out_frames > room) {
      spill_.resize(out_frames * channels);
      to = spill_.data();
    }
    gpointer in_planes[1] = {const_cast<float*>(in)};
    gpointer out_planes[1] = {to};
    gst_audio_converter_samples(resample, GST_AUDIO_CONVERTER_FLAG_NONE, in != nullptr ? in_planes : nullptr, in_frames,
                                out_planes, out_frames);
    converter->produced += out_frames;
    if (out_frames > room) std::memcpy(out + filled * channels, spill_.data(), room * channels * sizeof(float));
    filled += std::min(out_frames, room);
  };
  // Converts `in_frames` frames of the file into the clip, through the resampler if there is one.
  const auto decode_into_clip = [&](const char* in, std::size_t in_frames) {
    const bool direct = resample == nullptr && in_frames <= wanted - filled;
    converted_.resize(direct ? 0 : in_frames * channels);
    float* to = direct ? out + filled * channels : converted_.data();
    if (convert != nullptr) {
      gpointer in_planes[1] = {const_cast<char*>(in)};
      gpointer out_planes[1] = {to};
      gst_audio_converter_samples(convert, GST_AUDIO_CONVERTER_FLAG_NONE, in_planes, in_frames, out_planes, in_frames);
    } else {
      std::memcpy(to, in, in_frames * channels * sizeof(float));
    }
    if (resample != nullptr) {
      resample_into_clip(to, in_frames);
    } else {
      if (!direct) std::memcpy(out + filled * channels, to, (wanted - filled) * channels * sizeof(float));
      filled += std::min(in_frames, wanted - filled);
    }
  };
  while (filled < wanted && at < end) {
    // What the rest of the clip needs, with the filter's look-ahead: no more of the file is read.
    // At most kReadFrames a round, so a long clip is not read into memory at once.
    const std::size_t need = std::min<std::size_t>(
        kReadFrames, resample != nullptr ? gst_audio_converter_get_in_frames(resample, wanted - filled) + latency + 1
                                         : wanted - filled);
    const std::size_t in_frames = static_cast<std::size_t>(std::min<std::uint64_t>(need, (end - at) / frame_bytes));
    const std::size_t bytes = in_frames * frame_bytes;
    const char* in = nullptr;
    if (at + bytes <= head_.size()) {
      // In place when aligned for the samples' type (the converter reads them as such).
      if (at % sample_alignment == 0) {
        in = head_.data() + at;
      } else {
        input_.assign(head_.data() + at, head_.data() + at + bytes);
        in = input_.data();
      }
    } else {
      input_.resize(bytes);
      const std::size_t got = read_at(fd, at, input_.data(), bytes);
      if (got < bytes) {  // the file got shorter since it was opened: decode what is there
        if (got >= frame_bytes) decode_into_clip(input_.data(), got / frame_bytes);
        break;
      }
      in = input_.data();
    }
    decode_into_clip(in, in_frames);
    at += bytes;
  }
  if (filled < wanted && latency > 0) resample_into_clip(nullptr, latency);
  std::fill(out + filled * channels, out + wanted * channels, 0.0f);
  return clip;
}

}  // namespace tributary::sources

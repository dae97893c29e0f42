#include "audio_dataset/wav_header.hpp"

#include <algorithm>
#include <cctype>
#include <cstdio>
#include <cstring>

namespace tributary::sources {

namespace {

constexpr std::uint16_t kPcm = 0x0001;
constexpr std::uint16_t kFloat = 0x0003;
constexpr std::uint16_t kExtensible = 0xFFFE;
// Above this a header is taken as broken (768 kHz is the highest rate audio hardware offers).
constexpr std::uint32_t kMaxRate = 768000;
// The 14 bytes after the format code in a KSDATAFORMAT_SUBTYPE GUID (PCM, IEEE_FLOAT, ...).
constexpr unsigned char kGuidTail[14] = {0x00, 0x00, 0x00, 0x00, 0x10, 0x00, 0x80,
                                         0x00, 0x00, 0xAA, 0x00, 0x38, 0x9B, 0x71};

std::uint16_t u16(const char* p) {
  return static_cast<std::uint16_t>(static_cast<unsigned char>(p[0]) | static_cast<unsigned char>(p[1]) << 8);
}

std::uint32_t u32(const char* p) {
  return static_cast<std::uint32_t>(u16(p)) | static_cast<std::uint32_t>(u16(p + 2)) << 16;
}

// A four-character code as text, with anything unprintable as \xNN.
std::string fourcc(const char* p) {
  std::string out;
  for (int i = 0; i < 4; ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (std::isprint(c)) {
      out += static_cast<char>(c);
    } else {
      static const char* digits = "0123456789abcdef";
      out += "\\x";
      out += digits[c >> 4];
      out += digits[c & 15];
    }
  }
  return out;
}

std::string hex16(std::uint16_t v) {
  static const char* digits = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = 12; shift >= 0; shift -= 4) out += digits[(v >> shift) & 15];
  return out;
}

// The names of the encodings a WAV file most often holds that are not read here.
const char* encoding_name(std::uint16_t tag) {
  switch (tag) {
    case 0x0002:
      return "Microsoft ADPCM";
    case 0x0006:
      return "A-law";
    case 0x0007:
      return "mu-law";
    case 0x0011:
      return "IMA ADPCM";
    case 0x0031:
      return "GSM 6.10";
    case 0x0050:
      return "MPEG";
    case 0x0055:
      return "MPEG layer 3";
    case 0x00FF:
      return "AAC";
    default:
      return nullptr;
  }
}

std::string encoding(std::uint16_t tag) {
  const char* name = encoding_name(tag);
  return "format tag " + hex16(tag) + (name != nullptr ? std::string(" (") + name + ")" : std::string());
}

WavHeader refuse(std::string why) { return {std::nullopt, std::move(why)}; }

std::optional<WavSample> sample_of(std::uint16_t code, int bits) {
  if (code == kPcm) {
    switch (bits) {
      case 8:
        return WavSample::u8;
      case 16:
        return WavSample::s16;
      case 24:
        return WavSample::s24;
      case 32:
        return WavSample::s32;
      default:
        return std::nullopt;
    }
  }
  if (code == kFloat && bits == 32) return WavSample::f32;
  if (code == kFloat && bits == 64) return WavSample::f64;
  return std::nullopt;
}

// The fmt chunk's `size` bytes at `body`; fills everything of `format` but where the data is.
std::string read_fmt(const char* body, std::uint32_t size, WavFormat& format) {
  if (size < 16) return "the fmt chunk is " + std::to_string(size) + " bytes long, shorter than the 16 of PCM";
  std::uint16_t code = u16(body);
  const bool extensible = code == kExtensible;
  const int channels = u16(body + 2);
  const std::uint32_t rate = u32(body + 4);
  const int block_align = u16(body + 12);
  const int bits = u16(body + 14);
  if (code == kExtensible) {
    if (size < 40 || u16(body + 16) < 22) {
      return "the fmt chunk of a WAVE_FORMAT_EXTENSIBLE file is " + std::to_string(size) +
             " bytes long, shorter than its 40";
    }
    const int valid_bits = u16(body + 18);
    format.channel_mask = u32(body + 20);
    if (std::memcmp(body + 26, kGuidTail, sizeof kGuidTail) != 0) {
      return "WAVE_FORMAT_EXTENSIBLE with a sub-format GUID that is not a KSDATAFORMAT_SUBTYPE";
    }
    code = u16(body + 24);
    if (code != kPcm && code != kFloat) return "WAVE_FORMAT_EXTENSIBLE holding " + encoding(code);
    if (valid_bits != 0 && valid_bits != bits) {
      return std::to_string(valid_bits) + " valid bits in samples of " + std::to_string(bits) + " bits";
    }
  } else if (code != kPcm && code != kFloat) {
    return encoding(code) + ", not PCM or IEEE float";
  }
  const auto sample = sample_of(code, bits);
  if (!sample) {
    return std::string(code == kPcm ? "PCM" : "IEEE float") + " samples of " + std::to_string(bits) + " bits";
  }
  if (channels == 0 || channels > 64) return std::to_string(channels) + " channels";
  if (rate == 0 || rate > kMaxRate) return "a sample rate of " + std::to_string(rate) + " Hz";
  // WAV's channel mask and GStreamer's agree on the first nine positions only (front left to back
  // centre), and wavparse places channels without a mask in its own orders: such files go to it.
  const std::uint32_t mask = format.channel_mask;
  const bool mask_fits = mask != 0 && (mask & ~0x1FFu) == 0 && __builtin_popcount(mask) == channels;
  if (extensible && mask != 0 && !mask_fits) {
    char text[16];
    std::snprintf(text, sizeof text, "0x%X", static_cast<unsigned>(mask));
    return std::to_string(channels) + " channels with the channel mask " + text +
           ", whose positions are not all among the first nine";
  }
  if (channels > 2 && !mask_fits) return std::to_string(channels) + " channels without a channel mask";
  if (block_align != channels * bits / 8) {
    return "a block align of " + std::to_string(block_align) + " bytes for " + std::to_string(channels) +
           " channels of " + std::to_string(bits) + " bits";
  }
  format.sample = *sample;
  format.channels = channels;
  format.rate = static_cast<int>(rate);
  format.block_align = block_align;
  return {};
}

}  // namespace

const char* to_string(WavSample sample) {
  switch (sample) {
    case WavSample::u8:
      return "u8";
    case WavSample::s16:
      return "s16";
    case WavSample::s24:
      return "s24";
    case WavSample::s32:
      return "s32";
    case WavSample::f32:
      return "f32";
    case WavSample::f64:
      return "f64";
  }
  return "?";
}

WavHeader parse_wav_header(const ReadAt& read, std::uint64_t file_size) {
  char riff[12];
  if (file_size < sizeof riff || read(0, riff, sizeof riff) < sizeof riff) {
    return refuse("the file is " + std::to_string(file_size) + " bytes long, shorter than a RIFF header");
  }
  if (std::memcmp(riff, "RIFF", 4) != 0) return refuse("not a RIFF file: it starts with '" + fourcc(riff) + "'");
  if (std::memcmp(riff + 8, "WAVE", 4) != 0) {
    return refuse("a RIFF file of form '" + fourcc(riff + 8) + "', not WAVE");
  }
  WavFormat format;
  bool have_fmt = false;
  std::uint64_t at = sizeof riff;
  for (;;) {
    char chunk[8];
    if (at + sizeof chunk > file_size || read(at, chunk, sizeof chunk) < sizeof chunk) {
      return refuse(have_fmt ? "no data chunk" : "no fmt chunk");
    }
    const std::uint32_t size = u32(chunk + 4);
    const std::uint64_t body = at + sizeof chunk;
    if (std::memcmp(chunk, "fmt ", 4) == 0) {
      if (have_fmt) return refuse("a second fmt chunk at byte " + std::to_string(at));
      if (body + size > file_size) return refuse("the fmt chunk runs past the end of the file");
      char fmt[40] = {};
      const std::size_t wanted = std::min<std::size_t>(size, sizeof fmt);
      if (read(body, fmt, wanted) < wanted) return refuse("the fmt chunk could not be read");
      std::string why = read_fmt(fmt, size, format);
      if (!why.empty()) return refuse(std::move(why));
      have_fmt = true;
    } else if (std::memcmp(chunk, "data", 4) == 0) {
      if (!have_fmt) return refuse("the data chunk comes before the fmt chunk");
      format.data_offset = body;
      const std::uint64_t rest = file_size - body;
      // A size of 0 or 0xFFFFFFFF is what a writer leaves when it streams the file; one past the
      // end is a cut file: both mean the samples go to the end, as wavparse reads them.
      const bool to_end = size == 0 || size == 0xFFFFFFFFu || size > rest;
      format.data_bytes = to_end ? rest : size;
      format.data_bytes -= format.data_bytes % static_cast<std::uint64_t>(format.block_align);
      return {format, {}};
    }
    at = body + size + (size & 1u);  // chunks are padded to an even size
  }
}

WavHeader parse_wav_header(std::string_view bytes) {
  return parse_wav_header(
      [bytes](std::uint64_t offset, char* to, std::size_t n) -> std::size_t {
        if (offset >= bytes.size()) return 0;
        const std::size_t count = std::min<std::size_t>(n, bytes.size() - static_cast<std::size_t>(offset));
        std::memcpy(to, bytes.data() + offset, count);
        return count;
      },
      bytes.size());
}

}  // namespace tributary::sources

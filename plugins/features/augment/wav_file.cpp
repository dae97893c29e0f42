#include "augment/wav_file.hpp"

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iterator>
#include <stdexcept>

namespace tributary::features {

namespace {

std::uint32_t u32(const unsigned char* p) {
  return static_cast<std::uint32_t>(p[0]) | (static_cast<std::uint32_t>(p[1]) << 8) |
         (static_cast<std::uint32_t>(p[2]) << 16) | (static_cast<std::uint32_t>(p[3]) << 24);
}
std::uint16_t u16(const unsigned char* p) { return static_cast<std::uint16_t>(p[0] | (p[1] << 8)); }

}  // namespace

WavAudio read_wav(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error(path + ": cannot open");
  const std::vector<unsigned char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < 12 || std::memcmp(bytes.data(), "RIFF", 4) != 0 || std::memcmp(bytes.data() + 8, "WAVE", 4) != 0) {
    throw std::runtime_error(path + ": not a RIFF/WAVE file");
  }
  std::uint16_t format = 0;
  std::uint16_t channels = 0;
  std::uint16_t bits = 0;
  WavAudio audio;
  std::size_t at = 12;
  while (at + 8 <= bytes.size()) {
    const unsigned char* chunk = bytes.data() + at;
    const std::size_t size = u32(chunk + 4);
    const unsigned char* body = chunk + 8;
    const std::size_t available = std::min(size, bytes.size() - at - 8);
    if (std::memcmp(chunk, "fmt ", 4) == 0 && available >= 16) {
      format = u16(body);
      channels = u16(body + 2);
      audio.sample_rate = u32(body + 4);
      bits = u16(body + 14);
      if (format == 0xFFFE && available >= 26) format = u16(body + 24);  // WAVE_FORMAT_EXTENSIBLE
    } else if (std::memcmp(chunk, "data", 4) == 0) {
      if (channels == 0) throw std::runtime_error(path + ": data before the fmt chunk");
      const bool pcm16 = format == 1 && bits == 16;
      const bool pcm32 = format == 1 && bits == 32;
      const bool float32 = format == 3 && bits == 32;
      if (!pcm16 && !pcm32 && !float32) {
        throw std::runtime_error(path + ": unsupported WAV encoding (format " + std::to_string(format) + ", " +
                                 std::to_string(bits) + " bits): use 16-bit PCM or 32-bit float");
      }
      const std::size_t width = bits / 8;
      const std::size_t frames = available / (width * channels);
      audio.samples.assign(frames, 0.0f);
      for (std::size_t i = 0; i < frames; ++i) {
        double sum = 0.0;
        for (std::size_t c = 0; c < channels; ++c) {
          const unsigned char* s = body + (i * channels + c) * width;
          if (pcm16) {
            sum += static_cast<std::int16_t>(u16(s)) / 32768.0;
          } else if (pcm32) {
            sum += static_cast<std::int32_t>(u32(s)) / 2147483648.0;
          } else {
            float f = 0.0f;
            std::memcpy(&f, s, 4);
            sum += f;
          }
        }
        audio.samples[i] = static_cast<float>(sum / channels);
      }
      return audio;
    }
    at += 8 + size + (size % 2);
  }
  throw std::runtime_error(path + ": no data chunk");
}

}  // namespace tributary::features

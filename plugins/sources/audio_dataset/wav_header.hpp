#pragma once
// The header of a RIFF/WAVE file: the sample format of its `fmt ` chunk and where its `data`
// chunk lies, for the uncompressed encodings (PCM integer and IEEE float, also inside
// WAVE_FORMAT_EXTENSIBLE). Anything else is refused with the reason, so the caller can hand the
// file to a full decoder (decodebin) instead.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>

namespace tributary::sources {

enum class WavSample { u8, s16, s24, s32, f32, f64 };

// "u8", "s16", ... for messages.
const char* to_string(WavSample sample);

struct WavFormat {
  WavSample sample = WavSample::s16;
  int channels = 0;
  int rate = 0;
  int block_align = 0;             // bytes per frame: channels x bytes per sample
  std::uint32_t channel_mask = 0;  // WAVE_FORMAT_EXTENSIBLE's dwChannelMask; 0 when not given
  std::uint64_t data_offset = 0;   // where the samples start in the file
  // Bytes of samples: the data chunk's size, or up to the end of the file when the size is 0,
  // 0xFFFFFFFF (a file written as a stream) or runs past the end (a truncated file); always a
  // whole number of frames.
  std::uint64_t data_bytes = 0;

  std::uint64_t frames() const { return block_align > 0 ? data_bytes / static_cast<std::uint64_t>(block_align) : 0; }
};

struct WavHeader {
  std::optional<WavFormat> format;
  std::string refused;  // why there is no format: what the header holds that is not read here
};

// Reads up to `n` bytes at `offset` into `to`; returns how many it read (fewer at the end).
using ReadAt = std::function<std::size_t(std::uint64_t offset, char* to, std::size_t n)>;

// Parses the header of a file of `file_size` bytes read through `read`.
WavHeader parse_wav_header(const ReadAt& read, std::uint64_t file_size);
// The same on a whole file held in memory.
WavHeader parse_wav_header(std::string_view bytes);

}  // namespace tributary::sources

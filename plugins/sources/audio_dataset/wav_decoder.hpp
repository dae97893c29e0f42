#pragma once
// Uncompressed WAV files into clips without a pipeline: the node parses the header itself and
// converts, mixes and resamples with GStreamer's own audio library (GstAudioConverter, in the two
// steps of audioconvert ! audioresample, each set up as its element does: the resampler a Kaiser
// windowed sinc of quality 4, in f32). One decoder per thread; it keeps the converters of each
// input format, reset between files, so a uniform data set builds nothing per file.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tributary/tensor.hpp"

namespace tributary::sources {

struct WavFormat;

class WavDecoder {
 public:
  // Clips of `channels` channels at `rate` samples per second.
  WavDecoder(int rate, int channels);
  ~WavDecoder();
  WavDecoder(const WavDecoder&) = delete;
  WavDecoder& operator=(const WavDecoder&) = delete;

  // The first `frames` frames of the file at `path`, f32 [frames, channels], zero-padded past
  // the end of the file's samples. Only what fills the clip is read. nullopt for a file this does
  // not read, with `why` saying what in its header is not read here (another encoding, a broken
  // header), or empty when the file cannot be opened: the caller's full decoder decodes it or
  // says what is wrong with it.
  std::optional<Tensor> decode(const std::string& path, std::int64_t frames, std::string& why);

 private:
  struct Converter;
  Converter* converter_for(const WavFormat& format);

  int rate_;
  int channels_;
  std::vector<std::unique_ptr<Converter>> converters_;
  std::vector<char> head_;        // the file's first bytes, read at once
  std::vector<char> input_;       // samples read beyond them
  std::vector<float> converted_;  // samples in f32 with the clip's channels, before resampling
  std::vector<float> spill_;      // output past the clip's end
};

}  // namespace tributary::sources

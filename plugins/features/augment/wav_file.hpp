#pragma once
// Reads RIFF/WAVE files: 16-bit or 32-bit integer PCM, or 32-bit float; channels mixed to mono.
#include <string>
#include <vector>

namespace tributary::features {

struct WavAudio {
  std::vector<float> samples;  // mono, in [-1, 1) for integer PCM
  double sample_rate = 0.0;
};

// Throws std::runtime_error naming the file and what is wrong with it.
WavAudio read_wav(const std::string& path);

}  // namespace tributary::features

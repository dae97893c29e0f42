#pragma once
// Power to decibels and the top_db floor, as torchaudio.transforms.AmplitudeToDB does them.
#include <algorithm>
#include <cmath>
#include <cstddef>

namespace tributary::features {

// 10 log10(max(x, amin)) for power (multiplier 10), 20 log10 for magnitude (multiplier 20).
// (As multiplier / ln 10 times the natural log: glibc's logf is the faster of the two.)
inline float to_decibels(float x, float multiplier, float amin = 1e-10f) {
  constexpr float kLog10E = 0.43429448190325182765f;
  return multiplier * kLog10E * std::log(std::max(x, amin));
}

// Raises every value to at least peak - top_db.
inline void floor_decibels(float* values, std::size_t count, double peak, double top_db) {
  const auto floor = static_cast<float>(peak - top_db);
  for (std::size_t i = 0; i < count; ++i) values[i] = std::max(values[i], floor);
}

}  // namespace tributary::features

#pragma once
// The q-quantile of a sample (nearest rank), as the latency benchmarks report p50 and p99.
#include <algorithm>
#include <cstddef>
#include <vector>

inline double quantile(std::vector<double> x, double q) {
  if (x.empty()) return 0.0;
  std::sort(x.begin(), x.end());
  return x[std::min(x.size() - 1, static_cast<std::size_t>(q * static_cast<double>(x.size() - 1) + 0.5))];
}

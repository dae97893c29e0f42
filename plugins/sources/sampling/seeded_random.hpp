#pragma once
// A seedable generator whose sequence is the same on every platform and standard library
// (std::normal_distribution is not), so a seed names one data set everywhere.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <numeric>
#include <utility>
#include <vector>

namespace tributary::sources {

class SeededRandom {
 public:
  explicit SeededRandom(std::uint64_t seed) {
    // xoshiro256** seeded through splitmix64, as its authors recommend.
    for (auto& word : state_) word = splitmix64(seed);
  }

  // Combines a seed with a sub-stream index (an epoch, a purpose) into an independent seed.
  static std::uint64_t derive(std::uint64_t seed, std::uint64_t stream) {
    std::uint64_t x = seed ^ (stream * 0xd1b54a32d192ed03ULL + 0x8cb92ba72f3d8dd7ULL);
    return splitmix64(x);
  }

  std::uint64_t next() {
    const std::uint64_t result = rotl(state_[1] * 5, 7) * 9;
    const std::uint64_t t = state_[1] << 17;
    state_[2] ^= state_[0];
    state_[3] ^= state_[1];
    state_[1] ^= state_[2];
    state_[0] ^= state_[3];
    state_[2] ^= t;
    state_[3] = rotl(state_[3], 45);
    return result;
  }

  // Uniform in [0, 1), 53 random bits.
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }

  // Uniform integer in [0, n), without modulo bias; n > 0.
  std::uint64_t below(std::uint64_t n) {
    const std::uint64_t limit = (~std::uint64_t{0} / n) * n;
    std::uint64_t x = next();
    while (x >= limit) x = next();
    return x % n;
  }

  // Standard normal (Box-Muller; the second value of each pair is kept for the next call).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u = uniform();
    while (u <= 0.0) u = uniform();
    const double v = uniform();
    const double radius = std::sqrt(-2.0 * std::log(u));
    const double angle = 6.283185307179586476925 * v;
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

 private:
  static std::uint64_t rotl(std::uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
  static std::uint64_t splitmix64(std::uint64_t& x) {
    std::uint64_t z = (x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }

  std::uint64_t state_[4] = {};
  double spare_ = 0.0;
  bool has_spare_ = false;
};

// The order in which a data source visits its items in `epoch`: 0, 1, 2... or, when shuffled, a
// permutation drawn from the seed's sub-stream `stream` and the epoch, the same on every run.
inline void epoch_order(std::vector<std::size_t>& order, bool shuffle, std::uint64_t seed, std::uint64_t stream,
                        std::int64_t epoch) {
  std::iota(order.begin(), order.end(), std::size_t{0});
  if (!shuffle) return;
  SeededRandom random(SeededRandom::derive(SeededRandom::derive(seed, stream), static_cast<std::uint64_t>(epoch)));
  for (std::size_t i = order.size(); i > 1; --i) {
    std::swap(order[i - 1], order[static_cast<std::size_t>(random.below(i))]);
  }
}

}  // namespace tributary::sources

#pragma once
// The train/val/test fractions a source assigns its examples by, declared as the `split`
// parameter and checked in one place for every source that takes it.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "tributary/node.hpp"
#include "tributary/packet.hpp"
#include "tributary/param.hpp"

namespace tributary::sources {

class SeededRandom;

class SplitFractions {
 public:
  // Declares the `split` parameter: [train, val, test], default [0.8, 0.1, 0.1].
  static void declare(NodeSpec& spec);
  // Reads `split`; throws ParamError when it does not hold three fractions summing to 1.
  static SplitFractions from(const Params& params);

  // One split drawn at random with these probabilities, for endless streams.
  Split draw(SeededRandom& random) const;
  // A split for each of `count` items, in exactly these proportions (largest remainders),
  // placed by a permutation drawn from `seed`.
  std::vector<Split> assign(std::size_t count, std::uint64_t seed) const;

  double train() const noexcept { return fractions_[0]; }
  double val() const noexcept { return fractions_[1]; }
  double test() const noexcept { return fractions_[2]; }

 private:
  double fractions_[3] = {0.8, 0.1, 0.1};
};

}  // namespace tributary::sources

#include "sampling/split_fractions.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>

#include "sampling/seeded_random.hpp"

namespace tributary::sources {

namespace {
constexpr Split kSplits[3] = {Split::train, Split::val, Split::test};
}  // namespace

void SplitFractions::declare(NodeSpec& spec) {
  spec.param<std::vector<double>>("split", {0.8, 0.1, 0.1},
                                  "fractions of examples assigned to [train, val, test]; they must sum to 1")
      .range(0.0, 1.0);
}

SplitFractions SplitFractions::from(const Params& params) {
  const auto values = params.get<std::vector<double>>("split");
  if (values.size() != 3) {
    throw ParamError("split", "'split' has " + std::to_string(values.size()) +
                                  " values; give three fractions [train, val, test], e.g. [0.8, 0.1, 0.1]");
  }
  const double sum = values[0] + values[1] + values[2];
  if (std::abs(sum - 1.0) > 1e-6) {
    throw ParamError("split",
                     concat("the 'split' fractions sum to ", sum, "; they must sum to 1, e.g. [0.8, 0.1, 0.1]"));
  }
  SplitFractions out;
  // Normalised so that rounding in the sum can never leave a gap above the last fraction.
  for (int i = 0; i < 3; ++i) out.fractions_[i] = values[static_cast<std::size_t>(i)] / sum;
  return out;
}

Split SplitFractions::draw(SeededRandom& random) const {
  const double u = random.uniform();
  double cumulative = 0.0;
  int last_nonzero = 0;
  for (int i = 0; i < 3; ++i) {
    if (fractions_[i] <= 0.0) continue;
    last_nonzero = i;
    cumulative += fractions_[i];
    if (u < cumulative) return kSplits[i];
  }
  return kSplits[last_nonzero];
}

std::vector<Split> SplitFractions::assign(std::size_t count, std::uint64_t seed) const {
  std::size_t counts[3];
  double remainders[3];
  std::size_t assigned = 0;
  for (int i = 0; i < 3; ++i) {
    const double exact = fractions_[i] * static_cast<double>(count);
    counts[i] = static_cast<std::size_t>(std::floor(exact));
    remainders[i] = exact - std::floor(exact);
    assigned += counts[i];
  }
  // Hand the items lost to rounding down to the largest remainders, earlier splits first on ties.
  int order[3] = {0, 1, 2};
  std::stable_sort(order, order + 3, [&](int a, int b) { return remainders[a] > remainders[b]; });
  for (std::size_t k = 0; assigned < count; ++k, ++assigned) counts[order[k % 3]] += 1;

  std::vector<std::size_t> permutation(count);
  std::iota(permutation.begin(), permutation.end(), std::size_t{0});
  SeededRandom random(seed);
  for (std::size_t i = count; i > 1; --i) {
    std::swap(permutation[i - 1], permutation[static_cast<std::size_t>(random.below(i))]);
  }
  std::vector<Split> splits(count, Split::train);
  std::size_t next = 0;
  for (int i = 0; i < 3; ++i) {
    for (std::size_t j = 0; j < counts[i]; ++j) splits[permutation[next++]] = kSplits[i];
  }
  return splits;
}

}  // namespace tributary::sources

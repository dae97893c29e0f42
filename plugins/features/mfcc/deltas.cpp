#include "mfcc/deltas.hpp"

#include <algorithm>
#include <vector>

namespace tributary::features {

namespace {

// out[i] for i in [lo, hi), from x rows valid in [valid_lo, valid_hi) (clamped there).
void regression(const std::vector<float>& x, std::size_t width, std::size_t valid_lo, std::size_t valid_hi,
                std::size_t lo, std::size_t hi, std::size_t n, std::vector<float>& out) {
  const double denom = static_cast<double>(n * (n + 1) * (2 * n + 1)) / 3.0;
  const auto clamp = [&](std::ptrdiff_t i) {
    return static_cast<std::size_t>(std::clamp<std::ptrdiff_t>(i, static_cast<std::ptrdiff_t>(valid_lo),
                                                               static_cast<std::ptrdiff_t>(valid_hi) - 1));
  };
  for (std::size_t i = lo; i < hi; ++i) {
    for (std::size_t f = 0; f < width; ++f) {
      double sum = 0.0;
      for (std::size_t k = 1; k <= n; ++k) {
        const auto kk = static_cast<std::ptrdiff_t>(k);
        const auto ii = static_cast<std::ptrdiff_t>(i);
        sum += static_cast<double>(k) * (x[clamp(ii + kk) * width + f] - x[clamp(ii - kk) * width + f]);
      }
      out[i * width + f] = static_cast<float>(sum / denom);
    }
  }
}

}  // namespace

void append_deltas(FrameBlock& block, BlockState& state, int order, std::size_t win_length, bool end) {
  const std::size_t n = (win_length - 1) / 2;
  const std::size_t width = block.width;
  const std::size_t channels = block.channels;
  if (state.held.size() < channels) state.held.resize(channels);
  const std::size_t held = state.held_frames;
  const std::size_t total = held + block.frames;
  const std::uint64_t a = state.held_first;
  const bool start = a == 0;
  // Where first and second differences are exact: the stream's edges are replicated, a block's
  // inner edges wait for more frames.
  const std::size_t lo1 = start ? 0 : std::min(n, total);
  const std::size_t hi1 = end ? total : (total > n ? total - n : 0);
  std::size_t lo = lo1;
  std::size_t hi = hi1;
  if (order == 2) {
    lo = start ? lo1 : lo1 + n;
    hi = end ? hi1 : (hi1 > n ? hi1 - n : 0);
  }
  lo = std::max<std::size_t>(lo, static_cast<std::size_t>(state.next_out - a));
  const std::size_t frames_out = hi > lo ? hi - lo : 0;
  const std::size_t out_width = width * static_cast<std::size_t>(1 + order);

  std::vector<float> out(channels * frames_out * out_width);
  std::vector<float> d1(total * width);
  std::vector<float> d2(total * width);
  for (std::size_t c = 0; c < channels; ++c) {
    std::vector<float>& x = state.held[c];
    x.insert(x.end(), block.values.begin() + static_cast<std::ptrdiff_t>(c * block.frames * width),
             block.values.begin() + static_cast<std::ptrdiff_t>((c + 1) * block.frames * width));
    if (frames_out > 0) {
      const std::size_t d1_lo = order == 2 ? lo1 : lo;
      const std::size_t d1_hi = order == 2 ? hi1 : hi;
      regression(x, width, 0, total, d1_lo, d1_hi, n, d1);
      if (order == 2) regression(d1, width, lo1, hi1, lo, hi, n, d2);
      for (std::size_t t = 0; t < frames_out; ++t) {
        float* row = out.data() + (c * frames_out + t) * out_width;
        const std::size_t i = lo + t;
        std::copy_n(x.data() + i * width, width, row);
        std::copy_n(d1.data() + i * width, width, row + width);
        if (order == 2) std::copy_n(d2.data() + i * width, width, row + 2 * width);
      }
    }
  }
  const std::uint64_t next = frames_out > 0 ? a + hi : state.next_out;
  // Keep what the next frame to leave needs: order * n frames before it.
  const std::uint64_t keep_from = std::max<std::uint64_t>(a, next > order * n ? next - order * n : 0);
  const auto drop = static_cast<std::size_t>(keep_from - a);
  for (std::size_t c = 0; c < channels; ++c) {
    auto& x = state.held[c];
    x.erase(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(drop * width));
  }
  state.held_frames = total - drop;
  state.held_first = keep_from;
  state.next_out = next;
  block.frames = frames_out;
  block.width = out_width;
  block.values = std::move(out);
}

}  // namespace tributary::features

#include "dsp/window.hpp"

#include <cmath>

namespace tributary::features {

std::optional<WindowKind> parse_window(std::string_view name) {
  if (name == "hann") return WindowKind::hann;
  if (name == "hamming") return WindowKind::hamming;
  if (name == "povey") return WindowKind::povey;
  if (name == "rectangular") return WindowKind::rectangular;
  return std::nullopt;
}

std::vector<double> make_window(WindowKind kind, std::size_t length, bool periodic) {
  std::vector<double> w(length, 1.0);
  if (kind == WindowKind::rectangular || length <= 1) return w;
  // Kaldi's povey window is always the symmetric one.
  const bool wraps = periodic && kind != WindowKind::povey;
  const double denominator = static_cast<double>(wraps ? length : length - 1);
  const double pi = std::acos(-1.0);
  for (std::size_t i = 0; i < length; ++i) {
    const double c = std::cos(2.0 * pi * static_cast<double>(i) / denominator);
    switch (kind) {
      case WindowKind::hann:
        w[i] = 0.5 - 0.5 * c;
        break;
      case WindowKind::hamming:
        w[i] = 0.54 - 0.46 * c;
        break;
      case WindowKind::povey:
        w[i] = std::pow(0.5 - 0.5 * c, 0.85);
        break;
      case WindowKind::rectangular:
        break;
    }
  }
  return w;
}

}  // namespace tributary::features

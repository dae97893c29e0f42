#pragma once
// Analysis windows as torch.*_window and Kaldi define them.
#include <cstddef>
#include <optional>
#include <string_view>
#include <vector>

namespace tributary::features {

enum class WindowKind { hann, hamming, povey, rectangular };

std::optional<WindowKind> parse_window(std::string_view name);
// `periodic` as torch.hann_window(periodic=...): the window of length + 1 without its last point.
// povey is Kaldi's: a symmetric hann raised to 0.85, whatever `periodic` says.
std::vector<double> make_window(WindowKind kind, std::size_t length, bool periodic);

}  // namespace tributary::features

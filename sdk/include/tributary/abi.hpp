#pragma once
// What a plugin and the runtime must agree on beyond the ABI version: the C++ standard library's
// binary interface, and the layout of the SDK's types as this compilation sees them.
//
// The compiler's own ABI version (__GXX_ABI_VERSION) is not compared: it changes between g++
// releases and clang without changing anything that crosses the plugin boundary. What does is
// the standard library (libstdc++ or libc++, its dual string ABI, its debug mode, which changes
// the size of every container) and the SDK headers themselves.
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tributary/control.hpp"
#include "tributary/node.hpp"
#include "tributary/packet.hpp"
#include "tributary/param.hpp"
#include "tributary/tensor.hpp"
#include "tributary/value.hpp"

namespace tributary::abi {

// Standard library tag: family * 1000 + dual ABI * 100 + debug mode * 10.
//   family 1: libstdc++; 2: libc++; 0: another one.
#if defined(_LIBCPP_VERSION)
inline constexpr std::uint32_t kStdFamily = 2;
#elif defined(__GLIBCXX__)
inline constexpr std::uint32_t kStdFamily = 1;
#else
inline constexpr std::uint32_t kStdFamily = 0;
#endif
#if defined(_GLIBCXX_USE_CXX11_ABI)
inline constexpr std::uint32_t kStdDualAbi = _GLIBCXX_USE_CXX11_ABI ? 1 : 0;
#else
inline constexpr std::uint32_t kStdDualAbi = 0;
#endif
#if defined(_GLIBCXX_DEBUG) || defined(_LIBCPP_DEBUG)
inline constexpr std::uint32_t kStdDebug = 1;
#else
inline constexpr std::uint32_t kStdDebug = 0;
#endif
inline constexpr std::uint32_t kStdLibrary = kStdFamily * 1000 + kStdDualAbi * 100 + kStdDebug * 10;

// Reads a standard library tag back as words, for messages.
std::string describe_std_library(std::uint32_t tag);

// FNV-1a over the sizes and alignments of the types that cross the boundary.
constexpr std::uint64_t fold(std::uint64_t hash, std::uint64_t value) {
  for (int i = 0; i < 8; ++i) {
    hash ^= (value >> (i * 8)) & 0xffu;
    hash *= 0x100000001b3ull;
  }
  return hash;
}

template <typename... T>
constexpr std::uint64_t layout_of() {
  std::uint64_t hash = 0xcbf29ce484222325ull;
  ((hash = fold(fold(hash, sizeof(T)), alignof(T))), ...);
  return hash;
}

inline constexpr std::uint64_t kSdkLayout =
    layout_of<std::string, std::vector<int>, std::shared_ptr<int>, std::function<void()>, std::optional<std::int64_t>,
              std::map<std::string, int>, Value, Tensor, Packet, MetricPoint, LogRecord, Attribute, ControlMessage,
              ControlReply, Marker, ParamSpec, Params, InputPort, OutputPort, NodeSpec, Node, RunView>();

}  // namespace tributary::abi

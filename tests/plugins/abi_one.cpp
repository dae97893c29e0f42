// A plugin as SDK 0.1 built it: ABI 1's shorter info block. The runtime must refuse it without
// reading past the fields ABI 1 had.
#include <cstdint>

namespace {
void register_nothing(void*) {}

struct InfoVersion1 {
  std::uint32_t magic;
  std::uint32_t abi_version;
  std::uint32_t cxx_abi;
  const char* sdk_version;
  const char* family;
  void (*register_types)(void*);
};
}  // namespace

extern "C" __attribute__((visibility("default"))) const InfoVersion1* tributary_plugin_info() {
  static const InfoVersion1 info{0x54524259u, 1u, 10171u, "0.1.0", "old", &register_nothing};
  return &info;
}

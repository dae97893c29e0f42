// A plugin whose SDK headers disagree with the runtime's about the layout of the SDK's types
// (as after an SDK header change that forgot to bump the ABI version).
#include "tributary/plugin.hpp"

namespace {
void register_nothing(tributary::PluginRegistrar&) {}
}  // namespace

extern "C" __attribute__((visibility("default"))) const TributaryPluginInfo* tributary_plugin_info() {
  static const TributaryPluginInfo info{TRIBUTARY_PLUGIN_MAGIC,
                                        TRIBUTARY_ABI_VERSION,
                                        tributary::abi::kStdLibrary,
                                        TRIBUTARY_VERSION_STRING,
                                        "skewed",
                                        &register_nothing,
                                        tributary::abi::kSdkLayout ^ 0x5a5a,
                                        "1.0.0"};
  return &info;
}

// A plugin that claims the next ABI version: the runtime must refuse it without calling into it.
#include "tributary/plugin.hpp"

namespace {
void register_nothing(tributary::PluginRegistrar&) {}
}  // namespace

extern "C" __attribute__((visibility("default"))) const TributaryPluginInfo* tributary_plugin_info() {
  static const TributaryPluginInfo info{TRIBUTARY_PLUGIN_MAGIC,
                                        TRIBUTARY_ABI_VERSION + 1,
                                        tributary::abi::kStdLibrary,
                                        "9.9.9",
                                        "future",
                                        &register_nothing,
                                        tributary::abi::kSdkLayout,
                                        "9.9.9"};
  return &info;
}

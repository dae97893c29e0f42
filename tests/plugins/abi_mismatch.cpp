// A plugin that claims the next ABI version: the runtime must refuse it without calling into it.
#include "tributary/plugin.hpp"

namespace {
void register_nothing(tributary::PluginRegistrar&) {}
}  // namespace

extern "C" __attribute__((visibility("default"))) const TributaryPluginInfo* tributary_plugin_info() {
  static const TributaryPluginInfo info{
      TRIBUTARY_PLUGIN_MAGIC, TRIBUTARY_ABI_VERSION + 1, TRIBUTARY_CXX_ABI_TAG, "9.9.9", "future", &register_nothing};
  return &info;
}

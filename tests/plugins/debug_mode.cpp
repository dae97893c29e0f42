// A plugin built with libstdc++'s debug mode (_GLIBCXX_DEBUG, set by the build for this file
// only): its std::vector and std::string have another size, so the runtime must refuse it.
#include "tributary/plugin.hpp"

namespace {
class Nothing final : public tributary::Node {
 public:
  static constexpr const char* kType = "debug_mode_node";
  static void declare(tributary::NodeSpec& spec) { spec.summary("a node from a debug-mode build"); }
};
}  // namespace

TRIBUTARY_PLUGIN("debug") { registrar.add<Nothing>(); }

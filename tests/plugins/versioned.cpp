// A plugin with a version of its own.
#include "tributary/plugin.hpp"

namespace {
class Versioned final : public tributary::Node {
 public:
  static constexpr const char* kType = "versioned_node";
  static void declare(tributary::NodeSpec& spec) {
    spec.summary("a node from a plugin with its own version");
    spec.source(tributary::SourceMode::pull);
    static const tributary::OutputPort out{"out", tributary::PayloadKind::features, "nothing, ever"};
    spec.output(out);
  }
};
}  // namespace

TRIBUTARY_PLUGIN_VERSIONED("versioned", "3.1.4") { registrar.add<Versioned>(); }

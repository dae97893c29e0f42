// A plugin that links a library of its own (dependency.cpp), found next to it at load time.
#include "tributary/plugin.hpp"

extern "C" int tributary_test_dependency_value();

namespace {
class Dependent final : public tributary::Node {
 public:
  static constexpr const char* kType = "dependent_source";
  static void declare(tributary::NodeSpec& spec) {
    spec.summary("a source from a plugin that needs another library");
    spec.source(tributary::SourceMode::pull);
    static const tributary::OutputPort out{"out", tributary::PayloadKind::features, "nothing, ever"};
    spec.output(out);
  }
  bool produce(tributary::Emitter&) override { return tributary_test_dependency_value() != 7; }
};
}  // namespace

TRIBUTARY_PLUGIN_VERSIONED("dependent", "1.0.0") { registrar.add<Dependent>(); }

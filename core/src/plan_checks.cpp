#include "plan_checks.hpp"

#include <string>

namespace tributary::core {

namespace {

// A node that nothing reaches: not a source, no link leads to it, and none of its bus inputs is
// on. It would start, wait for end of stream and stop having done nothing.
void check_unreachable(const Plan& plan, const PipelineDecl& decl, std::vector<Diagnostic>& diagnostics) {
  for (std::size_t i = 0; i < plan.nodes.size(); ++i) {
    const NodePlan& node = plan.nodes[i];
    if (!node.node || node.is_source || !node.bus_inputs.empty()) continue;
    const auto& inputs = node.type->spec.inputs();
    bool has_link_input = false;
    bool required_input = false;
    for (const auto* in : inputs) {
      has_link_input = has_link_input || in->feed == Feed::links;
      required_input = required_input || (in->feed == Feed::links && !in->optional);
    }
    // No inputs at all, or a required one unfed: reported by build_plan already.
    if (inputs.empty() || required_input) continue;
    bool linked = false;
    for (std::size_t k = 0; k < decl.links.size(); ++k) linked = linked || decl.links[k].to_node == node.name;
    if (linked) continue;
    std::string bus;
    for (const auto* in : inputs) {
      if (in->feed != Feed::links) bus += std::string(bus.empty() ? "" : ", ") + in->name;
    }
    diagnostics.push_back(
        {node.where,
         "node '" + node.name + "' (" + node.type->name + ") can receive nothing: no link leads to it" +
             (bus.empty() ? std::string() : " and its bus inputs (" + bus + ") are off"),
         std::string(has_link_input ? "add a link such as \"SOURCE -> " + node.name + "\" to [pipeline] links" : "") +
             (bus.empty() ? "" : (has_link_input ? ", or " : "") + std::string("turn on one of its bus inputs")) +
             ", or remove the node"});
  }
}

// A source that no link starts at: it would produce everything into nothing.
void check_source_outputs(const Plan& plan, const PipelineDecl& decl, std::vector<Diagnostic>& diagnostics) {
  for (const auto& node : plan.nodes) {
    if (!node.node || !node.is_source || node.type->spec.outputs().empty()) continue;
    bool linked = false;
    for (const auto& l : decl.links) linked = linked || l.from_node == node.name;
    if (linked) continue;
    diagnostics.push_back(
        {node.where,
         "source '" + node.name + "' (" + node.type->name + ") sends its output nowhere: no link starts at it",
         "add a link such as \"" + node.name + " -> NODE\" to [pipeline] links, or remove the node"});
  }
}

}  // namespace

Location issue_location(const NodeDecl& decl, const NodeSpec& spec, const ParamIssue& issue) {
  if (!issue.param.empty() && spec.find_param(issue.param) == nullptr) return decl.locate_key(issue.param);
  return decl.locate(issue.param);
}

void check_pipeline(const Plan& plan, const PipelineDecl& decl, std::vector<Diagnostic>& diagnostics) {
  check_unreachable(plan, decl, diagnostics);
  check_source_outputs(plan, decl, diagnostics);
}

}  // namespace tributary::core

#include "graph_export.hpp"

#include <sstream>

namespace tributary::core {

namespace {

// "out -> in", plus the queue when it is not the default.
std::string edge_label(const Plan& plan, const LinkPlan& link) {
  const auto& from = *plan.nodes[link.from].type;
  const auto& to = *plan.nodes[link.to].type;
  std::string label =
      std::string(from.spec.outputs()[link.from_port]->name) + " -> " + to.spec.inputs()[link.to_port]->name;
  if (link.policy != QueuePolicy::block) label += " (" + std::string(to_string(link.policy)) + ")";
  return label;
}

std::string escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"')
      out += "\\\"";
    else
      out += c;
  }
  return out;
}

// "mfcc", or "mfcc, ordered" for a node whose packets may be processed at the same time.
std::string type_label(const NodePlan& n) {
  std::string label = n.type->name;
  if (n.concurrency != Concurrency::serial && !n.is_source) label += std::string(", ") + to_string(n.concurrency);
  return label;
}

}  // namespace

std::string to_dot(const Plan& plan) {
  std::ostringstream out;
  out << "digraph \"" << escape(plan.decl.name) << "\" {\n  rankdir=LR;\n  node [shape=box, style=rounded];\n";
  for (const auto& n : plan.nodes) {
    out << "  \"" << escape(n.name) << "\" [label=\"" << escape(n.name) << "\\n(" << escape(type_label(n)) << ")\""
        << (n.is_source ? ", shape=cds" : "") << "];\n";
  }
  for (const auto& l : plan.links) {
    out << "  \"" << escape(plan.nodes[l.from].name) << "\" -> \"" << escape(plan.nodes[l.to].name) << "\" [label=\""
        << escape(edge_label(plan, l)) << "\"];\n";
  }
  out << "}\n";
  return out.str();
}

std::string to_mermaid(const Plan& plan) {
  std::ostringstream out;
  out << "flowchart LR\n";
  auto id = [&](std::size_t i) { return "n" + std::to_string(i); };
  for (std::size_t i = 0; i < plan.nodes.size(); ++i) {
    const auto& n = plan.nodes[i];
    out << "  " << id(i) << (n.is_source ? "([\"" : "[\"") << n.name << "<br/>(" << type_label(n) << ")"
        << (n.is_source ? "\"])" : "\"]") << "\n";
  }
  for (const auto& l : plan.links) {
    out << "  " << id(l.from) << " -->|\"" << edge_label(plan, l) << "\"| " << id(l.to) << "\n";
  }
  return out.str();
}

}  // namespace tributary::core

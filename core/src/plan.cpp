#include "plan.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <functional>
#include <optional>
#include <set>
#include <stdexcept>

#include "logging.hpp"
#include "plan_checks.hpp"

namespace tributary::core {

RuntimeHooks::~RuntimeHooks() = default;

NodeContext::NodeContext(std::string name, RunInfo run, const RunView* view, std::unique_ptr<Logger> logger)
    : name_(std::move(name)), run_(std::move(run)), view_(view), logger_(std::move(logger)) {}
NodeContext::~NodeContext() = default;

void NodeContext::metric(std::string_view name, double value, std::int64_t step, std::int64_t epoch) {
  if (auto* h = hooks_.load())
    h->publish_metric(MetricPoint{wall_time_s(), name_, std::string(name), step, epoch, value});
}
void NodeContext::request_stop(std::string_view reason) {
  if (auto* h = hooks_.load()) h->request_stop("node '" + name_ + "' asked to stop: " + std::string(reason));
}
bool NodeContext::stop_requested() const {
  auto* h = hooks_.load();
  return h != nullptr && h->stop_requested();
}
std::uint64_t NodeContext::send_control(ControlMessage message) {
  message.sender = name_;
  if (auto* h = hooks_.load()) return h->send_control(std::move(message));
  return 0;
}
void NodeContext::set_timer(std::chrono::nanoseconds period) {
  timer_ns_.store(std::max<std::int64_t>(0, period.count()));
  if (auto* h = hooks_.load()) h->timer_changed();
}
void* NodeContext::extension(std::string_view name, std::uint32_t version) {
  if (name == ArtifactAnnouncer::kName && version == ArtifactAnnouncer::kVersion)
    return static_cast<ArtifactAnnouncer*>(this);
  if (name == DownstreamRoom::kName && version == DownstreamRoom::kVersion) return static_cast<DownstreamRoom*>(&room_);
  if (name == RunHistory::kName && version == RunHistory::kVersion) return history_.load();
  return nullptr;
}
void NodeContext::announce(ArtifactNote note) {
  note.node = name_;
  if (note.time == 0.0) note.time = wall_time_s();
  if (auto* h = hooks_.load()) h->publish_control(control_packet(note));
}
bool NodeContext::Room::wait() {
  auto* h = context_->hooks_.load();
  return h == nullptr || h->wait_for_room(context_->name_);
}

namespace {
// What a node holds outside a run: every emission is a mistake in the node, reported as such.
class NoRunEmitter final : public Emitter {
 public:
  void emit(const OutputPort&, PacketPtr) override { refuse(); }
  void emit(PacketPtr) override { refuse(); }
  void mark(const Marker&) override { refuse(); }

 private:
  [[noreturn]] static void refuse() { throw std::logic_error("emitted outside a run (before start or after stop)"); }
};
}  // namespace

Emitter& NodeContext::emitter() {
  static NoRunEmitter none;
  Emitter* e = emitter_.load();
  return e != nullptr ? *e : none;
}

NodePlan::NodePlan() = default;
NodePlan::~NodePlan() {
  node.reset();  // before the context it refers to
}
NodePlan::NodePlan(NodePlan&&) noexcept = default;
NodePlan& NodePlan::operator=(NodePlan&&) noexcept = default;
Plan::Plan() = default;
Plan::~Plan() = default;
Plan::Plan(Plan&&) noexcept = default;
Plan& Plan::operator=(Plan&&) noexcept = default;

namespace {

std::string unknown_plugin_hint(const std::string& plugin, const PluginRegistry& registry) {
  std::string hint;
  std::string near = closest_match(plugin, registry.type_names());
  if (!near.empty()) hint = "did you mean '" + near + "'? ";
  hint += "`tributary plugins` lists the " + std::to_string(registry.type_names().size()) +
          " known types; looked in: " + (registry.folders().empty() ? "(no folders)" : join(registry.folders(), ", "));
  for (const auto& r : registry.refused()) hint += "\n  refused: " + r.path + " " + r.reason;
  return hint;
}

// Values whose text the user gave outside TOML's types: a value that was one ${VAR} is read as
// the declared integer, number or boolean when its text is one, and a --set value for a string
// parameter is its text as given. Anything else stays as it is, and the type check reports it.
std::vector<TableEntry> as_declared(const NodeDecl& decl, const NodeSpec& spec) {
  std::vector<TableEntry> params = decl.params;
  for (auto& entry : params) {
    const ParamSpec* p = spec.find_param(entry.key);
    if (p != nullptr && p->type == ParamType::string && entry.value.type() != ValueType::string) {
      for (const auto& given : decl.override_text) {
        if (given.key == entry.key) entry.value = given.value;
      }
    }
    if (p == nullptr || entry.value.type() != ValueType::string ||
        std::find(decl.whole_variables.begin(), decl.whole_variables.end(), entry.key) == decl.whole_variables.end()) {
      continue;
    }
    const std::string& text = entry.value.as_string();
    const char* end = text.data() + text.size();
    if (p->type == ParamType::integer) {
      std::int64_t i = 0;
      auto [ptr, ec] = std::from_chars(text.data(), end, i);
      if (ec == std::errc() && ptr == end && !text.empty()) entry.value = Value(i);
    } else if (p->type == ParamType::number) {
      char* stop = nullptr;
      double d = std::strtod(text.c_str(), &stop);
      if (!text.empty() && stop == text.c_str() + text.size()) entry.value = Value(d);
    } else if (p->type == ParamType::boolean && (text == "true" || text == "false")) {
      entry.value = Value(text == "true");
    }
  }
  return params;
}

void fill_view(Plan& plan) {
  RunView& v = *plan.view;
  v.id = plan.run.id;
  v.dir = plan.run.dir;
  v.name = plan.decl.name;
  v.pipeline_path = plan.decl.file;
  v.pipeline_text = plan.decl.expanded_toml;
  v.tributary_version = TRIBUTARY_VERSION_STRING;
  v.threads = static_cast<int>(plan.decl.threads);
  for (const auto& n : plan.nodes) {
    RunView::NodeView node;
    node.name = n.name;
    node.type = n.type->name;
    node.family = n.type->family;
    node.library = n.type->library;
    node.plugin_version = n.type->version;
    for (const auto* p : n.type->spec.inputs()) node.inputs.emplace_back(p->name);
    for (const auto* p : n.type->spec.outputs()) node.outputs.emplace_back(p->name);
    node.concurrency = to_string(n.concurrency);
    node.source = n.is_source;
    node.line = static_cast<int>(n.where.line);
    v.nodes.push_back(std::move(node));
    bool known = std::any_of(v.plugins.begin(), v.plugins.end(),
                             [&](const RunView::PluginView& p) { return p.library == n.type->library; });
    if (!known) v.plugins.push_back({n.type->family, n.type->library, n.type->version, TRIBUTARY_VERSION_STRING});
  }
  for (const auto& l : plan.links) {
    RunView::LinkView link;
    const auto& from = plan.nodes[l.from];
    const auto& to = plan.nodes[l.to];
    link.from = from.name;
    link.from_port = from.type->spec.outputs()[l.from_port]->name;
    link.to = to.name;
    link.to_port = to.type->spec.inputs()[l.to_port]->name;
    link.policy = to_string(l.policy);
    link.capacity = l.capacity;
    link.text = l.text;
    v.links.push_back(std::move(link));
  }
}

// What validation found, each with its location; build_plan throws them all at once.
struct Findings {
  std::vector<Diagnostic> diagnostics;
  void fail(Location where, std::string message, std::string hint = {}) {
    diagnostics.push_back({std::move(where), std::move(message), std::move(hint)});
  }
};

// Creates and configures one node; its parameter and configure errors go to `found`.
NodePlan plan_node(const NodeDecl& n, const PipelineDecl& decl, const PluginRegistry& registry, Plan& plan,
                   Logging& logging, Findings& found) {
  NodePlan node;
  node.name = n.name;
  node.where = n.where;
  if (!n.plugin.empty()) {
    node.type = registry.find(n.plugin);
    const auto known = node.type == nullptr ? registry.type_names() : std::vector<std::string>{};
    if (node.type == nullptr && std::find(known.begin(), known.end(), n.plugin) != known.end()) {
      // The plugin index names a library for it, which did not load this time.
      std::string hint = "rebuild or reinstall the plugin; `tributary plugins` checks every library";
      for (const auto& r : registry.refused()) hint += "\n  refused: " + r.path + " " + r.reason;
      found.fail(n.plugin_where, "plugin '" + n.plugin + "' for node '" + n.name + "' could not be loaded", hint);
    } else if (node.type == nullptr) {
      found.fail(n.plugin_where, "unknown plugin '" + n.plugin + "' for node '" + n.name + "'",
                 unknown_plugin_hint(n.plugin, registry));
    }
  }
  if (node.type == nullptr) return node;
  std::vector<ParamIssue> issues;
  node.params =
      Params::build(node.type->spec.params(),
                    resolve_paths(n, node.type->spec, decl.file,
                                  drop_undeclared(n, node.type->spec, as_declared(n, node.type->spec), plan.notes)),
                    issues);
  for (const auto& issue : issues) {
    found.fail(issue_location(n, node.type->spec, issue), "node '" + n.name + "' (" + n.plugin + "): " + issue.message,
               issue.hint);
  }
  if (!issues.empty()) return node;
  node.context = std::make_unique<NodeContext>(n.name, plan.run, plan.view.get(), logging.make(n.name));
  node.concurrency = node.type->spec.concurrency();
  try {
    node.node = node.type->create();
    node.node->bind(*node.context);
    node.node->configure(node.params);
    node.is_source = node.type->spec.is_source();
    node.mode = node.node->source_mode(node.type->spec.source_mode());
    const auto& inputs = node.type->spec.inputs();
    for (std::size_t i = 0; i < inputs.size(); ++i) {
      if (inputs[i]->feed != Feed::links && node.node->wants(*inputs[i])) node.bus_inputs.push_back(i);
    }
  } catch (const ParamError& e) {
    found.fail(n.locate(e.param()), "node '" + n.name + "' (" + n.plugin + "): " + e.what());
    node.node.reset();
  } catch (const std::exception& e) {
    found.fail(n.where, "node '" + n.name + "' (" + n.plugin + ") cannot be configured: " + e.what());
    node.node.reset();
  } catch (...) {
    found.fail(n.where, "node '" + n.name + "' (" + n.plugin +
                            ") cannot be configured: it threw an exception that is not a std::exception");
    node.node.reset();
  }
  return node;
}

// The index of the output port a link leaves from, or nothing (the reason is in `found`).
std::optional<std::size_t> from_port_of(const LinkDecl& l, const NodeType& type, Findings& found) {
  const auto& outs = type.spec.outputs();
  std::vector<std::string> names;
  for (const auto* p : outs) names.emplace_back(p->name);
  if (outs.empty()) {
    found.fail(l.where, "node '" + l.from_node + "' (" + type.name + ") has no output ports to link from");
    return std::nullopt;
  }
  if (l.from_port.empty()) return 0;
  auto it = std::find(names.begin(), names.end(), l.from_port);
  if (it != names.end()) return static_cast<std::size_t>(it - names.begin());
  std::string near = closest_match(l.from_port, names);
  found.fail(l.where, "node '" + l.from_node + "' (" + type.name + ") has no output port '" + l.from_port + "'",
             (near.empty() ? std::string() : "did you mean '" + near + "'? ") + "its outputs: " + join(names, ", "));
  return std::nullopt;
}

// The index of the input port a link enters, or nothing (the reason is in `found`).
std::optional<std::size_t> to_port_of(const LinkDecl& l, const NodeType& type, Findings& found) {
  const auto& ins = type.spec.inputs();
  std::vector<std::string> names;
  for (const auto* p : ins) {
    if (p->feed == Feed::links) names.emplace_back(p->name);
  }
  if (names.empty()) {
    found.fail(l.where, "node '" + l.to_node + "' (" + type.name + ") has no input ports to link to");
    return std::nullopt;
  }
  std::string port = l.to_port.empty() ? names.front() : l.to_port;
  auto it = std::find_if(ins.begin(), ins.end(), [&](const InputPort* p) { return port == p->name; });
  if (it == ins.end()) {
    std::string near = closest_match(port, names);
    found.fail(l.where, "node '" + l.to_node + "' (" + type.name + ") has no input port '" + port + "'",
               (near.empty() ? std::string() : "did you mean '" + near + "'? ") + "its inputs: " + join(names, ", "));
    return std::nullopt;
  }
  if ((*it)->feed != Feed::links) {
    found.fail(l.where,
               "input '" + port + "' of node '" + l.to_node + "' is fed by the runtime's " +
                   ((*it)->feed == Feed::telemetry ? "telemetry" : "log") + " bus, not by links",
               "remove the link; set the node's telemetry/logs parameter instead");
    return std::nullopt;
  }
  return static_cast<std::size_t>(it - ins.begin());
}

// What an instance emits on one output, as its configuration narrows the port's kinds.
PayloadKinds produced_by(const NodePlan& node, std::size_t port) {
  const OutputPort& out = *node.type->spec.outputs()[port];
  PayloadKinds produced = out.kinds;
  if (node.node) {
    PayloadKinds narrowed = node.node->output_kinds(out);
    if (produced.contains(narrowed)) produced = narrowed;
  }
  return produced;
}

// Resolves the links in declaration order; link_ok[k] says whether link k is usable.
std::vector<bool> plan_links(const PipelineDecl& decl, Plan& plan, Findings& found) {
  std::vector<std::string> node_names;
  for (const auto& n : plan.nodes) node_names.push_back(n.name);
  auto node_index = [&](const LinkDecl& l, const std::string& name) -> std::optional<std::size_t> {
    auto it = std::find(node_names.begin(), node_names.end(), name);
    if (it != node_names.end()) return static_cast<std::size_t>(it - node_names.begin());
    std::string near = closest_match(name, node_names);
    found.fail(l.where, "link \"" + l.text + "\" names no node '" + name + "'",
               near.empty() ? "nodes: " + join(node_names, ", ") : "did you mean '" + near + "'?");
    return std::nullopt;
  };

  std::vector<bool> link_ok;
  for (const auto& l : decl.links) {
    LinkPlan link;
    link.where = l.where;
    link.text = l.text;
    link.capacity = l.capacity.value_or(decl.queue_capacity);
    auto from = node_index(l, l.from_node);
    auto to = node_index(l, l.to_node);
    // A node without a type has its own error saying why.
    bool ok = from && to && plan.nodes[*from].type != nullptr && plan.nodes[*to].type != nullptr;
    if (ok) {
      link.from = *from;
      link.to = *to;
      const NodeType& ft = *plan.nodes[link.from].type;
      const NodeType& tt = *plan.nodes[link.to].type;
      auto from_port = from_port_of(l, ft, found);
      auto to_port = to_port_of(l, tt, found);
      ok = from_port && to_port;
      if (ok) {
        link.from_port = *from_port;
        link.to_port = *to_port;
        PayloadKinds produced = produced_by(plan.nodes[link.from], link.from_port);
        const InputPort& in = *tt.spec.inputs()[link.to_port];
        if (!produced.overlaps(in.kinds)) {
          found.fail(l.where, "link \"" + l.text + "\" joins incompatible ports: " + l.from_node + "." +
                                  ft.spec.outputs()[link.from_port]->name + " produces " + to_string(produced) +
                                  ", but " + l.to_node + "." + in.name + " accepts " + to_string(in.kinds));
          ok = false;
        }
      }
      if (ok && link.from == link.to) {
        found.fail(l.where, "link \"" + l.text + "\" connects node '" + l.from_node + "' to itself");
        ok = false;
      }
    }
    for (std::size_t k = 0; ok && k < plan.links.size(); ++k) {
      const LinkPlan& other = plan.links[k];
      if (link_ok[k] && other.from == link.from && other.from_port == link.from_port && other.to == link.to &&
          other.to_port == link.to_port) {
        found.fail(l.where, "link \"" + l.text + "\" repeats the link at " + other.where.to_string(),
                   "each packet would arrive twice: remove one of them");
        ok = false;
      }
    }
    link_ok.push_back(ok);
    plan.links.push_back(link);
  }
  return link_ok;
}

// Every input fed by links is fed by at least one (not reported again for a node whose incoming
// link already has an error).
void check_inputs_fed(const PipelineDecl& decl, const Plan& plan, const std::vector<bool>& link_ok, Findings& found) {
  for (std::size_t i = 0; i < plan.nodes.size(); ++i) {
    const auto& node = plan.nodes[i];
    if (node.type == nullptr) continue;
    bool broken_link_in = false;
    for (std::size_t k = 0; k < decl.links.size(); ++k) {
      broken_link_in = broken_link_in || (!link_ok[k] && decl.links[k].to_node == node.name);
    }
    if (broken_link_in) continue;
    const auto& ins = node.type->spec.inputs();
    for (std::size_t p = 0; p < ins.size(); ++p) {
      if (ins[p]->feed != Feed::links || ins[p]->optional) continue;
      bool fed = false;
      for (std::size_t k = 0; k < plan.links.size(); ++k) {
        fed = fed || (link_ok[k] && plan.links[k].to == i && plan.links[k].to_port == p);
      }
      if (!fed) {
        found.fail(node.where,
                   "input '" + std::string(ins[p]->name) + "' of node '" + node.name + "' (" + node.type->name +
                       ") is not fed by any link",
                   "add a link such as \"SOURCE -> " + node.name + "." + ins[p]->name + "\" to [pipeline] links");
      }
    }
  }
}

// Fills plan.order (producers before consumers) by depth-first search; false, with the first
// cycle found reported as a path, when the links form one.
bool order_nodes(Plan& plan, const std::vector<std::vector<std::size_t>>& out_links, Findings& found) {
  std::vector<int> state(plan.nodes.size(), 0);  // 0 new, 1 on stack, 2 done
  std::vector<std::size_t> stack;
  bool cycle = false;
  std::function<void(std::size_t)> visit = [&](std::size_t n) {
    state[n] = 1;
    stack.push_back(n);
    for (auto k : out_links[n]) {
      auto m = plan.links[k].to;
      if (cycle) return;
      if (state[m] == 1) {
        std::string path;
        auto start = std::find(stack.begin(), stack.end(), m);
        for (auto it = start; it != stack.end(); ++it) path += plan.nodes[*it].name + " -> ";
        path += plan.nodes[m].name;
        found.fail(plan.links[k].where, "the links form a cycle: " + path, "a pipeline is a graph without cycles");
        cycle = true;
        return;
      }
      if (state[m] == 0) visit(m);
    }
    stack.pop_back();
    state[n] = 2;
    plan.order.push_back(n);
  };
  for (std::size_t n = 0; n < plan.nodes.size() && !cycle; ++n) {
    if (state[n] == 0) visit(n);
  }
  std::reverse(plan.order.begin(), plan.order.end());
  return !cycle;
}

// Live sources never wait: their own links drop by policy, never block. Links further down drop
// too unless they leave a lossless port or are declared blocking: those stay lossless, and the
// live source's edge drops while they are full.
void assign_policies(const PipelineDecl& decl, Plan& plan, const std::vector<bool>& link_ok,
                     const std::vector<std::vector<std::size_t>>& out_links, bool ordered, Findings& found) {
  std::vector<bool> live(plan.nodes.size(), false);
  if (ordered) {
    for (auto n : plan.order) {
      if (plan.nodes[n].node && plan.nodes[n].is_source && plan.nodes[n].mode == SourceMode::live) live[n] = true;
      if (!live[n]) continue;
      for (auto k : out_links[n]) live[plan.links[k].to] = true;
    }
  }
  for (std::size_t k = 0; k < plan.links.size(); ++k) {
    auto& link = plan.links[k];
    const auto& l = decl.links[k];
    if (!link_ok[k]) continue;
    const NodePlan& from = plan.nodes[link.from];
    bool live_source = from.node && from.is_source && from.mode == SourceMode::live;
    link.live_edge = live_source;
    if (live[link.from] && !live_source) {
      bool lossless = from.type != nullptr && from.type->spec.outputs()[link.from_port]->lossless;
      link.policy = l.policy.value_or(lossless ? QueuePolicy::block : QueuePolicy::drop_oldest);
    } else if (live_source) {
      link.policy = l.policy.value_or(QueuePolicy::drop_oldest);
      if (link.policy == QueuePolicy::block) {
        found.fail(l.where, "link \"" + l.text + "\" carries live data and cannot block",
                   "a live source never waits: use policy = \"drop_oldest\" or \"drop_newest\"");
      }
    } else {
      link.policy = l.policy.value_or(QueuePolicy::block);
    }
  }
}

// A node declared stateless for whole packets of some kinds (concurrency_for) runs with that
// concurrency when every link into it brings only those kinds: what each link brings is what its
// producer emits there, narrowed along the way by nodes that keep their input's kinds.
void choose_concurrency(Plan& plan, const std::vector<bool>& link_ok) {
  const std::size_t n = plan.nodes.size();
  std::vector<std::vector<PayloadKinds>> fed(n);  // per node, per input port
  std::vector<bool> all_known(n, true);
  for (std::size_t i = 0; i < n; ++i) {
    if (plan.nodes[i].type != nullptr) fed[i].resize(plan.nodes[i].type->spec.inputs().size());
  }
  for (std::size_t k = 0; k < plan.links.size(); ++k) {
    if (!link_ok[k] && plan.links[k].to < n) all_known[plan.links[k].to] = false;
  }
  auto emitted = [&](std::size_t from, std::size_t port) {
    const NodePlan& node = plan.nodes[from];
    PayloadKinds kinds = produced_by(node, port);
    const OutputPort* out = node.type->spec.outputs()[port];
    const auto& inputs = node.type->spec.inputs();
    for (const auto& [in, kept] : node.type->spec.kept_kinds()) {
      if (kept != out) continue;
      auto at = std::find(inputs.begin(), inputs.end(), in);
      if (at != inputs.end()) kinds.bits &= fed[from][static_cast<std::size_t>(at - inputs.begin())].bits;
    }
    return kinds;
  };
  for (std::size_t i : plan.order) {  // producers first, so what they were fed is known
    for (std::size_t k = 0; k < plan.links.size(); ++k) {
      const LinkPlan& link = plan.links[k];
      if (link_ok[k] && link.to == i) fed[i][link.to_port] = fed[i][link.to_port] | emitted(link.from, link.from_port);
    }
    NodePlan& node = plan.nodes[i];
    if (node.type == nullptr || node.node == nullptr || node.is_source || !node.bus_inputs.empty() || !all_known[i])
      continue;
    PayloadKinds all;
    for (const auto& kinds : fed[i]) all = all | kinds;
    node.concurrency = node.type->spec.concurrency(all);
  }
}

}  // namespace

Plan build_plan(PipelineDecl decl, const PluginRegistry& registry, RunInfo run, Logging& logging) {
  Plan plan;
  plan.run = std::move(run);
  plan.view = std::make_unique<RunView>();
  Findings found;

  std::set<std::string> names;
  for (const auto& n : decl.nodes) {
    if (!names.insert(n.name).second) found.fail(n.where, "node '" + n.name + "' is declared twice");
    plan.nodes.push_back(plan_node(n, decl, registry, plan, logging, found));
  }
  std::vector<bool> link_ok = plan_links(decl, plan, found);
  check_inputs_fed(decl, plan, link_ok, found);

  std::vector<std::vector<std::size_t>> out_links(plan.nodes.size());
  for (std::size_t k = 0; k < plan.links.size(); ++k) {
    if (link_ok[k]) out_links[plan.links[k].from].push_back(k);
  }
  bool ordered = order_nodes(plan, out_links, found);
  assign_policies(decl, plan, link_ok, out_links, ordered, found);
  if (ordered) choose_concurrency(plan, link_ok);

  for (const auto& n : plan.nodes) {
    if (n.type != nullptr && !n.type->spec.is_source() && n.type->spec.inputs().empty()) {
      found.fail(n.where, "node '" + n.name + "' (" + n.type->name + ") is neither a source nor has inputs");
    }
  }

  check_pipeline(plan, decl, found.diagnostics);
  if (!found.diagnostics.empty()) throw PipelineError(std::move(found.diagnostics));
  plan.decl = std::move(decl);
  fill_view(plan);
  return plan;
}

}  // namespace tributary::core

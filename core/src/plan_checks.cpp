#include "plan_checks.hpp"

#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

namespace tributary::core {

namespace {

// A node that nothing reaches: not a source, no link leads to it, and none of its bus inputs is
// on. It would start, wait for end of stream and stop having done nothing.
void check_unreachable(const Plan& plan, const PipelineDecl& decl, std::vector<Diagnostic>& diagnostics) {
  for (const auto& node : plan.nodes) {
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
    for (const auto& l : decl.links) linked = linked || l.to_node == node.name;
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

namespace fs = std::filesystem;

const char* kPathRule =
    "a relative path is relative to the pipeline file's folder, or to the current directory when "
    "given with --set or taken from an environment variable";

// A path a node's parameters name: a path parameter, or a path key inside a table parameter.
struct NamedPath {
  std::string name;  // "path", or "model.path"
  PathRole role;
  std::string path;
};

std::vector<NamedPath> paths_of(const NodePlan& node) {
  std::vector<NamedPath> paths;
  for (const auto& spec : node.type->spec.params()) {
    if (spec.path != PathRole::none && spec.type == ParamType::string) {
      paths.push_back({spec.name, spec.path, node.params.get<std::string>(spec.name)});
    }
    if (spec.path_keys.empty()) continue;
    const Value table = node.params.get<Value>(spec.name);
    for (const auto& [key, role] : spec.path_keys) {
      const Value* v = table.find(key);
      if (v != nullptr && v->type() == ValueType::string)
        paths.push_back({spec.name + "." + key, role, v->as_string()});
    }
  }
  return paths;
}

// Input files exist and can be read; output files can be created; no file is written by two nodes
// (their lines would tear each other) or written by one node while another reads it.
void check_paths(const Plan& plan, const PipelineDecl& decl, std::vector<Diagnostic>& diagnostics) {
  struct Use {
    fs::path file;
    std::size_t node;
    PathRole role;
    Location where;
  };
  std::vector<Use> uses;
  for (std::size_t i = 0; i < plan.nodes.size() && i < decl.nodes.size(); ++i) {
    const NodePlan& node = plan.nodes[i];
    if (!node.node) continue;
    for (const auto& [name, role, path] : paths_of(node)) {
      if (path.empty()) continue;
      const Location where = decl.nodes[i].locate(name);
      const std::string who = "node '" + node.name + "' (" + node.type->name + "): ";
      auto fail = [&](std::string message, std::string hint = {}) {
        diagnostics.push_back({where, who + std::move(message), std::move(hint)});
      };
      std::error_code ec;
      const fs::file_status status = fs::status(path, ec);
      const bool folder = role == PathRole::input_folder || role == PathRole::output_folder;
      const bool input = role == PathRole::input || role == PathRole::input_folder || role == PathRole::input_any;
      if (fs::exists(status) && role != PathRole::input_any && fs::is_directory(status) != folder) {
        fail("'" + name + "' names a " + (folder ? "file, not a folder: " : "directory, not a file: ") + path);
        continue;
      }
      if (input) {
        if (!fs::exists(status)) {
          fail(std::string(to_string(role)) + " " + path + " does not exist", kPathRule);
          continue;
        }
        if (access(path.c_str(), fs::is_directory(status) ? R_OK | X_OK : R_OK) != 0) {
          fail("cannot read " + path + ": " + std::strerror(errno));
          continue;
        }
      } else {
        // The nearest folder that exists must let the missing ones, and the file, be created.
        fs::path existing = folder && fs::exists(status) ? fs::path(path) : fs::path(path).parent_path();
        while (!existing.empty() && !fs::exists(existing, ec)) existing = existing.parent_path();
        if (!existing.empty() && !fs::is_directory(existing, ec)) {
          fail("cannot create " + path + ": " + existing.string() + " is not a folder");
          continue;
        }
        if (!existing.empty() && access(existing.c_str(), W_OK | X_OK) != 0) {
          fail("cannot " + std::string(folder && existing == fs::path(path) ? "write into " : "create ") + path +
               (existing == fs::path(path) ? std::string() : " in " + existing.string()) + ": " + std::strerror(errno));
          continue;
        }
      }
      if (folder || fs::is_directory(status)) continue;  // two nodes may share a folder
      fs::path file = fs::weakly_canonical(path, ec);
      if (ec) file = fs::path(path).lexically_normal();
      for (const auto& other : uses) {
        if (other.file != file || (other.role == PathRole::input && role == PathRole::input)) continue;
        // Shown at the one written later in the file, naming the other first.
        const bool later =
            std::make_pair(other.where.line, other.where.column) < std::make_pair(where.line, where.column);
        const NodePlan& first = later ? plan.nodes[other.node] : node;
        const NodePlan& second = later ? node : plan.nodes[other.node];
        const Location& at = later ? where : other.where;
        std::string message;
        std::string hint;
        if (other.role == PathRole::output && role == PathRole::output) {
          message = "nodes '" + first.name + "' and '" + second.name + "' both write " + path;
          hint = "their lines would tear each other: give one of them another path";
        } else {
          const std::string& reader = other.role == PathRole::input ? plan.nodes[other.node].name : node.name;
          const std::string& writer = other.role == PathRole::input ? node.name : plan.nodes[other.node].name;
          message = "node '" + writer + "' writes " + path + ", which node '" + reader + "' reads";
          hint = "read and write different files";
        }
        diagnostics.push_back({at, "node '" + second.name + "' (" + second.type->name + "): " + message, hint});
        break;
      }
      uses.push_back({file, i, role, where});
    }
  }
}

// A relative path is the pipeline file's folder's, unless it came from the command line or
// starts with an environment variable's value (the user's: the current directory's).
Value resolved_path(const NodeDecl& decl, const std::string& name, const std::string& pipeline_file,
                    const std::string& text) {
  const bool from_command_line =
      std::find(decl.set_keys.begin(), decl.set_keys.end(), name) != decl.set_keys.end() ||
      std::find(decl.from_environment.begin(), decl.from_environment.end(), name) != decl.from_environment.end();
  fs::path base = from_command_line ? fs::current_path() : fs::absolute(pipeline_file).parent_path();
  return Value((base / text).lexically_normal().string());
}

}  // namespace

std::vector<TableEntry> drop_undeclared(const NodeDecl& decl, const NodeSpec& spec, std::vector<TableEntry> params,
                                        std::vector<Diagnostic>& notes) {
  auto given_with_set = [&](const std::string& key) {
    return std::any_of(decl.override_text.begin(), decl.override_text.end(),
                       [&](const TableEntry& given) { return given.key == key; });
  };
  if (!given_with_set("plugin")) return params;
  std::string dropped;
  auto undeclared = [&](const TableEntry& entry) {
    if (spec.find_param(entry.key) != nullptr || given_with_set(entry.key)) return false;
    dropped += (dropped.empty() ? "" : ", ") + entry.key;
    return true;
  };
  params.erase(std::remove_if(params.begin(), params.end(), undeclared), params.end());
  if (!dropped.empty()) {
    Diagnostic note{decl.plugin_where,
                    "node '" + decl.name + "' is now of type '" + decl.plugin + "': dropped " + dropped + ", which " +
                        decl.plugin + " does not declare",
                    ""};
    note.severity = "note";
    notes.push_back(std::move(note));
  }
  return params;
}

std::vector<TableEntry> resolve_paths(const NodeDecl& decl, const NodeSpec& spec, const std::string& pipeline_file,
                                      std::vector<TableEntry> params) {
  for (auto& entry : params) {
    const ParamSpec* p = spec.find_param(entry.key);
    if (p == nullptr) continue;
    if (p->path != PathRole::none && entry.value.type() == ValueType::string) {
      if (!entry.value.as_string().empty()) {
        entry.value = resolved_path(decl, entry.key, pipeline_file, entry.value.as_string());
      }
      continue;
    }
    if (p->path_keys.empty() || entry.value.type() != ValueType::table) continue;
    std::vector<TableEntry> table = entry.value.as_table();
    for (auto& inner : table) {
      const bool names_path = std::any_of(p->path_keys.begin(), p->path_keys.end(),
                                          [&](const auto& path_key) { return path_key.first == inner.key; });
      if (!names_path || inner.value.type() != ValueType::string || inner.value.as_string().empty()) continue;
      inner.value = resolved_path(decl, entry.key + "." + inner.key, pipeline_file, inner.value.as_string());
    }
    entry.value = Value::table(std::move(table));
  }
  return params;
}

Location issue_location(const NodeDecl& decl, const NodeSpec& spec, const ParamIssue& issue) {
  if (!issue.param.empty() && spec.find_param(issue.param) == nullptr) return decl.locate_key(issue.param);
  return decl.locate(issue.param);
}

void check_pipeline(const Plan& plan, const PipelineDecl& decl, std::vector<Diagnostic>& diagnostics) {
  check_unreachable(plan, decl, diagnostics);
  check_source_outputs(plan, decl, diagnostics);
  check_paths(plan, decl, diagnostics);
  // A refused pipeline still shows what was dropped on the way.
  if (!diagnostics.empty()) diagnostics.insert(diagnostics.end(), plan.notes.begin(), plan.notes.end());
}

}  // namespace tributary::core

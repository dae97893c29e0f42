#pragma once
// Pipeline files: TOML parsed into declarations with locations, ${VAR} expanded, --set applied.
// Nothing here knows about plugins; validate.hpp checks declarations against them.
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "diagnostics.hpp"
#include "tributary/value.hpp"

namespace tributary::core {

enum class QueuePolicy : std::uint8_t { block, drop_oldest, drop_newest };
const char* to_string(QueuePolicy policy) noexcept;
std::optional<QueuePolicy> parse_queue_policy(std::string_view text) noexcept;

struct NodeDecl {
  std::string name;
  std::string plugin;
  Location where;                                               // the [nodes.name] header
  Location plugin_where;                                        // the plugin value
  std::vector<TableEntry> params;                               // everything but `plugin`
  std::vector<std::pair<std::string, Location>> locations;      // dotted key -> where its value is
  std::vector<std::pair<std::string, Location>> key_locations;  // top-level key -> where the key is
  // Keys whose value was one ${VAR} and nothing else: validation reads such a value as the
  // declared type (count = "${PACKETS:-100}" is an integer), since TOML has no bare ${VAR}.
  std::vector<std::string> whole_variables;
  // Top-level keys set with --set, and the text given there: a string parameter takes the text
  // as it is, even when it reads as a number (--set clips.label_column=4).
  std::vector<TableEntry> override_text;
  // Keys (dotted inside tables) whose string starts with the value of a variable set in the
  // environment (path = "${KWS}/train"): a relative path there is the user's, relative to the
  // current directory, as one given with --set.
  std::vector<std::string> from_environment;
  // Keys given with --set, dotted inside tables (model.path).
  std::vector<std::string> set_keys;

  // Where a parameter (dotted, possibly with [index]) was written; the node itself when unknown.
  Location locate(std::string_view param) const;
  // Where a top-level key itself was written, for errors about the key rather than its value.
  Location locate_key(std::string_view key) const;
};

struct LinkDecl {
  std::string from_node;
  std::string from_port;  // empty: the node's first output
  std::string to_node;
  std::string to_port;  // empty: the node's first input fed by links
  std::optional<std::int64_t> capacity;
  std::optional<QueuePolicy> policy;
  Location where;
  std::string text;  // "a.out -> b" as written
};

struct PipelineDecl {
  std::string file;
  std::string name;
  Location where;  // the [pipeline] table
  std::vector<NodeDecl> nodes;
  std::vector<LinkDecl> links;
  std::vector<std::string> plugin_path;  // absolute, resolved against the file's folder
  std::int64_t queue_capacity = 64;
  std::int64_t threads = 0;  // 0: one per core
  double telemetry_interval_s = 1.0;
  std::string expanded_toml;  // the file after ${VAR} and --set, as saved in the run directory

  const NodeDecl* find_node(std::string_view name) const noexcept;
};

struct LoadOptions {
  std::vector<std::string> overrides;  // "node.key=value", as given to --set
  // Variables that depend on the pipeline's name (RUN_DIR, RUN_ID); asked once the name is known.
  std::function<std::map<std::string, std::string>(const std::string& pipeline_name)> run_variables;
  // Looks up other ${VAR}s; the process environment by default.
  std::function<std::optional<std::string>(const std::string& name)> environment;
};

// Both throw PipelineError holding every problem found.
PipelineDecl load_pipeline(const std::string& path, const LoadOptions& options);
PipelineDecl parse_pipeline(std::string_view text, const std::string& path, const LoadOptions& options);

}  // namespace tributary::core

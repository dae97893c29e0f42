#include "pipeline_file.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "tributary/param.hpp"

namespace tributary::core {

const char* to_string(QueuePolicy policy) noexcept {
  switch (policy) {
    case QueuePolicy::block:
      return "block";
    case QueuePolicy::drop_oldest:
      return "drop_oldest";
    case QueuePolicy::drop_newest:
      return "drop_newest";
  }
  return "block";
}

std::optional<QueuePolicy> parse_queue_policy(std::string_view text) noexcept {
  if (text == "block") return QueuePolicy::block;
  if (text == "drop_oldest") return QueuePolicy::drop_oldest;
  if (text == "drop_newest") return QueuePolicy::drop_newest;
  return std::nullopt;
}

Location NodeDecl::locate(std::string_view param) const {
  std::string key(param.substr(0, param.find('[')));
  while (!key.empty()) {
    for (const auto& [k, location] : locations) {
      if (k == key) return location;
    }
    auto dot = key.rfind('.');
    if (dot == std::string::npos) break;
    key.resize(dot);
  }
  return where;
}

Location NodeDecl::locate_key(std::string_view key) const {
  for (const auto& [k, location] : key_locations) {
    if (k == key) return location;
  }
  return locate(key);
}

const NodeDecl* PipelineDecl::find_node(std::string_view node_name) const noexcept {
  for (const auto& n : nodes) {
    if (n.name == node_name) return &n;
  }
  return nullptr;
}

namespace {

// Bounds a person would not reach by accident; beyond them a run exhausts memory or threads.
constexpr std::int64_t kMaxQueueCapacity = 100000;
constexpr std::int64_t kMaxThreads = 256;
constexpr std::size_t kMaxNameLength = 100;

constexpr const char* kPipelineKeys[] = {"name",           "links",   "plugin_path",
                                         "queue_capacity", "threads", "telemetry_interval_s"};

bool valid_name(std::string_view s, bool allow_dot) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [&](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || (allow_dot && c == '.');
  });
}

class Loader {
 public:
  Loader(std::string path, const LoadOptions& options) : path_(std::move(path)), options_(options) {}

  PipelineDecl load(std::string_view text) {
    PipelineDecl decl;
    decl.file = path_;
    toml::table root;
    try {
      root = toml::parse(text, path_);
    } catch (const toml::parse_error& e) {
      fail({at(e.source()), "invalid TOML: " + std::string(e.description()), ""});
      throw PipelineError(std::move(diagnostics_));
    }

    for (auto&& [key, node] : root) {
      if (key.str() != "pipeline" && key.str() != "nodes") {
        std::string near = closest_match(key.str(), {"pipeline", "nodes"});
        fail({at(key.source()), "unknown table '" + std::string(key.str()) + "'",
              near.empty() ? "a pipeline file has a [pipeline] table and one [nodes.NAME] table per node"
                           : "did you mean '" + near + "'?"});
      }
    }

    apply_pipeline_overrides(root);
    toml::table* pipeline = root["pipeline"].as_table();
    decl.name = std::filesystem::path(path_).stem().string();
    Location name_where = file_level();
    if (root.contains("pipeline") && pipeline == nullptr) {
      fail({at(root.get("pipeline")->source()), "'pipeline' must be a table", "write [pipeline] on its own line"});
    }
    if (pipeline != nullptr) {
      // A [pipeline] table made by --set pipeline.KEY has no place in the file.
      decl.where = pipeline->source().begin ? at(pipeline->source()) : file_level();
      name_where = decl.where;
      if (auto* n = pipeline->get("name")) {
        name_where = pipeline_where("name", n->source());
        if (auto* s = n->as_string()) {
          decl.name = expand(s->get(), name_where);
        } else {
          fail({name_where, "'name' must be a string", ""});
        }
      }
    }
    if (!valid_name(decl.name, true)) {
      fail({name_where, "pipeline name \"" + decl.name.substr(0, kMaxNameLength) + "\" cannot name a folder",
            "use letters, digits, '.', '_' and '-' only"});
    } else if (decl.name.size() > kMaxNameLength) {
      fail({name_where,
            "pipeline name \"" + decl.name.substr(0, 20) + "...\" is " + std::to_string(decl.name.size()) +
                " characters long, more than the " + std::to_string(kMaxNameLength) + " a run folder takes",
            "choose a shorter name"});
    }

    if (options_.run_variables) run_vars_ = options_.run_variables(decl.name);

    toml::table* nodes = root["nodes"].as_table();
    bool nodes_malformed = root.contains("nodes") && nodes == nullptr;
    if (nodes_malformed) {
      fail({at(root.get("nodes")->source()), "'nodes' must hold one table per node",
            "write [nodes.NAME] with plugin = \"TYPE\" for each node"});
    }
    apply_overrides(nodes);
    expand_all(root);

    if (pipeline != nullptr) read_pipeline(*pipeline, decl);
    if (nodes == nullptr) {
      if (!nodes_malformed) {
        fail({file_level(), "the pipeline declares no nodes",
              "add a table per node: [nodes.NAME] with plugin = \"TYPE\""});
      }
    } else {
      for (auto&& [key, node] : *nodes) read_node(std::string(key.str()), node, decl);
      if (nodes->empty()) fail({at(nodes->source()), "the pipeline declares no nodes", ""});
    }

    std::ostringstream out;
    out << root << "\n";
    decl.expanded_toml = out.str();
    if (!diagnostics_.empty()) throw PipelineError(std::move(diagnostics_));
    return decl;
  }

 private:
  Location at(const toml::source_region& region) const {
    return Location{path_, static_cast<std::uint32_t>(region.begin.line),
                    static_cast<std::uint32_t>(region.begin.column)};
  }
  // Where a problem of the whole file is reported: its first line, so every error is located.
  Location file_level() const { return Location{path_, 1, 1}; }
  void fail(Diagnostic d) { diagnostics_.push_back(std::move(d)); }

  // The value of an override is TOML when it parses as TOML (40, 0.5, true, [1, 2], { a = 1 }),
  // else the text as a string.
  static void assign(toml::table& table, const std::string& key, const std::string& text) {
    toml::table parsed;
    bool is_toml = false;
    try {
      parsed = toml::parse("v = " + text);
      is_toml = parsed.size() == 1 && parsed.contains("v");
    } catch (const toml::parse_error&) {
      is_toml = false;
    }
    if (is_toml) {
      table.insert_or_assign(key, std::move(*parsed.get("v")));
    } else {
      table.insert_or_assign(key, text);
    }
  }

  // --set pipeline.key=value, before the [pipeline] table is read; `pipeline.` always names it.
  void apply_pipeline_overrides(toml::table& root) {
    for (const auto& arg : options_.overrides) {
      auto eq = arg.find('=');
      if (arg.rfind("pipeline.", 0) != 0 || eq == std::string::npos || eq < 9) continue;
      Location where{"--set " + arg, 0, 0};
      std::string key = arg.substr(9, eq - 9);
      if (key.empty() || key.find('.') != std::string::npos) {
        fail({where, "'" + key + "' is not a pipeline setting",
              "write --set pipeline.KEY=VALUE, e.g. --set pipeline.threads=4"});
        continue;
      }
      if (!root.contains("pipeline")) root.insert("pipeline", toml::table{});
      toml::table* pipeline = root["pipeline"].as_table();
      if (pipeline == nullptr) continue;  // reported with the file's own error
      assign(*pipeline, key, arg.substr(eq + 1));
      pipeline_overridden_[key] = where;
    }
  }

  // Where a [pipeline] setting was given: the override when there is one, else the file.
  Location pipeline_where(const std::string& key, const toml::source_region& region) const {
    auto it = pipeline_overridden_.find(key);
    return it != pipeline_overridden_.end() ? it->second : at(region);
  }

  // --set node.key=value, before expansion so overrides may use ${VAR} too.
  void apply_overrides(toml::table* nodes) {
    for (const auto& arg : options_.overrides) {
      Location where{"--set " + arg, 0, 0};
      auto eq = arg.find('=');
      auto dot = arg.find('.');
      if (eq == std::string::npos || dot == std::string::npos || dot > eq || dot == 0 || dot + 1 == eq) {
        fail({where, "an override is written node.key=value or pipeline.key=value", "for example --set train.lr=0.01"});
        continue;
      }
      std::string node_name = arg.substr(0, dot);
      std::string key = arg.substr(dot + 1, eq - dot - 1);
      std::string text = arg.substr(eq + 1);
      if (node_name == "pipeline") continue;  // applied before the [pipeline] table was read
      toml::table* node = nodes ? (*nodes)[node_name].as_table() : nullptr;
      if (node == nullptr) {
        std::vector<std::string> names;
        if (nodes) {
          for (auto&& [k, v] : *nodes) names.emplace_back(k.str());
        }
        std::string near = closest_match(node_name, names);
        fail({where, "no node named '" + node_name + "' to override",
              near.empty() ? "" : "did you mean '" + near + "'?"});
        continue;
      }
      toml::table* target = node;
      std::string leaf = key;
      for (auto d = leaf.find('.'); d != std::string::npos; d = leaf.find('.')) {
        std::string part = leaf.substr(0, d);
        leaf = leaf.substr(d + 1);
        if (!target->contains(part)) target->insert(part, toml::table{});
        target = (*target)[part].as_table();
        if (target == nullptr) break;
      }
      if (target == nullptr || leaf.empty()) {
        fail({where, "'" + key + "' does not name a value inside a table of node '" + node_name + "'", ""});
        continue;
      }
      assign(*target, leaf, text);
      overridden_[node_name].emplace_back(key, where);
      if (key.find('.') == std::string::npos) override_text_[node_name].push_back({key, Value(text)});
    }
  }

  // `from_environment`: set when the text starts with a variable the environment gave.
  std::string expand(const std::string& text, const Location& where, bool* from_environment = nullptr) {
    std::string out;
    for (std::size_t i = 0; i < text.size(); ++i) {
      if (text[i] != '$' || i + 1 >= text.size() || text[i + 1] != '{') {
        out += text[i];
        continue;
      }
      auto close = text.find('}', i + 2);
      if (close == std::string::npos) {
        fail({where, "unterminated ${ in \"" + text + "\"", "write ${NAME}"});
        return text;
      }
      std::string body = text.substr(i + 2, close - i - 2);
      std::optional<std::string> fallback;
      if (auto sep = body.find(":-"); sep != std::string::npos) {
        fallback = body.substr(sep + 2);
        body.resize(sep);
      }
      std::optional<std::string> value;
      if (auto it = run_vars_.find(body); it != run_vars_.end()) {
        value = it->second;
      } else {
        if (options_.environment) {
          value = options_.environment(body);
        } else if (const char* env = std::getenv(body.c_str())) {
          value = std::string(env);
        }
        if (value && i == 0 && from_environment != nullptr) *from_environment = true;
      }
      if (!value) value = fallback;
      if (!value) {
        fail({where, "environment variable '" + body + "' is not set",
              "set it, or give a default: ${" + body + ":-VALUE}"});
        value = std::string();
      }
      out += *value;
      i = close;
    }
    return out;
  }

  void expand_all(toml::node& node) {
    if (auto* s = node.as_string()) {
      const std::string& text = s->get();
      if (text.rfind("${", 0) == 0 && text.find('}') == text.size() - 1) whole_variables_.insert(&node);
      if (text.find("${") != std::string::npos) {
        bool from_environment = false;
        s->get() = expand(s->get(), at(s->source()), &from_environment);
        if (from_environment) from_environment_.insert(&node);
      }
    } else if (auto* t = node.as_table()) {
      for (auto&& [k, v] : *t) expand_all(v);
    } else if (auto* a = node.as_array()) {
      for (auto& v : *a) expand_all(v);
    }
  }

  // Records the keys (dotted inside tables) whose string starts with an environment variable's value.
  void note_environment(NodeDecl& decl, const std::string& key, const toml::node& node) const {
    if (from_environment_.count(&node) != 0) decl.from_environment.push_back(key);
    if (auto* t = node.as_table()) {
      for (auto&& [k, v] : *t) note_environment(decl, key + "." + std::string(k.str()), v);
    }
  }

  Value to_value(const toml::node& node, const std::string& key, const Location& where) {
    if (auto* s = node.as_string()) return Value(s->get());
    if (auto* i = node.as_integer()) return Value(i->get());
    if (auto* f = node.as_floating_point()) return Value(f->get());
    if (auto* b = node.as_boolean()) return Value(b->get());
    if (auto* a = node.as_array()) {
      std::vector<Value> items;
      for (const auto& v : *a) items.push_back(to_value(v, key, where));
      return Value(std::move(items));
    }
    if (auto* t = node.as_table()) {
      std::vector<TableEntry> entries;
      for (auto&& [k, v] : *t)
        entries.push_back({std::string(k.str()), to_value(v, key + "." + std::string(k.str()), where)});
      return Value::table(std::move(entries));
    }
    fail({where, "'" + key + "': dates and times are not parameter values", "write it as a string"});
    return Value();
  }

  // Where a key itself is written (not its value).
  Location key_location(const toml::table& table, const std::string& key, const Location& otherwise) const {
    for (auto&& [k, v] : table) {
      if (k.str() == key && k.source().begin) return at(k.source());
    }
    return otherwise;
  }

  void record_locations(NodeDecl& decl, const std::string& prefix, const toml::table& table) {
    for (auto&& [k, v] : table) {
      std::string key = prefix.empty() ? std::string(k.str()) : prefix + "." + std::string(k.str());
      decl.locations.emplace_back(key, v.source().begin ? at(v.source()) : decl.where);
      if (prefix.empty() && k.source().begin) decl.key_locations.emplace_back(key, at(k.source()));
      if (auto* t = v.as_table()) record_locations(decl, key, *t);
    }
  }

  void read_node(const std::string& name, toml::node& node, PipelineDecl& decl) {
    NodeDecl n;
    n.name = name;
    n.where = at(node.source());
    auto* table = node.as_table();
    if (table == nullptr) {
      fail({n.where, "node '" + name + "' must be a table", "write [nodes." + name + "] with plugin = \"TYPE\""});
      return;
    }
    if (!valid_name(name, false)) {
      fail({n.where, "node name '" + name + "' may hold only letters, digits, '_' and '-'", ""});
    }
    record_locations(n, "", *table);
    for (const auto& [key, where] : overridden_[name]) {
      for (auto* located : {&n.locations, &n.key_locations}) {
        auto it = std::find_if(located->begin(), located->end(), [&](const auto& e) { return e.first == key; });
        if (it != located->end()) {
          it->second = where;
        } else if (located == &n.locations || key.find('.') == std::string::npos) {
          located->emplace_back(key, where);
        }
      }
    }
    n.plugin_where = n.locate("plugin");
    n.override_text = override_text_[name];
    for (const auto& given : overridden_[name]) n.set_keys.push_back(given.first);
    auto* plugin = table->get("plugin");
    if (plugin == nullptr) {
      std::vector<std::string> keys;
      for (auto&& [k, v] : *table) keys.emplace_back(k.str());
      std::string typo;
      for (const auto& key : keys) {
        if (closest_match(key, {"plugin"}) == "plugin") typo = key;
      }
      if (typo.empty()) {
        fail({n.where, "node '" + name + "' has no plugin", "add plugin = \"TYPE\" (see `tributary plugins`)"});
      } else {
        fail({key_location(*table, typo, n.where), "node '" + name + "' has no plugin but a key '" + typo + "'",
              "did you mean 'plugin'?"});
      }
    } else if (auto* s = plugin->as_string()) {
      n.plugin = s->get();
    } else {
      fail({n.plugin_where, "'plugin' must be a string naming a node type", ""});
    }
    for (auto&& [k, v] : *table) {
      std::string key(k.str());
      if (key == "plugin") continue;
      n.params.push_back({key, to_value(v, key, n.locate(key))});
      if (whole_variables_.count(&v) != 0) n.whole_variables.push_back(key);
      note_environment(n, key, v);
    }
    decl.nodes.push_back(std::move(n));
  }

  void read_link_endpoint(const std::string& text, std::string& node, std::string& port, const Location& where,
                          const char* side) {
    auto trim = [](std::string s) {
      auto b = s.find_first_not_of(" \t");
      auto e = s.find_last_not_of(" \t");
      return b == std::string::npos ? std::string() : s.substr(b, e - b + 1);
    };
    std::string t = trim(text);
    auto dot = t.find('.');
    node = t.substr(0, dot);
    port = dot == std::string::npos ? std::string() : t.substr(dot + 1);
    if (!valid_name(node, false) || (dot != std::string::npos && !valid_name(port, false))) {
      fail({where, std::string("the ") + side + " of link \"" + text + "\" is not node or node.port", ""});
    }
  }

  // `given`: where links given with --set are shown, since their text has no place in the file.
  void read_link(const toml::node& item, PipelineDecl& decl, const Location* given) {
    LinkDecl link;
    link.where = given != nullptr ? *given : at(item.source());
    std::string from, to;
    if (auto* s = item.as_string()) {
      link.text = s->get();
      auto arrow = link.text.find("->");
      if (arrow == std::string::npos || link.text.find("->", arrow + 2) != std::string::npos) {
        fail({link.where, "link \"" + link.text + "\" must be written \"node[.port] -> node[.port]\"", ""});
        return;
      }
      from = link.text.substr(0, arrow);
      to = link.text.substr(arrow + 2);
    } else if (auto* t = item.as_table()) {
      for (auto&& [k, v] : *t) {
        std::string key(k.str());
        Location kw = given != nullptr ? *given : at(v.source());
        if (key == "from" && v.is_string()) {
          from = v.as_string()->get();
        } else if (key == "to" && v.is_string()) {
          to = v.as_string()->get();
        } else if (key == "capacity" && v.is_integer()) {
          link.capacity = v.as_integer()->get();
          if (*link.capacity < 1 || *link.capacity > kMaxQueueCapacity) {
            fail({kw, "a link's capacity must be between 1 and " + std::to_string(kMaxQueueCapacity) + " packets", ""});
          }
        } else if (key == "policy" && v.is_string()) {
          link.policy = parse_queue_policy(v.as_string()->get());
          if (!link.policy) {
            std::string near = closest_match(v.as_string()->get(), {"block", "drop_oldest", "drop_newest"});
            fail({kw, "unknown queue policy \"" + v.as_string()->get() + "\"",
                  near.empty() ? "use block, drop_oldest or drop_newest" : "did you mean '" + near + "'?"});
          }
        } else {
          std::string near = closest_match(key, {"from", "to", "capacity", "policy"});
          if (given == nullptr && key != "from" && key != "to" && key != "capacity" && key != "policy") {
            kw = at(k.source());
          }
          fail({kw, "link key '" + key + "' is unknown or has the wrong type",
                "a link table has from (string), to (string), capacity (integer), policy (string)" +
                    (near.empty() || near == key ? std::string() : "; did you mean '" + near + "'?")});
        }
      }
      if (from.empty() || to.empty()) {
        fail({link.where, "a link table needs both from and to", "{ from = \"a.out\", to = \"b\" }"});
        return;
      }
      link.text = from + " -> " + to;
    } else {
      fail({link.where, "a link is a string \"a -> b\" or a table { from = \"a\", to = \"b\" }", ""});
      return;
    }
    read_link_endpoint(from, link.from_node, link.from_port, link.where, "source");
    read_link_endpoint(to, link.to_node, link.to_port, link.where, "target");
    decl.links.push_back(std::move(link));
  }

  void read_pipeline(toml::table& table, PipelineDecl& decl) {
    std::vector<std::string> known(std::begin(kPipelineKeys), std::end(kPipelineKeys));
    for (auto&& [k, v] : table) {
      std::string key(k.str());
      Location where = pipeline_where(key, v.source());
      if (key == "name") continue;
      if (key == "links") {
        if (auto* a = v.as_array()) {
          const bool given = pipeline_overridden_.count(key) != 0;
          for (const auto& item : *a) read_link(item, decl, given ? &where : nullptr);
        } else {
          fail({where, "'links' must be a list", "links = [ \"a -> b\", \"b -> c\" ]"});
        }
      } else if (key == "plugin_path") {
        // Relative to the file's folder, or to the current directory when given with --set.
        auto base = pipeline_overridden_.count(key) != 0 ? std::filesystem::current_path()
                                                         : std::filesystem::absolute(path_).parent_path();
        auto add = [&](const toml::node& p) {
          if (auto* s = p.as_string()) {
            decl.plugin_path.push_back((base / s->get()).lexically_normal().string());
          } else {
            fail({pipeline_where(key, p.source()), "'plugin_path' holds folder names (strings)", ""});
          }
        };
        if (auto* a = v.as_array()) {
          for (const auto& p : *a) add(p);
        } else {
          add(v);
        }
      } else if (key == "queue_capacity") {
        if (!v.is_integer() || v.as_integer()->get() < 1 || v.as_integer()->get() > kMaxQueueCapacity) {
          fail({where,
                "'queue_capacity' must be an integer between 1 and " + std::to_string(kMaxQueueCapacity) +
                    " (packets held per link)",
                ""});
        } else {
          decl.queue_capacity = v.as_integer()->get();
        }
      } else if (key == "threads") {
        if (!v.is_integer() || v.as_integer()->get() < 0 || v.as_integer()->get() > kMaxThreads) {
          fail({where, "'threads' must be an integer between 0 (one per core) and " + std::to_string(kMaxThreads),
                "more threads than cores slow a run down: 0 is usually best"});
        } else {
          decl.threads = v.as_integer()->get();
        }
      } else if (key == "telemetry_interval_s") {
        if (!v.is_number() || v.value<double>().value_or(0) <= 0) {
          fail({where, "'telemetry_interval_s' must be a number above 0", ""});
        } else {
          decl.telemetry_interval_s = *v.value<double>();
        }
      } else {
        std::string near = closest_match(key, known);
        fail({pipeline_where(key, k.source()), "unknown pipeline setting '" + key + "'",
              near.empty() ? "known settings: name, links, plugin_path, queue_capacity, threads, telemetry_interval_s"
                           : "did you mean '" + near + "'?"});
      }
    }
  }

  std::string path_;
  const LoadOptions& options_;
  std::map<std::string, std::string> run_vars_;
  std::set<const toml::node*> whole_variables_;
  std::set<const toml::node*> from_environment_;  // strings that start with an environment variable's value
  std::map<std::string, std::vector<TableEntry>> override_text_;
  std::map<std::string, std::vector<std::pair<std::string, Location>>> overridden_;
  std::map<std::string, Location> pipeline_overridden_;
  std::vector<Diagnostic> diagnostics_;
};

}  // namespace

PipelineDecl parse_pipeline(std::string_view text, const std::string& path, const LoadOptions& options) {
  return Loader(path, options).load(text);
}

PipelineDecl load_pipeline(const std::string& path, const LoadOptions& options) {
  std::error_code dir_error;
  if (std::filesystem::is_directory(path, dir_error)) {
    throw PipelineError({Diagnostic{Location{path, 0, 0}, "is a directory, not a pipeline file",
                                    "name a .toml file, such as pipelines/default.toml"}});
  }
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    const int reason = errno;
    std::error_code ec;
    if (!std::filesystem::exists(path, ec))
      throw PipelineError({Diagnostic{Location{path, 0, 0}, "no such pipeline file", ""}});
    // It exists: a file-level error, located at its start like the others.
    throw PipelineError(
        {Diagnostic{Location{path, 1, 1},
                    std::string("cannot read the pipeline file: ") + std::strerror(reason != 0 ? reason : EACCES),
                    "check its permissions"}});
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) {
    throw PipelineError({Diagnostic{Location{path, 1, 1},
                                    std::string("reading the pipeline file failed: ") + std::strerror(errno), ""}});
  }
  return parse_pipeline(text.str(), path, options);
}

}  // namespace tributary::core

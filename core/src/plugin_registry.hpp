#pragma once
// The plugin registry: loads plugin libraries with Boost.DLL, refuses those built for another
// ABI, and knows every node type by name. It owns the libraries, so it must outlive every node.
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tributary/plugin.hpp"

namespace tributary::core {

struct RefusedLibrary {
  std::string path;
  std::string reason;
};

class PluginRegistry {
 public:
  PluginRegistry();
  ~PluginRegistry();
  PluginRegistry(const PluginRegistry&) = delete;
  PluginRegistry& operator=(const PluginRegistry&) = delete;

  // Loads every shared library in `folder` that exports a Tributary plugin. Folders are searched
  // in the order they are added; a type name seen again later is refused with a warning.
  void load_folder(const std::string& folder);
  // Loads one library; returns false (and records why) when it is refused.
  bool load_library(const std::string& path);
  // Registers a type from code (tests, embedding applications).
  void add(NodeType type, std::string library = "(built in)", std::string family = "builtin");

  const NodeType* find(std::string_view name) const noexcept;
  std::vector<const NodeType*> types() const;  // sorted by name
  std::vector<std::string> type_names() const;
  const std::vector<std::string>& folders() const noexcept { return folders_; }
  const std::vector<std::string>& libraries() const noexcept { return libraries_; }
  const std::vector<RefusedLibrary>& refused() const noexcept { return refused_; }
  const std::vector<std::string>& warnings() const noexcept { return warnings_; }

 private:
  struct Loaded;
  std::vector<std::unique_ptr<Loaded>> loaded_;
  std::vector<std::unique_ptr<NodeType>> types_;
  std::vector<std::string> folders_;
  std::vector<std::string> libraries_;
  std::vector<RefusedLibrary> refused_;
  std::vector<std::string> warnings_;
};

// The folders the CLI searches by default: beside the executable (build and install layouts).
std::vector<std::string> default_plugin_folders();
// Folders from a PATH-like variable (TRIBUTARY_PLUGIN_PATH), in order.
std::vector<std::string> split_path_list(std::string_view list);

}  // namespace tributary::core

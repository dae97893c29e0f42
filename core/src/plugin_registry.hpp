#pragma once
// The plugin registry: loads plugin libraries with Boost.DLL, refuses those built for another
// ABI, and knows every node type by name. It owns the libraries, so it must outlive every node.
//
// A library is loaded when one of its types is first needed: an index of what each library
// provides, kept in the user's cache folder and checked against each file's size and times,
// lets a run that needs three node types skip loading a library it does not use (LibTorch's
// alone takes most of a second). A library the index does not know, or knows in another version,
// is loaded at once and indexed.
#include <cstddef>
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

  // Finds every shared library in `folder` that exports a Tributary plugin: loads those the index
  // does not know, and notes which types the others provide for find() to load. Folders are
  // searched in the order they are added; a type name seen again later is refused with a warning.
  void load_folder(const std::string& folder);
  // The index file: `index_path` empty: none (every library is loaded at once).
  // By default: $TRIBUTARY_PLUGIN_INDEX ("off": none), else the user's cache folder.
  void use_index(std::string index_path);
  static std::string default_index_path();
  // Loads one library; returns false (and records why) when it is refused.
  bool load_library(const std::string& path);
  // Registers a type from code (tests, embedding applications).
  void add(NodeType type, std::string library = "(built in)", std::string family = "builtin");

  // Loads the type's library first when it is not loaded yet.
  const NodeType* find(std::string_view name) const noexcept;
  std::vector<const NodeType*> types() const;   // sorted by name; loads every library
  std::vector<std::string> type_names() const;  // sorted; loads nothing
  // Libraries found but not loaded, since nothing needed their types.
  std::size_t deferred() const noexcept;
  const std::vector<std::string>& folders() const noexcept { return folders_; }
  const std::vector<std::string>& libraries() const noexcept { return libraries_; }
  const std::vector<RefusedLibrary>& refused() const noexcept { return refused_; }
  const std::vector<std::string>& warnings() const noexcept { return warnings_; }

 private:
  struct Loaded;
  struct Deferred {
    std::string path;
    std::vector<std::string> names;  // as the index has them
    bool tried = false;
  };
  bool load_now(const std::string& path) const;
  void load_deferred(Deferred& library) const;
  const std::string* owner(std::string_view name) const noexcept;
  // Claims `name` for `path` unless an earlier library has it (then warns and returns false).
  bool claim(const std::string& name, const std::string& path) const;

  std::string index_path_ = default_index_path();
  // The index as read on the first load_folder() (and kept up to date): read once per registry.
  struct Index;
  std::unique_ptr<Index> index_;
  // Loading on demand changes what the registry holds, not what it answers: mutable.
  mutable std::vector<std::unique_ptr<Loaded>> loaded_;
  mutable std::vector<std::unique_ptr<NodeType>> types_;
  mutable std::vector<Deferred> deferred_;
  mutable std::vector<std::pair<std::string, std::string>> owners_;  // type name -> the library providing it
  std::vector<std::string> folders_;
  mutable std::vector<std::string> libraries_;
  mutable std::vector<RefusedLibrary> refused_;
  mutable std::vector<std::string> warnings_;
  mutable std::vector<std::string> last_names_;  // what the library load_now() loaded last registers
};

// The folders the CLI searches by default: beside the executable (build and install layouts).
std::vector<std::string> default_plugin_folders();
// Folders from a PATH-like variable (TRIBUTARY_PLUGIN_PATH), in order.
std::vector<std::string> split_path_list(std::string_view list);

}  // namespace tributary::core

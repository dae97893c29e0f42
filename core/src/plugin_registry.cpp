#include "plugin_registry.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>
#include <system_error>

namespace tributary::core {

struct PluginRegistry::Loaded {
  boost::dll::shared_library library;
};

namespace {

class Collector final : public PluginRegistrar {
 public:
  void add(NodeType type) override { types.push_back(std::move(type)); }
  std::vector<NodeType> types;
};

std::string hex(std::uint64_t value) {
  static const char* digits = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = 60; shift >= 0; shift -= 4) out += digits[(value >> shift) & 0xfu];
  return out;
}

// ---- the index of what each library provides --------------------------------------------
// One line per library: path, size, modification and change times (ns), inode, and its type names.
// The first line names this runtime's plugin ABI: an index written by another is not read.
struct Stamp {
  long long size = -1, mtime = 0, ctime = 0, inode = 0;
  bool operator==(const Stamp& o) const {
    return size == o.size && mtime == o.mtime && ctime == o.ctime && inode == o.inode;
  }
};

struct IndexEntry {
  Stamp stamp;
  std::vector<std::string> names;
};

std::optional<Stamp> stamp_of(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::nullopt;
  Stamp s;
  s.size = static_cast<long long>(st.st_size);
  s.mtime = static_cast<long long>(st.st_mtim.tv_sec) * 1000000000LL + st.st_mtim.tv_nsec;
  s.ctime = static_cast<long long>(st.st_ctim.tv_sec) * 1000000000LL + st.st_ctim.tv_nsec;
  s.inode = static_cast<long long>(st.st_ino);
  return s;
}

std::string index_header() {
  return "tributary plugin index 1\tABI " + std::to_string(TRIBUTARY_ABI_VERSION) + " " + hex(abi::kStdLibrary) + " " +
         hex(abi::kSdkLayout) + " " + TRIBUTARY_VERSION_STRING;
}

std::map<std::string, IndexEntry> read_index(const std::string& path) {
  std::map<std::string, IndexEntry> out;
  if (path.empty()) return out;
  std::ifstream in(path);
  std::string line;
  if (!std::getline(in, line) || line != index_header()) return out;
  while (std::getline(in, line)) {
    std::istringstream fields(line);
    std::string file, names;
    IndexEntry e;
    if (!std::getline(fields, file, '\t')) continue;
    if (!(fields >> e.stamp.size >> e.stamp.mtime >> e.stamp.ctime >> e.stamp.inode)) continue;
    fields.get();  // the tab before the names
    std::getline(fields, names);
    std::istringstream list(names);
    for (std::string n; std::getline(list, n, ',');)
      if (!n.empty()) e.names.push_back(n);
    if (!e.names.empty()) out[file] = std::move(e);
  }
  return out;
}

// Written whole to a file of this process's own, then renamed over the index: readers see the
// old index or the new one, never half of one. An index that cannot be written is no error.
void write_index(const std::string& path, const std::map<std::string, IndexEntry>& index) {
  if (path.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(std::filesystem::path(path).parent_path(), ec);
  const std::string temp = path + ".tmp." + std::to_string(::getpid());
  {
    std::ofstream out(temp, std::ios::trunc);
    if (!out) return;
    out << index_header() << "\n";
    for (const auto& [file, e] : index) {
      if (file.find('\t') != std::string::npos || file.find('\n') != std::string::npos) continue;
      out << file << '\t' << e.stamp.size << ' ' << e.stamp.mtime << ' ' << e.stamp.ctime << ' ' << e.stamp.inode
          << '\t';
      for (std::size_t i = 0; i < e.names.size(); ++i) out << (i ? "," : "") << e.names[i];
      out << "\n";
    }
    if (!out.flush()) {
      out.close();
      std::filesystem::remove(temp, ec);
      return;
    }
  }
  std::filesystem::rename(temp, path, ec);
  if (ec) std::filesystem::remove(temp, ec);
}

bool plain_name(const std::string& name) { return !name.empty() && name.find_first_of(",\t\n") == std::string::npos; }

}  // namespace

std::string PluginRegistry::default_index_path() {
  if (const char* chosen = std::getenv("TRIBUTARY_PLUGIN_INDEX")) {
    std::string value = chosen;
    return value == "off" ? std::string() : value;
  }
  std::string base;
  if (const char* xdg = std::getenv("XDG_CACHE_HOME"); xdg != nullptr && *xdg == '/') {
    base = xdg;
  } else if (const char* home = std::getenv("HOME"); home != nullptr && *home == '/') {
    base = std::string(home) + "/.cache";
  } else {
    return {};
  }
  return base + "/tributary/plugin-index.tsv";
}

struct PluginRegistry::Index {
  std::map<std::string, IndexEntry> entries;
};

PluginRegistry::PluginRegistry() = default;

void PluginRegistry::use_index(std::string index_path) {
  index_path_ = std::move(index_path);
  index_.reset();
}

PluginRegistry::~PluginRegistry() {
  // Types hold std::function objects whose code lives in the libraries: drop them first.
  types_.clear();
  loaded_.clear();
}

void PluginRegistry::load_folder(const std::string& folder) {
  std::error_code ec;
  auto abs = std::filesystem::absolute(folder, ec).lexically_normal().string();
  if (std::find(folders_.begin(), folders_.end(), abs) != folders_.end()) return;
  folders_.push_back(abs);
  if (!std::filesystem::is_directory(abs, ec)) return;
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::directory_iterator(abs, ec)) {
    if (entry.is_regular_file(ec) && entry.path().extension() == ".so") files.push_back(entry.path().string());
  }
  std::sort(files.begin(), files.end());
  if (!index_) index_ = std::make_unique<Index>(Index{read_index(index_path_)});
  auto& index = index_->entries;
  bool changed = false;
  for (const auto& f : files) {
    const auto stamp = stamp_of(f);
    const auto known = index.find(f);
    if (stamp && known != index.end() && known->second.stamp == *stamp) {
      Deferred d{f, {}, false};
      for (const auto& name : known->second.names) {
        if (claim(name, f)) d.names.push_back(name);
      }
      deferred_.push_back(std::move(d));
      continue;
    }
    if (!load_now(f)) {
      if (known != index.end()) {
        index.erase(known);
        changed = true;
      }
      continue;
    }
    // Every name the library registers, also those another library had first: they are its own.
    if (stamp && !last_names_.empty() && std::all_of(last_names_.begin(), last_names_.end(), plain_name)) {
      index[f] = IndexEntry{*stamp, last_names_};
      changed = true;
    }
  }
  if (changed) write_index(index_path_, index);
}

namespace {
// Boost wraps the loader's own message as "...load() failed (dlerror system message: PATH: WHY):
// ERRNO TEXT", where the errno text is unrelated (often "Bad file descriptor"): only WHY is kept.
std::string load_failure(const std::string& what, const std::string& path) {
  const std::string marker = "dlerror system message: ";
  auto begin = what.find(marker);
  auto end = what.rfind("): ");
  if (begin == std::string::npos || end == std::string::npos || end < begin) return what;
  std::string reason = what.substr(begin + marker.size(), end - begin - marker.size());
  if (reason.rfind(path + ": ", 0) == 0) reason.erase(0, path.size() + 2);
  return reason;
}
}  // namespace

bool PluginRegistry::load_library(const std::string& path) { return load_now(path); }

bool PluginRegistry::load_now(const std::string& path) const {
  last_names_.clear();
  auto refuse = [&](std::string reason) {
    refused_.push_back({path, std::move(reason)});
    return false;
  };
  auto loaded = std::make_unique<Loaded>();
  try {
    loaded->library.load(path, boost::dll::load_mode::rtld_now | boost::dll::load_mode::rtld_local);
  } catch (const std::exception& e) {
    return refuse("cannot be loaded: " + load_failure(e.what(), path));
  }
  if (!loaded->library.has(TRIBUTARY_PLUGIN_SYMBOL_NAME)) {
    return refuse("is not a Tributary plugin: it exports no " + std::string(TRIBUTARY_PLUGIN_SYMBOL_NAME) +
                  " (build it with TRIBUTARY_PLUGIN(...))");
  }
  const TributaryPluginInfo* info = nullptr;
  try {
    info = loaded->library.get<const TributaryPluginInfo*()>(TRIBUTARY_PLUGIN_SYMBOL_NAME)();
  } catch (const std::exception& e) {
    return refuse(std::string("its plugin info cannot be read: ") + e.what());
  }
  if (info == nullptr || info->magic != TRIBUTARY_PLUGIN_MAGIC) {
    return refuse("has a malformed plugin info block (wrong magic number)");
  }
  if (info->abi_version != TRIBUTARY_ABI_VERSION) {
    return refuse("was built for Tributary plugin ABI " + std::to_string(info->abi_version) +
                  ", but this runtime uses ABI " + std::to_string(TRIBUTARY_ABI_VERSION) +
                  "; rebuild the plugin against Tributary SDK " + TRIBUTARY_VERSION_STRING);
  }
  if (info->std_library != abi::kStdLibrary) {
    return refuse("was built with " + abi::describe_std_library(info->std_library) + ", but this runtime uses " +
                  abi::describe_std_library(abi::kStdLibrary) +
                  "; rebuild the plugin with the same standard library settings");
  }
  if (info->layout != abi::kSdkLayout) {
    return refuse("was built against SDK headers whose types have another layout (fingerprint " + hex(info->layout) +
                  ", this runtime's is " + hex(abi::kSdkLayout) +
                  "); rebuild the plugin against the headers of Tributary SDK " + TRIBUTARY_VERSION_STRING);
  }
  Collector collector;
  try {
    info->register_types(collector);
  } catch (const std::exception& e) {
    return refuse(std::string("failed while registering its node types: ") + e.what());
  }
  std::string family = info->family ? info->family : "";
  std::string version = info->plugin_version ? info->plugin_version : "";
  for (auto& type : collector.types) {
    last_names_.push_back(type.name);
    const std::string* had = owner(type.name);
    if (had != nullptr && *had != path) {
      warnings_.push_back("node type '" + type.name + "' from " + path + " is ignored: " + *had +
                          " already provides it");
      continue;
    }
    if (had == nullptr) owners_.emplace_back(type.name, path);
    type.library = path;
    type.family = family;
    type.version = version;
    types_.push_back(std::make_unique<NodeType>(std::move(type)));
  }
  libraries_.push_back(path);
  loaded_.push_back(std::move(loaded));
  return true;
}

void PluginRegistry::add(NodeType type, std::string library, std::string family) {
  if (owner(type.name) != nullptr) {
    warnings_.push_back("node type '" + type.name + "' registered twice; the first one is kept");
    return;
  }
  owners_.emplace_back(type.name, library);
  type.library = std::move(library);
  type.family = std::move(family);
  types_.push_back(std::make_unique<NodeType>(std::move(type)));
}

const std::string* PluginRegistry::owner(std::string_view name) const noexcept {
  for (const auto& [type, path] : owners_) {
    if (type == name) return &path;
  }
  return nullptr;
}

bool PluginRegistry::claim(const std::string& name, const std::string& path) const {
  const std::string* had = owner(name);
  if (had == nullptr) {
    owners_.emplace_back(name, path);
    return true;
  }
  if (*had != path)
    warnings_.push_back("node type '" + name + "' from " + path + " is ignored: " + *had + " already provides it");
  return false;
}

void PluginRegistry::load_deferred(Deferred& library) const {
  if (library.tried) return;
  library.tried = true;
  load_now(library.path);
}

const NodeType* PluginRegistry::find(std::string_view name) const noexcept {
  auto loaded = [&]() -> const NodeType* {
    for (const auto& t : types_) {
      if (t->name == name) return t.get();
    }
    return nullptr;
  };
  if (const NodeType* t = loaded()) return t;
  const std::string* path = owner(name);
  if (path == nullptr) return nullptr;
  for (auto& d : deferred_) {
    if (d.path != *path || d.tried) continue;
    try {
      load_deferred(d);
    } catch (...) {
      refused_.push_back({d.path, "failed while loading"});
    }
    return loaded();
  }
  return nullptr;
}

std::vector<const NodeType*> PluginRegistry::types() const {
  for (auto& d : deferred_) load_deferred(d);
  std::vector<const NodeType*> out;
  for (const auto& t : types_) out.push_back(t.get());
  std::sort(out.begin(), out.end(), [](const NodeType* a, const NodeType* b) { return a->name < b->name; });
  return out;
}

std::vector<std::string> PluginRegistry::type_names() const {
  std::vector<std::string> out;
  for (const auto& [name, path] : owners_) out.push_back(name);
  std::sort(out.begin(), out.end());
  return out;
}

std::size_t PluginRegistry::deferred() const noexcept {
  return static_cast<std::size_t>(
      std::count_if(deferred_.begin(), deferred_.end(), [](const Deferred& d) { return !d.tried; }));
}

std::vector<std::string> default_plugin_folders() {
  std::vector<std::string> out;
  std::error_code ec;
  auto exe_dir = std::filesystem::path(boost::dll::program_location().string()).parent_path();
  for (const auto& candidate :
       {exe_dir / TRIBUTARY_PLUGIN_RELDIR, exe_dir / ".." / "lib" / "tributary" / "plugins", exe_dir / "plugins"}) {
    auto folder = candidate.lexically_normal().string();
    if (std::filesystem::is_directory(folder, ec) && std::find(out.begin(), out.end(), folder) == out.end()) {
      out.push_back(folder);
    }
  }
  if (out.empty()) out.push_back((exe_dir / TRIBUTARY_PLUGIN_RELDIR).lexically_normal().string());
  return out;
}

std::vector<std::string> split_path_list(std::string_view list) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start <= list.size()) {
    auto end = list.find(':', start);
    if (end == std::string_view::npos) end = list.size();
    if (end > start) out.emplace_back(list.substr(start, end - start));
    start = end + 1;
  }
  return out;
}

}  // namespace tributary::core

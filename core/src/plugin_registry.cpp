#include "plugin_registry.hpp"

#include <algorithm>
#include <boost/dll/runtime_symbol_info.hpp>
#include <boost/dll/shared_library.hpp>
#include <filesystem>
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

}  // namespace

PluginRegistry::PluginRegistry() = default;

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
  for (const auto& f : files) load_library(f);
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

bool PluginRegistry::load_library(const std::string& path) {
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
    if (const NodeType* existing = find(type.name)) {
      warnings_.push_back("node type '" + type.name + "' from " + path + " is ignored: " + existing->library +
                          " already provides it");
      continue;
    }
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
  if (find(type.name) != nullptr) {
    warnings_.push_back("node type '" + type.name + "' registered twice; the first one is kept");
    return;
  }
  type.library = std::move(library);
  type.family = std::move(family);
  types_.push_back(std::make_unique<NodeType>(std::move(type)));
}

const NodeType* PluginRegistry::find(std::string_view name) const noexcept {
  for (const auto& t : types_) {
    if (t->name == name) return t.get();
  }
  return nullptr;
}

std::vector<const NodeType*> PluginRegistry::types() const {
  std::vector<const NodeType*> out;
  for (const auto& t : types_) out.push_back(t.get());
  std::sort(out.begin(), out.end(), [](const NodeType* a, const NodeType* b) { return a->name < b->name; });
  return out;
}

std::vector<std::string> PluginRegistry::type_names() const {
  std::vector<std::string> out;
  for (const auto* t : types()) out.push_back(t->name);
  return out;
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

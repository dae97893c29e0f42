#pragma once
// Exporting a plugin library's node types.
//
//   TRIBUTARY_PLUGIN("features") {
//     registrar.add<Mfcc>();
//     registrar.add<MelSpectrogram>();
//   }
//
// A node type T provides:
//   static constexpr const char* kType = "mfcc";   // the name pipeline files use
//   static void declare(NodeSpec& spec);           // ports, parameters, concurrency
// and derives from tributary::Node with a default constructor.
//
// The macro defines one C symbol, `tributary_plugin_info`, which the runtime loads with
// Boost.DLL. Its fields are plain integers and C strings the runtime checks before it touches any
// C++ type, so a plugin built for another ABI, another standard library or another layout of the
// SDK's types is refused with a message instead of crashing.
//
// TRIBUTARY_PLUGIN_VERSIONED("features", "1.4.0") also gives the plugin a version of its own,
// shown by `tributary plugins` and recorded with every run; TRIBUTARY_PLUGIN uses the SDK's.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "tributary/abi.hpp"
#include "tributary/node.hpp"
#include "tributary/version.hpp"

namespace tributary {

struct NodeType {
  std::string name;
  NodeSpec spec;
  std::function<std::unique_ptr<Node>()> create;
  std::string library;  // filled in by the runtime: the file the type came from
  std::string family;   // filled in by the runtime: the plugin's family name
  std::string version;  // filled in by the runtime: the plugin's version
};

class PluginRegistrar {
 public:
  virtual ~PluginRegistrar();
  virtual void add(NodeType type) = 0;

  template <typename T>
  void add() {
    NodeType type;
    type.name = T::kType;
    T::declare(type.spec);
    type.create = [] { return std::unique_ptr<Node>(new T()); };
    add(std::move(type));
  }
};

}  // namespace tributary

extern "C" {
// Layout fixed for every ABI version: only append fields.
struct TributaryPluginInfo {
  std::uint32_t magic;        // TRIBUTARY_PLUGIN_MAGIC
  std::uint32_t abi_version;  // TRIBUTARY_ABI_VERSION the plugin was compiled against
  std::uint32_t std_library;  // tributary::abi::kStdLibrary of the plugin's build
  const char* sdk_version;    // TRIBUTARY_VERSION_STRING
  const char* family;         // the plugin family, e.g. "sinks"
  void (*register_types)(tributary::PluginRegistrar&);
  // ABI 2 and later.
  std::uint64_t layout;        // tributary::abi::kSdkLayout of the plugin's build
  const char* plugin_version;  // the plugin's own version
};
}

#define TRIBUTARY_PLUGIN_SYMBOL_NAME "tributary_plugin_info"

#define TRIBUTARY_PLUGIN_VERSIONED(family_name, version)                                                 \
  static void tributary_register_types_(::tributary::PluginRegistrar& registrar);                        \
  extern "C" __attribute__((visibility("default"))) const TributaryPluginInfo* tributary_plugin_info() { \
    static const TributaryPluginInfo info{TRIBUTARY_PLUGIN_MAGIC,                                        \
                                          TRIBUTARY_ABI_VERSION,                                         \
                                          ::tributary::abi::kStdLibrary,                                 \
                                          TRIBUTARY_VERSION_STRING,                                      \
                                          family_name,                                                   \
                                          &tributary_register_types_,                                    \
                                          ::tributary::abi::kSdkLayout,                                  \
                                          version};                                                      \
    return &info;                                                                                        \
  }                                                                                                      \
  static void tributary_register_types_(::tributary::PluginRegistrar& registrar)

#define TRIBUTARY_PLUGIN(family_name) TRIBUTARY_PLUGIN_VERSIONED(family_name, TRIBUTARY_VERSION_STRING)

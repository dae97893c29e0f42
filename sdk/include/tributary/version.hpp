#pragma once
// Version of the Tributary SDK and of the binary interface between the runtime and plugins.
// Bump TRIBUTARY_ABI_VERSION whenever a type that crosses the plugin boundary changes layout
// or a virtual function is added, removed or reordered.

#define TRIBUTARY_VERSION_MAJOR 0
#define TRIBUTARY_VERSION_MINOR 2
#define TRIBUTARY_VERSION_PATCH 0
#define TRIBUTARY_VERSION_STRING "0.2.0"

#define TRIBUTARY_ABI_VERSION 2u

// "TRBY": the first word of every plugin's info block.
#define TRIBUTARY_PLUGIN_MAGIC 0x54524259u

namespace tributary {
const char* sdk_version() noexcept;  // the version string of the SDK library linked at run time
unsigned sdk_abi_version() noexcept;
}  // namespace tributary

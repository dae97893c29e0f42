#pragma once
// Version of the Tributary SDK and of the binary interface between the runtime and plugins.
// Bump TRIBUTARY_ABI_VERSION whenever a type that crosses the plugin boundary changes layout
// or a virtual function is added, removed or reordered.

#define TRIBUTARY_VERSION_MAJOR 0
#define TRIBUTARY_VERSION_MINOR 1
#define TRIBUTARY_VERSION_PATCH 0
#define TRIBUTARY_VERSION_STRING "0.1.0"

#define TRIBUTARY_ABI_VERSION 1u

// "TRBY": the first word of every plugin's info block.
#define TRIBUTARY_PLUGIN_MAGIC 0x54524259u

// The C++ ABI the plugin was compiled with: standard library flavour and compiler ABI. A plugin
// and the runtime must agree on it because std::string, std::vector and vtables cross the line.
#if defined(_GLIBCXX_USE_CXX11_ABI)
#define TRIBUTARY_CXX11_STRING_ABI _GLIBCXX_USE_CXX11_ABI
#else
#define TRIBUTARY_CXX11_STRING_ABI 0
#endif
#if defined(__GXX_ABI_VERSION)
#define TRIBUTARY_CXX_ABI_TAG ((__GXX_ABI_VERSION)*10u + TRIBUTARY_CXX11_STRING_ABI)
#else
#define TRIBUTARY_CXX_ABI_TAG (TRIBUTARY_CXX11_STRING_ABI)
#endif

namespace tributary {
const char* sdk_version() noexcept;  // the version string of the SDK library linked at run time
unsigned sdk_abi_version() noexcept;
}  // namespace tributary

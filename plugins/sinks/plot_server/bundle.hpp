#pragma once
// The dashboard page, embedded at build time from the esbuild bundle (web/dist/) by
// embed_bundle.cmake, so a run serves it with no file system access and no network.
#include <cstddef>
#include <string_view>

namespace tributary::sinks {

struct BundleFile {
  const char* path;  // inside dist/, e.g. "index.html", "assets/app.js"
  const char* content_type;
  const unsigned char* data;
  std::size_t size;
};

// The bundled file at exactly `path`; nullptr when there is none.
const BundleFile* find_bundle_file(std::string_view path) noexcept;

}  // namespace tributary::sinks

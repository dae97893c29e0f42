#pragma once
// Helpers shared by the trainer's tests: packets, metric look-ups, errors, scratch folders.
#include <unistd.h>

#include <catch2/catch.hpp>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "tributary/testing.hpp"

namespace tributary::models::testing {

inline std::vector<MetricPoint> named(const NodeHarness& h, const std::string& name) {
  std::vector<MetricPoint> found;
  for (const auto& p : h.output("metrics")) {
    for (const auto& m : p->metrics) {
      if (m.name == name) found.push_back(m);
    }
  }
  return found;
}

inline double last(const NodeHarness& h, const std::string& name) {
  const auto points = named(h, name);
  REQUIRE_FALSE(points.empty());
  return points.back().value;
}

inline std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

inline void end(NodeHarness& h) {
  h.push("in", Marker{MarkerKind::end_of_stream, -1, Split::none, "data"});
  h.flush();
}

class ScratchDir {
 public:
  ScratchDir() {
    static int counter = 0;
    path_ = std::filesystem::temp_directory_path() /
            ("tributary-trainer-more-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  std::filesystem::path path() const { return path_; }

 private:
  std::filesystem::path path_;
};

// Writes a checkpoint packet's bytes as the checkpoint sink names them; returns the path.
inline std::string save_checkpoint(const PacketPtr& checkpoint, const std::filesystem::path& dir) {
  const Tensor& bytes = checkpoint->tensors.at(0);
  char name[64];
  std::snprintf(name, sizeof name, "step-%012lld.pt", static_cast<long long>(checkpoint->attribute("step")->as_int()));
  const std::filesystem::path path = dir / name;
  std::ofstream(path, std::ios::binary)
      .write(static_cast<const char*>(bytes.raw()), static_cast<std::streamsize>(bytes.nbytes()));
  return path.string();
}

}  // namespace tributary::models::testing

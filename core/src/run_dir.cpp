#include "run_dir.hpp"

#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <iterator>
#include <random>
#include <stdexcept>

namespace tributary::core {

std::string new_run_id() {
  std::time_t now = std::time(nullptr);
  std::tm utc{};
  gmtime_r(&now, &utc);
  char stamp[32];
  std::strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", &utc);
  std::random_device random;
  char suffix[8];
  std::snprintf(suffix, sizeof suffix, "%04x", static_cast<unsigned>(random() & 0xffffu));
  return std::string(stamp) + "-" + suffix;
}

RunInfo make_run_info(const std::string& pipeline_name, const std::string& chosen_dir) {
  RunInfo run;
  run.id = new_run_id();
  std::filesystem::path dir =
      chosen_dir.empty() ? std::filesystem::path("runs") / pipeline_name / run.id : std::filesystem::path(chosen_dir);
  run.dir = std::filesystem::absolute(dir).lexically_normal().string();
  if (!chosen_dir.empty()) run.id = std::filesystem::path(run.dir).filename().string();
  return run;
}

std::string run_dir_problem(const RunInfo& run, const std::string& own_file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path dir = run.dir;
  if (fs::exists(dir, ec)) {
    if (!fs::is_directory(dir, ec)) return "run directory " + run.dir + " is a file, not a folder";
    bool only_own = false;
    if (!own_file.empty()) {
      fs::directory_iterator it(dir, ec), end;
      only_own = !ec && it != end && it->path().filename() == own_file && std::next(it) == end;
    }
    if (!only_own && !fs::is_empty(dir, ec)) return "run directory " + run.dir + " is not empty: it holds an earlier run's files";
    if (access(run.dir.c_str(), W_OK | X_OK) != 0)
      return "cannot write in run directory " + run.dir + ": " + std::strerror(errno);
    return {};
  }
  fs::path existing = dir.parent_path();
  while (!existing.empty() && !fs::exists(existing, ec)) existing = existing.parent_path();
  if (existing.empty()) return {};
  if (!fs::is_directory(existing, ec)) {
    return "cannot create run directory " + run.dir + ": " + existing.string() + " is not a folder";
  }
  if (access(existing.c_str(), W_OK | X_OK) != 0) {
    return "cannot create run directory " + run.dir + " in " + existing.string() + ": " + std::strerror(errno);
  }
  return {};
}

void create_run_dir(const RunInfo& run, const std::string& expanded_toml) {
  std::error_code ec;
  std::filesystem::create_directories(run.dir, ec);
  if (ec) throw std::runtime_error("cannot create run directory " + run.dir + ": " + ec.message());
  std::string path = (std::filesystem::path(run.dir) / "pipeline.toml").string();
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr) throw std::runtime_error("cannot write " + path + ": " + std::strerror(errno));
  bool ok = std::fwrite(expanded_toml.data(), 1, expanded_toml.size(), f) == expanded_toml.size();
  ok = (std::fflush(f) == 0) && ok;
  int err = errno;
  ok = (std::fclose(f) == 0) && ok;
  if (!ok) throw std::runtime_error("cannot write " + path + ": " + std::strerror(err ? err : errno));
}

}  // namespace tributary::core

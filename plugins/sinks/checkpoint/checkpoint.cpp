#include "checkpoint/checkpoint.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <stdexcept>

namespace tributary::sinks {

namespace {

namespace fs = std::filesystem;
using Json = nlohmann::ordered_json;

constexpr const char* kManifest = "checkpoints.json";

std::string system_error(const std::string& what, const std::string& path, int error) {
  return what + " " + path + " failed: " + std::strerror(error);
}

void sync_directory(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) throw std::runtime_error(system_error("opening the folder", dir, errno));
  const int rc = ::fsync(fd);
  const int error = errno;
  ::close(fd);
  if (rc != 0) throw std::runtime_error(system_error("fsync of the folder", dir, error));
}

std::int64_t int_attribute(const Packet& p, const char* key, std::int64_t fallback) {
  const Value* v = p.attribute(key);
  return v != nullptr && v->type() == ValueType::integer ? v->as_int() : fallback;
}

}  // namespace

void write_atomically(const std::string& path, const void* bytes, std::size_t size) {
  const fs::path target(path);
  const std::string dir = target.has_parent_path() ? target.parent_path().string() : ".";
  const std::string temp = (fs::path(dir) / ("." + target.filename().string() + ".tmp")).string();
  int fd = -1;
  do {
    fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  } while (fd < 0 && errno == EINTR);
  if (fd < 0) throw std::runtime_error(system_error("creating", temp, errno));
  auto fail = [&](const std::string& what, int error) {
    ::close(fd);
    ::unlink(temp.c_str());
    throw std::runtime_error(system_error(what, temp, error));
  };
  const char* data = static_cast<const char*>(bytes);
  std::size_t written = 0;
  while (written < size) {
    const ssize_t n = ::write(fd, data + written, size - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("writing", errno);
    written += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail("fsync of", errno);
  if (::close(fd) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    throw std::runtime_error(system_error("closing", temp, error));
  }
  if (::rename(temp.c_str(), path.c_str()) != 0) {
    const int error = errno;
    ::unlink(temp.c_str());
    throw std::runtime_error(system_error("renaming " + temp + " to", path, error));
  }
  sync_directory(dir);
}

void CheckpointSink::declare(NodeSpec& spec) {
  spec.summary(
      "writes a trainer's checkpoints atomically, keeps the last `keep` and the best, with a "
      "checkpoints.json manifest");
  spec.input(kIn);
  spec.param<std::string>("dir", "", "the folder of the checkpoints; empty = <run directory>/checkpoints")
      .output_folder();
  spec.param<std::int64_t>("keep", 3, "how many of the latest checkpoints to keep, besides the best").min(1);
  spec.example(R"([nodes.ckpt]
plugin = "checkpoint"
keep   = 3)");
}

void CheckpointSink::configure(const Params& params) {
  dir_ = params.get<std::string>("dir");
  keep_ = params.get<std::int64_t>("keep");
}

void CheckpointSink::start() {
  if (dir_.empty()) dir_ = (fs::path(context().run_dir()) / "checkpoints").string();
  std::error_code error;
  fs::create_directories(dir_, error);
  if (error) throw std::runtime_error("creating the checkpoint folder " + dir_ + " failed: " + error.message());
  // A run that continues in the same folder keeps the manifest's entries whose files are there.
  const fs::path manifest = fs::path(dir_) / kManifest;
  if (!fs::exists(manifest, error)) return;
  try {
    std::ifstream in(manifest);
    const Json json = Json::parse(in);
    for (const Json& e : json.at("checkpoints")) {
      CheckpointEntry entry;
      entry.file = e.at("file").get<std::string>();
      entry.step = e.value("step", std::int64_t{-1});
      entry.epoch = e.value("epoch", std::int64_t{-1});
      entry.time = e.value("time", 0.0);
      entry.best = e.value("best", false);
      entry.reason = e.value("reason", std::string());
      if (e.contains("metrics")) {
        for (const auto& [name, value] : e.at("metrics").items()) entry.metrics.emplace_back(name, value.get<double>());
      }
      if (fs::exists(fs::path(dir_) / entry.file, error)) entries_.push_back(std::move(entry));
    }
  } catch (const std::exception& e) {
    log().warn(manifest.string(), " could not be read (", e.what(), "); starting a new manifest");
    entries_.clear();
  }
}

void CheckpointSink::process(const InputPort&, const PacketPtr& packet, Emitter&) {
  const Packet& p = *packet;
  if (p.tensors.empty() || p.tensors.front().dtype() != DType::u8) {
    throw std::runtime_error(
        "expected a checkpoint as a u8 tensor of bytes, found " +
        (p.tensors.empty() ? std::string("no tensor") : std::string(to_string(p.tensors.front().dtype())) + " tensor"));
  }
  CheckpointEntry entry;
  entry.step = int_attribute(p, "step", static_cast<std::int64_t>(p.sequence));
  entry.epoch = int_attribute(p, "epoch", -1);
  entry.time = wall_time_s();
  const Value* best = p.attribute("best");
  entry.best = best != nullptr && best->type() == ValueType::boolean && best->as_bool();
  if (const Value* reason = p.attribute("reason"); reason != nullptr && reason->type() == ValueType::string) {
    entry.reason = reason->as_string();
  }
  for (const Attribute& a : p.attributes) {
    if (a.key.rfind("metric/", 0) == 0 && a.value.is_number())
      entry.metrics.emplace_back(a.key.substr(7), a.value.as_number());
  }
  char name[64];
  std::snprintf(name, sizeof name, "step-%012lld.pt", static_cast<long long>(entry.step));
  entry.file = name;
  const std::string path = (fs::path(dir_) / entry.file).string();
  const Tensor& bytes = p.tensors.front();
  try {
    write_atomically(path, bytes.raw(), bytes.nbytes());
  } catch (const std::exception& e) {
    ++failures_;
    context().metric("checkpoint/failures", static_cast<double>(failures_), entry.step, entry.epoch);
    const std::string kept = entries_.empty() ? std::string("none yet") : entries_.back().file;
    log().error("checkpoint at step ", entry.step, " not written: ", e.what(), "; the last good checkpoint stays (",
                kept, ")");
    return;
  }
  // The same step written again (a best and a scheduled one at once) replaces its entry.
  auto same =
      std::find_if(entries_.begin(), entries_.end(), [&](const CheckpointEntry& e) { return e.file == entry.file; });
  if (same != entries_.end()) {
    entry.best = entry.best || same->best;
    entries_.erase(same);
  }
  if (entry.best) {
    for (auto& e : entries_) e.best = false;
  }
  entries_.push_back(std::move(entry));
  prune();
  try {
    write_manifest();
  } catch (const std::exception& e) {
    ++failures_;
    log().error("the manifest was not updated: ", e.what());
  }
  const CheckpointEntry& written = entries_.back();
  ++written_;
  written_bytes_ += bytes.nbytes();
  // One line a checkpoint would bury the log of a run that makes one an epoch: the summary at the
  // end says what is kept.
  log().debug("wrote ", path, " (", bytes.nbytes(), " bytes", written.best ? ", best" : "", ")");
  ArtifactNote note;
  note.kind = "checkpoint";
  note.path = fs::absolute(path).lexically_normal().string();
  note.step = written.step;
  note.epoch = written.epoch;
  note.best = written.best;
  note.metrics = written.metrics;
  note.time = written.time;
  announce_artifact(context(), std::move(note));
}

void CheckpointSink::flush(Emitter&) {
  if (written_ == 0 && failures_ == 0) return;
  std::string best;
  for (const CheckpointEntry& e : entries_) {
    if (e.best) best = e.file;
  }
  log().info("wrote ", written_, written_ == 1 ? " checkpoint" : " checkpoints", " (", written_bytes_, " bytes) to ",
             dir_, failures_ > 0 ? "; " + std::to_string(failures_) + " failed" : std::string(), "; kept ",
             entries_.size(), entries_.empty() ? std::string() : ": newest " + entries_.back().file,
             best.empty() ? std::string() : ", best " + best);
}

void CheckpointSink::prune() {
  // Keep the latest `keep` and the best; remove the rest.
  const std::size_t keep = static_cast<std::size_t>(keep_);
  std::vector<CheckpointEntry> kept;
  for (std::size_t i = 0; i < entries_.size(); ++i) {
    const bool recent = i + keep >= entries_.size();
    if (recent || entries_[i].best) {
      kept.push_back(entries_[i]);
      continue;
    }
    std::error_code ignored;
    fs::remove(fs::path(dir_) / entries_[i].file, ignored);
  }
  entries_ = std::move(kept);
}

void CheckpointSink::write_manifest() {
  Json list = Json::array();
  std::string best;
  for (const CheckpointEntry& e : entries_) {
    Json metrics = Json::object();
    for (const auto& [name, value] : e.metrics) metrics[name] = value;
    list.push_back(Json{{"path", (fs::path(dir_) / e.file).string()},
                        {"file", e.file},
                        {"step", e.step},
                        {"epoch", e.epoch},
                        {"time", e.time},
                        {"best", e.best},
                        {"reason", e.reason},
                        {"metrics", metrics}});
    if (e.best) best = e.file;
  }
  Json manifest{
      {"latest", entries_.empty() ? std::string() : entries_.back().file}, {"best", best}, {"checkpoints", list}};
  const std::string text = manifest.dump(2) + "\n";
  write_atomically((fs::path(dir_) / kManifest).string(), text.data(), text.size());
}

}  // namespace tributary::sinks

#pragma once
// For the sinks' tests: a directory of its own per test, file contents, and packets of each kind.
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

#include "tributary/packet.hpp"

namespace tributary::sinks::testing {

class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("tributary-sinks-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

inline std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline void write_text(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

inline PacketPtr metric_packet(std::vector<MetricPoint> points, PayloadKind kind = PayloadKind::metrics) {
  auto packet = make_packet(kind);
  packet->stream = "train";
  packet->metrics = std::move(points);
  return packet;
}

inline PacketPtr log_packet(std::vector<LogRecord> records) {
  auto packet = make_packet(PayloadKind::log);
  packet->stream = "logs";
  packet->logs = std::move(records);
  return packet;
}

inline PacketPtr tensor_packet(PayloadKind kind, Tensor tensor, std::uint64_t sequence = 0) {
  auto packet = make_packet(kind);
  packet->stream = "mic";
  packet->sequence = sequence;
  packet->timestamp_ns = static_cast<std::int64_t>(sequence) * 1000;
  packet->tensors.push_back(std::move(tensor));
  return packet;
}

}  // namespace tributary::sinks::testing

#pragma once
// Metric points, log lines and tensor packets as JSON Lines: one object per line, kinds mixed freely.
//
//   [nodes.export]
//   plugin = "jsonl"
//   path = "${RUN_DIR}/metrics.jsonl"
//   telemetry = true
#include "export/file_sink.hpp"

namespace tributary::sinks {

class JsonLinesSink final : public FileSink {
 public:
  static constexpr const char* kType = "jsonl";
  static void declare(NodeSpec& spec);

 private:
  void write(const Packet& packet) override;
};

}  // namespace tributary::sinks

#pragma once
// Metric points, log lines or tensor rows as a CSV file, one kind of row per file.
//
//   [nodes.log]
//   plugin = "csv"
//   path = "${RUN_DIR}/metrics.csv"
#include <optional>
#include <string>

#include "export/file_sink.hpp"

namespace tributary::sinks {

class CsvSink final : public FileSink {
 public:
  static constexpr const char* kType = "csv";
  static void declare(NodeSpec& spec);

  void configure(const Params& params) override;
  void start() override;

 private:
  void write(const Packet& packet) override;

  // The header of the rows in the file, once known: from the file appended to, or the first rows written.
  std::optional<std::string> header_;
  bool header_from_file_ = false;
};

}  // namespace tributary::sinks

#pragma once
// What the export sinks share: their ports, the parameters path, append, telemetry and logs, and a
// file that is written after every packet and closed on flush and stop.
#include <string>

#include "export/export_file.hpp"
#include "tributary/node.hpp"

namespace tributary::sinks {

class FileSink : public Node {
 public:
  static constexpr InputPort kIn{"in",
                                 PayloadKind::metrics | PayloadKind::example | PayloadKind::features |
                                     PayloadKind::audio | PayloadKind::telemetry | PayloadKind::log,
                                 "packets to export: metric points, log records, or tensors (tensor 0, flattened)",
                                 Feed::links, true};
  static constexpr InputPort kTelemetry{"telemetry", PayloadKind::telemetry,
                                        "the runtime's telemetry for every node, written when telemetry = true",
                                        Feed::telemetry};
  static constexpr InputPort kLogs{"logs", PayloadKind::log, "every node's log lines, written when logs = true",
                                   Feed::logs};

  void configure(const Params& params) override;
  void start() override;
  void process(const InputPort& port, const PacketPtr& packet, Emitter& out) override;
  void flush(Emitter& out) override;
  void stop() override;
  bool wants(const InputPort& port) const override;

 protected:
  // Declares the ports and the parameters every file sink takes.
  static void declare_file_sink(NodeSpec& spec);
  // Writes one packet to file(), which is open.
  virtual void write(const Packet& packet) = 0;

  ExportFile& file() { return file_; }
  bool telemetry_enabled() const noexcept { return telemetry_; }
  bool logs_enabled() const noexcept { return logs_; }

 private:
  ExportFile file_;
  std::string path_;
  bool append_ = true;
  bool telemetry_ = false;
  bool logs_ = false;
  bool opened_before_ = false;
};

// "a features packet from mic" - how error messages name a packet.
std::string describe(const Packet& packet);
// Tensor 0 of a tensor packet; throws naming the file and the packet when there is none.
const Tensor& first_tensor(const Packet& packet, const std::string& path);

}  // namespace tributary::sinks

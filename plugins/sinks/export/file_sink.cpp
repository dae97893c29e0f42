#include "export/file_sink.hpp"

#include <stdexcept>

namespace tributary::sinks {

void FileSink::declare_file_sink(NodeSpec& spec) {
  spec.input(kIn);
  spec.input(kTelemetry);
  spec.input(kLogs);
  spec.required<std::string>("path", "the file to write; missing parent directories are created").output_path();
  spec.param<bool>("append", true,
                   "append to an existing file without writing its header again; false truncates the file");
  spec.param<bool>("telemetry", false, "also write the runtime's telemetry for every node (metric points)");
  spec.param<bool>("logs", false, "also write every node's log lines");
}

void FileSink::configure(const Params& params) {
  path_ = params.get<std::string>("path");
  if (path_.empty()) throw ParamError("path", "'path' is empty: name the file to write");
  append_ = params.get<bool>("append");
  telemetry_ = params.get<bool>("telemetry");
  logs_ = params.get<bool>("logs");
}

void FileSink::start() {
  log().debug(append_ ? "appending to " : "writing ", path_, telemetry_ ? ", with telemetry" : "",
              logs_ ? ", with logs" : "");
  file_.open(path_, append_);
  opened_before_ = true;
}

void FileSink::process(const InputPort& port, const PacketPtr& packet, Emitter& out) {
  (void)out;
  if (!wants(port)) return;
  // Packets may still come from the buses after flush(): the file reopens where it left off.
  if (!file_.is_open()) {
    file_.open(path_, opened_before_ || append_);
    opened_before_ = true;
  }
  write(*packet);
}

void FileSink::flush(Emitter& out) {
  (void)out;
  log().debug("end of stream: closing ", path_);
  file_.close();
}

void FileSink::stop() { file_.close(); }

bool FileSink::wants(const InputPort& port) const {
  if (port.feed == Feed::telemetry) return telemetry_;
  if (port.feed == Feed::logs) return logs_;
  return true;
}

std::string describe(const Packet& packet) {
  const std::string kind = to_string(packet.kind);
  const bool vowel = std::string("aeiou").find(kind.front()) != std::string::npos;
  return concat(vowel ? "an " : "a ", kind, " packet", packet.stream.empty() ? "" : " from ", packet.stream);
}

const Tensor& first_tensor(const Packet& packet, const std::string& path) {
  if (packet.tensors.empty()) {
    throw std::runtime_error("writing " + path + ": " + describe(packet) + " holds no tensor to write");
  }
  return packet.tensors.front();
}

}  // namespace tributary::sinks

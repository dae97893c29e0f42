#include "csv/csv.hpp"

#include <stdexcept>

#include "export/number_text.hpp"

namespace tributary::sinks {

namespace {

constexpr const char* kMetricHeader = "time,node,name,step,epoch,value";
constexpr const char* kLogHeader = "time,node,level,message";

// RFC 4180: a field holding a comma, a quote or a line break is quoted, its quotes doubled.
void append_field(std::string& out, std::string_view text) {
  if (text.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += text;
    return;
  }
  out += '"';
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

std::string tensor_header(std::int64_t columns) {
  std::string header = "stream,sequence,timestamp_ns,label,split";
  for (std::int64_t i = 0; i < columns; ++i) header += ",x" + std::to_string(i);
  return header;
}

// Long tensor headers shortened for messages: "stream,...,split,x0,x1,...,x1599".
std::string shown(const std::string& header) {
  constexpr std::size_t kKeep = 7;
  std::size_t commas = 0;
  std::size_t cut = std::string::npos;
  for (std::size_t i = 0; i < header.size(); ++i) {
    if (header[i] != ',') continue;
    if (++commas == kKeep) cut = i;
  }
  if (commas <= kKeep + 1) return "\"" + header + "\"";
  return "\"" + header.substr(0, cut) + ",...," + header.substr(header.rfind(',') + 1) + "\"";
}

}  // namespace

void CsvSink::declare(NodeSpec& spec) {
  spec.summary(
      "writes metric points (time,node,name,step,epoch,value), log lines (time,node,level,message) or tensor "
      "rows (stream,sequence,timestamp_ns,label,split,x0,...) to a CSV file; the first rows fix the kind");
  declare_file_sink(spec);
  spec.example(R"([nodes.log]
plugin = "csv"
path = "${RUN_DIR}/metrics.csv")");
}

void CsvSink::configure(const Params& params) {
  FileSink::configure(params);
  if (telemetry_enabled() && logs_enabled()) {
    throw ParamError("logs",
                     "a csv file holds one kind of row, and telemetry (metric rows) and logs (log rows) differ: "
                     "write the logs with a second csv sink, or use a jsonl sink for both");
  }
}

void CsvSink::start() {
  header_.reset();
  header_from_file_ = false;
  FileSink::start();
}

void CsvSink::write(const Packet& packet) {
  std::string header;
  std::string rows;
  switch (packet.kind) {
    case PayloadKind::metrics:
    case PayloadKind::telemetry:
      if (packet.metrics.empty()) return;
      header = kMetricHeader;
      for (const auto& point : packet.metrics) {
        append_number(rows, point.time);
        rows += ',';
        append_field(rows, point.node);
        rows += ',';
        append_field(rows, point.name);
        rows += ',';
        append_integer(rows, point.step);
        rows += ',';
        append_integer(rows, point.epoch);
        rows += ',';
        append_number(rows, point.value);
        rows += '\n';
      }
      break;
    case PayloadKind::log:
      if (packet.logs.empty()) return;
      header = kLogHeader;
      for (const auto& record : packet.logs) {
        append_number(rows, record.time);
        rows += ',';
        append_field(rows, record.node);
        rows += ',';
        rows += to_string(record.level);
        rows += ',';
        append_field(rows, record.message);
        rows += '\n';
      }
      break;
    case PayloadKind::audio:
    case PayloadKind::features:
    case PayloadKind::example: {
      const Tensor& tensor = first_tensor(packet, file().path());
      header = tensor_header(tensor.numel());
      append_field(rows, packet.stream);
      rows += ',';
      append_integer(rows, packet.sequence);
      rows += ',';
      append_integer(rows, packet.timestamp_ns);
      rows += ',';
      if (packet.label) append_integer(rows, *packet.label);
      rows += ',';
      rows += to_string(packet.split);
      for (std::int64_t i = 0; i < tensor.numel(); ++i) {
        rows += ',';
        append_element(rows, tensor, i);
      }
      rows += '\n';
      break;
    }
    default:
      throw std::runtime_error("writing " + file().path() + ": the csv sink cannot write " + describe(packet));
  }

  if (!header_ && !file().first_line().empty()) {
    header_ = file().first_line();
    header_from_file_ = true;
  }
  if (header_ && *header_ != header) {
    if (header_from_file_) {
      throw std::runtime_error("appending to " + file().path() + ": its header is " + shown(*header_) + " but " +
                               describe(packet) + " needs " + shown(header) +
                               "; write to another file, or set append = false to replace this one");
    }
    throw std::runtime_error("writing " + file().path() + ": its rows have the header " + shown(*header_) + " but " +
                             describe(packet) + " needs " + shown(header) +
                             "; a csv file holds one kind of row, so send these packets to a separate csv sink");
  }
  file().write(header_ ? rows : header + "\n" + rows);
  header_ = std::move(header);
}

}  // namespace tributary::sinks

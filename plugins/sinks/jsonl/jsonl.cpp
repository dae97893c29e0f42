#include "jsonl/jsonl.hpp"

#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "export/number_text.hpp"
#include "export/value_json.hpp"

namespace tributary::sinks {

namespace {

using Json = nlohmann::ordered_json;

Json number(double value) { return json_number<Json>(value); }
Json to_json(const Value& value) { return value_json<Json>(value); }

Json element(const Tensor& tensor, std::int64_t index) {
  switch (tensor.dtype()) {
    case DType::f32: {
      const float value = tensor.data<float>()[index];
      return std::isfinite(value) ? Json(decimal_value(value)) : number(value);
    }
    case DType::f64:
      return number(tensor.data<double>()[index]);
    case DType::i64:
      return tensor.data<std::int64_t>()[index];
    case DType::u8:
    case DType::i16:
    case DType::i32:
      return static_cast<std::int64_t>(tensor.at(index));
  }
  return nullptr;
}

void append_line(std::string& out, const Json& object) {
  // Invalid UTF-8 in a log message must not stop an export: it is replaced, not thrown on.
  out += object.dump(-1, ' ', false, Json::error_handler_t::replace);
  out += '\n';
}

}  // namespace

void JsonLinesSink::declare(NodeSpec& spec) {
  spec.summary(
      "writes metric points {time,node,name,step,epoch,value}, log lines {time,node,level,message} and tensor "
      "packets {stream,sequence,timestamp_ns,label,split,shape,values,attributes} as JSON Lines");
  declare_file_sink(spec);
  spec.example(R"([nodes.export]
plugin = "jsonl"
path = "${RUN_DIR}/metrics.jsonl"
telemetry = true)");
}

void JsonLinesSink::write(const Packet& packet) {
  std::string lines;
  switch (packet.kind) {
    case PayloadKind::metrics:
    case PayloadKind::telemetry:
      for (const auto& point : packet.metrics) {
        append_line(lines, Json{{"time", point.time},
                                {"node", point.node},
                                {"name", point.name},
                                {"step", point.step},
                                {"epoch", point.epoch},
                                {"value", number(point.value)}});
      }
      break;
    case PayloadKind::log:
      for (const auto& record : packet.logs) {
        append_line(lines, Json{{"time", record.time},
                                {"node", record.node},
                                {"level", to_string(record.level)},
                                {"message", record.message}});
      }
      break;
    case PayloadKind::audio:
    case PayloadKind::features:
    case PayloadKind::example: {
      const Tensor& tensor = first_tensor(packet, file().path());
      Json values = Json::array();
      for (std::int64_t i = 0; i < tensor.numel(); ++i) values.push_back(element(tensor, i));
      Json attributes = Json::object();
      for (const auto& attribute : packet.attributes) attributes[attribute.key] = to_json(attribute.value);
      append_line(lines, Json{{"stream", packet.stream},
                              {"sequence", packet.sequence},
                              {"timestamp_ns", packet.timestamp_ns},
                              {"label", packet.label ? Json(*packet.label) : Json(nullptr)},
                              {"split", packet.split == Split::none ? Json(nullptr) : Json(to_string(packet.split))},
                              {"shape", tensor.shape()},
                              {"values", std::move(values)},
                              {"attributes", std::move(attributes)}});
      break;
    }
    default:
      throw std::runtime_error("writing " + file().path() + ": the jsonl sink cannot write " + describe(packet));
  }
  if (!lines.empty()) file().write(lines);
}

}  // namespace tributary::sinks

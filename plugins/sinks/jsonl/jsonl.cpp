#include "jsonl/jsonl.hpp"

#include <cmath>
#include <nlohmann/json.hpp>
#include <stdexcept>

#include "export/number_text.hpp"

namespace tributary::sinks {

namespace {

using Json = nlohmann::ordered_json;

// JSON has no NaN or infinity (nlohmann writes null for both): they are written as the strings
// Python's json module writes and reads back, so a NaN loss is not mistaken for a missing value.
Json number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return value;
}

Json to_json(const Value& value) {
  switch (value.type()) {
    case ValueType::none:
      return nullptr;
    case ValueType::boolean:
      return value.as_bool();
    case ValueType::integer:
      return value.as_int();
    case ValueType::number:
      return number(value.as_number());
    case ValueType::string:
      return value.as_string();
    case ValueType::list: {
      Json list = Json::array();
      for (const auto& item : value.as_list()) list.push_back(to_json(item));
      return list;
    }
    case ValueType::table: {
      Json table = Json::object();
      for (const auto& entry : value.as_table()) table[entry.key] = to_json(entry.value);
      return table;
    }
  }
  return nullptr;
}

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

#pragma once
// Parameter and attribute values as JSON, for the sinks that write or serve JSON (jsonl,
// plot_server). Include it from .cpp files only: it brings nlohmann/json.
#include <cmath>
#include <nlohmann/json.hpp>

#include "tributary/value.hpp"

namespace tributary::sinks {

// JSON has no NaN or infinity (nlohmann writes null for both): they are written as the strings
// Python's json module writes and reads back, so a NaN loss is not mistaken for a missing value.
template <typename Json>
Json json_number(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "Infinity" : "-Infinity";
  return value;
}

// 40, 0.5, "sine", [0.8, 0.1, 0.1], {"kind": "cnn"}; Json is nlohmann::json or ordered_json.
template <typename Json>
Json value_json(const Value& value) {
  switch (value.type()) {
    case ValueType::none:
      return nullptr;
    case ValueType::boolean:
      return value.as_bool();
    case ValueType::integer:
      return value.as_int();
    case ValueType::number:
      return json_number<Json>(value.as_number());
    case ValueType::string:
      return value.as_string();
    case ValueType::list: {
      Json list = Json::array();
      for (const auto& item : value.as_list()) list.push_back(value_json<Json>(item));
      return list;
    }
    case ValueType::table: {
      Json table = Json::object();
      for (const auto& entry : value.as_table()) table[entry.key] = value_json<Json>(entry.value);
      return table;
    }
  }
  return nullptr;
}

}  // namespace tributary::sinks

#pragma once
// A parameter or attribute value: what a TOML value can hold, without TOML.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tributary {

enum class ValueType : std::uint8_t { none, boolean, integer, number, string, list, table };

const char* to_string(ValueType type) noexcept;

struct TableEntry;

class Value {
 public:
  Value() = default;
  Value(bool v);                // NOLINT(google-explicit-constructor): values read like literals
  Value(int v);                 // NOLINT(google-explicit-constructor)
  Value(std::int64_t v);        // NOLINT(google-explicit-constructor)
  Value(double v);              // NOLINT(google-explicit-constructor)
  Value(std::string v);         // NOLINT(google-explicit-constructor)
  Value(const char* v);         // NOLINT(google-explicit-constructor)
  Value(std::vector<Value> v);  // NOLINT(google-explicit-constructor)
  static Value table(std::vector<TableEntry> entries);

  ValueType type() const noexcept { return type_; }
  bool is_none() const noexcept { return type_ == ValueType::none; }
  bool is_number() const noexcept { return type_ == ValueType::integer || type_ == ValueType::number; }

  // Typed access; each throws std::invalid_argument naming both types on a mismatch.
  bool as_bool() const;
  std::int64_t as_int() const;
  double as_number() const;  // integers widen to double
  const std::string& as_string() const;
  const std::vector<Value>& as_list() const;
  const std::vector<TableEntry>& as_table() const;

  // Table lookup; nullptr when absent or when this is not a table.
  const Value* find(std::string_view key) const noexcept;

  // TOML-like text: 3, 0.5, "text", [1, 2], { a = 1 }.
  std::string to_string() const;

  friend bool operator==(const Value& a, const Value& b);
  friend bool operator!=(const Value& a, const Value& b) { return !(a == b); }

 private:
  ValueType type_ = ValueType::none;
  bool bool_ = false;
  std::int64_t int_ = 0;
  double number_ = 0.0;
  std::string string_;
  std::vector<Value> list_;
  std::vector<TableEntry> table_;
};

struct TableEntry {
  std::string key;
  Value value;
};

}  // namespace tributary

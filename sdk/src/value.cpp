#include "tributary/value.hpp"

#include <cmath>
#include <iomanip>
#include <sstream>
#include <stdexcept>

namespace tributary {

const char* to_string(ValueType type) noexcept {
  switch (type) {
    case ValueType::none:
      return "nothing";
    case ValueType::boolean:
      return "boolean";
    case ValueType::integer:
      return "integer";
    case ValueType::number:
      return "number";
    case ValueType::string:
      return "string";
    case ValueType::list:
      return "list";
    case ValueType::table:
      return "table";
  }
  return "unknown";
}

Value::Value(bool v) : type_(ValueType::boolean), bool_(v) {}
Value::Value(int v) : type_(ValueType::integer), int_(v) {}
Value::Value(std::int64_t v) : type_(ValueType::integer), int_(v) {}
Value::Value(double v) : type_(ValueType::number), number_(v) {}
Value::Value(std::string v) : type_(ValueType::string), string_(std::move(v)) {}
Value::Value(const char* v) : type_(ValueType::string), string_(v) {}
Value::Value(std::vector<Value> v) : type_(ValueType::list), list_(std::move(v)) {}

Value Value::table(std::vector<TableEntry> entries) {
  Value v;
  v.type_ = ValueType::table;
  v.table_ = std::move(entries);
  return v;
}

namespace {
[[noreturn]] void mismatch(ValueType want, ValueType have) {
  throw std::invalid_argument(std::string("expected a ") + to_string(want) + ", got a " + to_string(have));
}
}  // namespace

bool Value::as_bool() const {
  if (type_ != ValueType::boolean) mismatch(ValueType::boolean, type_);
  return bool_;
}
std::int64_t Value::as_int() const {
  if (type_ != ValueType::integer) mismatch(ValueType::integer, type_);
  return int_;
}
double Value::as_number() const {
  if (type_ == ValueType::integer) return static_cast<double>(int_);
  if (type_ != ValueType::number) mismatch(ValueType::number, type_);
  return number_;
}
const std::string& Value::as_string() const {
  if (type_ != ValueType::string) mismatch(ValueType::string, type_);
  return string_;
}
const std::vector<Value>& Value::as_list() const {
  if (type_ != ValueType::list) mismatch(ValueType::list, type_);
  return list_;
}
const std::vector<TableEntry>& Value::as_table() const {
  if (type_ != ValueType::table) mismatch(ValueType::table, type_);
  return table_;
}

const Value* Value::find(std::string_view key) const noexcept {
  if (type_ != ValueType::table) return nullptr;
  for (const auto& entry : table_) {
    if (entry.key == key) return &entry.value;
  }
  return nullptr;
}

namespace {
void quote(std::ostream& out, const std::string& s) {
  out << '"';
  for (char c : s) {
    switch (c) {
      case '"':
        out << "\\\"";
        break;
      case '\\':
        out << "\\\\";
        break;
      case '\n':
        out << "\\n";
        break;
      case '\t':
        out << "\\t";
        break;
      default:
        out << c;
    }
  }
  out << '"';
}

void write(std::ostream& out, const Value& v) {
  switch (v.type()) {
    case ValueType::none:
      out << "(none)";
      break;
    case ValueType::boolean:
      out << (v.as_bool() ? "true" : "false");
      break;
    case ValueType::integer:
      out << v.as_int();
      break;
    case ValueType::number: {
      double d = v.as_number();
      std::ostringstream tmp;
      tmp << std::setprecision(15) << d;
      std::string s = tmp.str();
      if (std::isfinite(d) && s.find_first_of(".eE") == std::string::npos) s += ".0";
      out << s;
      break;
    }
    case ValueType::string:
      quote(out, v.as_string());
      break;
    case ValueType::list: {
      out << '[';
      const auto& items = v.as_list();
      for (std::size_t i = 0; i < items.size(); ++i) {
        if (i) out << ", ";
        write(out, items[i]);
      }
      out << ']';
      break;
    }
    case ValueType::table: {
      out << "{ ";
      const auto& entries = v.as_table();
      for (std::size_t i = 0; i < entries.size(); ++i) {
        if (i) out << ", ";
        out << entries[i].key << " = ";
        write(out, entries[i].value);
      }
      out << (entries.empty() ? "}" : " }");
      break;
    }
  }
}
}  // namespace

std::string Value::to_string() const {
  std::ostringstream out;
  write(out, *this);
  return out.str();
}

bool operator==(const Value& a, const Value& b) {
  if (a.type_ != b.type_) return false;
  switch (a.type_) {
    case ValueType::none:
      return true;
    case ValueType::boolean:
      return a.bool_ == b.bool_;
    case ValueType::integer:
      return a.int_ == b.int_;
    case ValueType::number:
      return a.number_ == b.number_;
    case ValueType::string:
      return a.string_ == b.string_;
    case ValueType::list:
      return a.list_ == b.list_;
    case ValueType::table:
      if (a.table_.size() != b.table_.size()) return false;
      for (std::size_t i = 0; i < a.table_.size(); ++i) {
        if (a.table_[i].key != b.table_[i].key || a.table_[i].value != b.table_[i].value) return false;
      }
      return true;
  }
  return false;
}

}  // namespace tributary

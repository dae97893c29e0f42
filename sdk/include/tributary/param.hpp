#pragma once
// Typed parameter declarations and the configured values a node reads.
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tributary/value.hpp"

namespace tributary {

enum class ParamType : std::uint8_t {
  boolean,
  integer,
  number,
  string,
  int_list,
  number_list,
  string_list,
  table,
};
const char* to_string(ParamType type) noexcept;

// A string parameter that names a file or folder the node reads or writes. The loader resolves
// such a path when it is relative (to the pipeline file's folder; to the current directory when it
// was given with --set or starts with an environment variable's value), checks that an input
// exists (and is a file, or a folder) and that an output can be created, and refuses two nodes
// writing the same file.
enum class PathRole : std::uint8_t {
  none,
  input,          // a file the node reads
  output,         // a file the node writes
  input_folder,   // a folder the node reads
  output_folder,  // a folder the node writes into (made when missing)
  input_any,      // a file or a folder the node reads
};
const char* to_string(PathRole role) noexcept;  // "input file", "output folder", ...

struct ParamSpec {
  std::string name;
  ParamType type = ParamType::string;
  Value default_value;  // none when required
  bool required = false;
  std::optional<double> min;  // inclusive bounds for numbers, lengths for lists of numbers
  std::optional<double> max;
  std::vector<std::string> choices;  // for strings and string lists
  std::string doc;
  bool settable = false;  // may change while running, through the control bus
  PathRole path = PathRole::none;
  // Keys inside a table parameter that name paths (model = { path = "model.pt" }): each is
  // resolved and checked as a path parameter of its role would be, and errors name "model.path".
  std::vector<std::pair<std::string, PathRole>> path_keys;
};

// Thrown by a node's configure() (and by validation) when a value is wrong. `param` names the
// parameter, dotted for a key inside a table ("model.kind"), so the loader can point at the line.
class ParamError : public std::runtime_error {
 public:
  ParamError(std::string param, const std::string& message);
  ~ParamError() override;
  const std::string& param() const noexcept { return param_; }

 private:
  std::string param_;
};

template <typename T>
struct ParamTypeOf;
template <>
struct ParamTypeOf<bool> {
  static constexpr ParamType value = ParamType::boolean;
};
template <>
struct ParamTypeOf<std::int64_t> {
  static constexpr ParamType value = ParamType::integer;
};
template <>
struct ParamTypeOf<int> {
  static constexpr ParamType value = ParamType::integer;
};
template <>
struct ParamTypeOf<double> {
  static constexpr ParamType value = ParamType::number;
};
template <>
struct ParamTypeOf<std::string> {
  static constexpr ParamType value = ParamType::string;
};
template <>
struct ParamTypeOf<const char*> {
  static constexpr ParamType value = ParamType::string;
};
template <>
struct ParamTypeOf<std::vector<std::int64_t>> {
  static constexpr ParamType value = ParamType::int_list;
};
template <>
struct ParamTypeOf<std::vector<double>> {
  static constexpr ParamType value = ParamType::number_list;
};
template <>
struct ParamTypeOf<std::vector<std::string>> {
  static constexpr ParamType value = ParamType::string_list;
};

// Converts a typed C++ default to a Value of the declared type.
Value to_value(const std::vector<std::int64_t>& v);
Value to_value(const std::vector<double>& v);
Value to_value(const std::vector<std::string>& v);
inline Value to_value(bool v) { return Value(v); }
inline Value to_value(int v) { return Value(v); }
inline Value to_value(std::int64_t v) { return Value(v); }
inline Value to_value(double v) { return Value(v); }
inline Value to_value(const std::string& v) { return Value(v); }
inline Value to_value(const char* v) { return Value(v); }

// One problem found while checking values against declarations.
struct ParamIssue {
  std::string param;    // dotted name; empty for the node as a whole
  std::string message;  // what is wrong
  std::string hint;     // what to do, e.g. "did you mean 'n_mfcc'?"; may be empty
};

// The values a node was configured with: every declared parameter, defaults filled in.
class Params {
 public:
  Params() = default;

  // Checks `given` against `specs`: unknown names (with the nearest declared one), types
  // (integers widen to numbers), ranges, choices, missing required values. On success fills
  // defaults; the issues are returned either way and the Params are usable only when none.
  static Params build(const std::vector<ParamSpec>& specs, const std::vector<TableEntry>& given,
                      std::vector<ParamIssue>& issues);
  // Checks one value against its declaration; returns the value converted to the declared type.
  static Value check(const ParamSpec& spec, const Value& value, std::vector<ParamIssue>& issues);

  bool has(std::string_view name) const noexcept;        // declared (always true once built)
  bool was_given(std::string_view name) const noexcept;  // set in the pipeline file
  const Value& value(std::string_view name) const;       // throws std::out_of_range

  template <typename T>
  T get(std::string_view name) const;

  const std::vector<TableEntry>& values() const noexcept { return values_; }

 private:
  std::vector<TableEntry> values_;
  std::vector<std::string> given_;
};

template <>
bool Params::get<bool>(std::string_view name) const;
template <>
std::int64_t Params::get<std::int64_t>(std::string_view name) const;
template <>
int Params::get<int>(std::string_view name) const;
template <>
double Params::get<double>(std::string_view name) const;
template <>
std::string Params::get<std::string>(std::string_view name) const;
template <>
std::vector<std::int64_t> Params::get<std::vector<std::int64_t>>(std::string_view name) const;
template <>
std::vector<double> Params::get<std::vector<double>>(std::string_view name) const;
template <>
std::vector<std::string> Params::get<std::vector<std::string>>(std::string_view name) const;
template <>
Value Params::get<Value>(std::string_view name) const;

// A number as a person writes it, for messages: 1048576 (not 1.04858e+06), 0.5, 1e-11.
std::string format_number(double value);

// The candidate nearest to `name` by edit distance, or empty when none is close enough.
std::string closest_match(std::string_view name, const std::vector<std::string>& candidates);

}  // namespace tributary

#include "tributary/param.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>

namespace tributary {

const char* to_string(ParamType type) noexcept {
  switch (type) {
    case ParamType::boolean:
      return "boolean";
    case ParamType::integer:
      return "integer";
    case ParamType::number:
      return "number";
    case ParamType::string:
      return "string";
    case ParamType::int_list:
      return "list of integers";
    case ParamType::number_list:
      return "list of numbers";
    case ParamType::string_list:
      return "list of strings";
    case ParamType::table:
      return "table";
  }
  return "unknown";
}

const char* to_string(PathRole role) noexcept {
  switch (role) {
    case PathRole::none:
      return "";
    case PathRole::input:
      return "input file";
    case PathRole::output:
      return "output file";
    case PathRole::input_folder:
      return "input folder";
    case PathRole::output_folder:
      return "output folder";
    case PathRole::input_any:
      return "input file or folder";
  }
  return "";
}

ParamError::ParamError(std::string param, const std::string& message)
    : std::runtime_error(message), param_(std::move(param)) {}
ParamError::~ParamError() = default;

Value to_value(const std::vector<std::int64_t>& v) { return Value(std::vector<Value>(v.begin(), v.end())); }
Value to_value(const std::vector<double>& v) { return Value(std::vector<Value>(v.begin(), v.end())); }
Value to_value(const std::vector<std::string>& v) { return Value(std::vector<Value>(v.begin(), v.end())); }

namespace {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      std::size_t cost = (a[i - 1] == b[j - 1]) ? 0 : 1;
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + cost});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string list_choices(const std::vector<std::string>& choices) {
  std::string out;
  for (std::size_t i = 0; i < choices.size(); ++i) {
    out += (i ? ", " : "") + std::string("'") + choices[i] + "'";
  }
  return out;
}

bool element_fits(ParamType list_type, const Value& v) {
  switch (list_type) {
    case ParamType::int_list:
      return v.type() == ValueType::integer;
    case ParamType::number_list:
      return v.is_number();
    case ParamType::string_list:
      return v.type() == ValueType::string;
    default:
      return false;
  }
}

void check_range(const ParamSpec& spec, const std::string& where, double x, std::vector<ParamIssue>& issues) {
  if ((spec.min && x < *spec.min) || (spec.max && x > *spec.max)) {
    std::string range = spec.min && spec.max
                            ? "between " + format_number(*spec.min) + " and " + format_number(*spec.max)
                        : spec.min ? "at least " + format_number(*spec.min)
                                   : "at most " + format_number(*spec.max);
    issues.push_back({where, "'" + where + "' is " + format_number(x) + ", out of range: it must be " + range, ""});
  }
}

void check_choice(const ParamSpec& spec, const std::string& where, const std::string& s,
                  std::vector<ParamIssue>& issues) {
  if (spec.choices.empty() || std::find(spec.choices.begin(), spec.choices.end(), s) != spec.choices.end()) return;
  std::string near = closest_match(s, spec.choices);
  issues.push_back({where, "'" + where + "' is \"" + s + "\", not one of " + list_choices(spec.choices),
                    near.empty() ? "" : "did you mean '" + near + "'?"});
}

}  // namespace

std::string format_number(double d) {
  // Bounds are mostly whole numbers: 1048576, not 1.04858e+06.
  if (d == std::floor(d) && std::fabs(d) < 1e15) return std::to_string(static_cast<std::int64_t>(d));
  std::ostringstream out;
  out << d;
  return out.str();
}

std::string closest_match(std::string_view name, const std::vector<std::string>& candidates) {
  std::string best;
  std::size_t best_distance = static_cast<std::size_t>(-1);
  for (const auto& c : candidates) {
    std::size_t d = edit_distance(name, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  // Close enough to be a typo: a third of the longer name, at least 2 edits.
  std::size_t limit = std::max<std::size_t>(2, std::max(name.size(), best.size()) / 3);
  if (best_distance > limit) return {};
  return best;
}

Value Params::check(const ParamSpec& spec, const Value& value, std::vector<ParamIssue>& issues) {
  const std::string& name = spec.name;
  auto wrong_type = [&] {
    std::string want = to_string(spec.type);
    issues.push_back({name,
                      "'" + name + "' must be " + (want[0] == 'i' ? "an " : "a ") + want + ", got " +
                          std::string(value.type() == ValueType::integer ? "an " : "a ") + to_string(value.type()) +
                          " (" + value.to_string() + ")",
                      ""});
    return Value();
  };
  switch (spec.type) {
    case ParamType::boolean:
      if (value.type() != ValueType::boolean) return wrong_type();
      return value;
    case ParamType::integer:
      if (value.type() != ValueType::integer) return wrong_type();
      check_range(spec, name, static_cast<double>(value.as_int()), issues);
      return value;
    case ParamType::number:
      if (!value.is_number()) return wrong_type();
      if (!std::isfinite(value.as_number())) {
        issues.push_back({name, "'" + name + "' must be a finite number", ""});
        return Value();
      }
      check_range(spec, name, value.as_number(), issues);
      return Value(value.as_number());
    case ParamType::string:
      if (value.type() != ValueType::string) return wrong_type();
      check_choice(spec, name, value.as_string(), issues);
      return value;
    case ParamType::int_list:
    case ParamType::number_list:
    case ParamType::string_list: {
      // A number list with choices also takes one of those words instead (class_weights = "balanced").
      if (spec.type != ParamType::string_list && !spec.choices.empty() && value.type() == ValueType::string) {
        check_choice(spec, name, value.as_string(), issues);
        return value;
      }
      if (value.type() != ValueType::list) return wrong_type();
      std::vector<Value> out;
      const auto& items = value.as_list();
      for (std::size_t i = 0; i < items.size(); ++i) {
        std::string where = name + "[" + std::to_string(i) + "]";
        if (!element_fits(spec.type, items[i])) {
          issues.push_back({name,
                            "'" + where + "' must be " +
                                (spec.type == ParamType::string_list ? "a string"
                                 : spec.type == ParamType::int_list  ? "an integer"
                                                                     : "a number") +
                                ", got " + items[i].to_string(),
                            ""});
          continue;
        }
        if (spec.type == ParamType::string_list) {
          check_choice(spec, name, items[i].as_string(), issues);
          out.push_back(items[i]);
        } else if (!std::isfinite(items[i].as_number())) {
          issues.push_back({name, "'" + where + "' must be a finite number, got " + items[i].to_string(), ""});
        } else {
          check_range(spec, where, items[i].as_number(), issues);
          out.push_back(spec.type == ParamType::number_list ? Value(items[i].as_number()) : items[i]);
        }
      }
      return Value(std::move(out));
    }
    case ParamType::table:
      if (value.type() != ValueType::table) return wrong_type();
      return value;
  }
  return value;
}

Params Params::build(const std::vector<ParamSpec>& specs, const std::vector<TableEntry>& given,
                     std::vector<ParamIssue>& issues) {
  Params params;
  std::vector<std::string> names;
  names.reserve(specs.size());
  for (const auto& s : specs) names.push_back(s.name);

  std::vector<std::string> suggested;  // a misspelt required name is reported once, as the typo
  for (const auto& entry : given) {
    auto it = std::find_if(specs.begin(), specs.end(), [&](const ParamSpec& s) { return s.name == entry.key; });
    if (it == specs.end()) {
      std::string near = closest_match(entry.key, names);
      suggested.push_back(near);
      issues.push_back({entry.key, "unknown parameter '" + entry.key + "'",
                        near.empty() ? (names.empty() ? "this node type takes no parameters"
                                                      : "known parameters: " + list_choices(names))
                                     : "did you mean '" + near + "'?"});
      continue;
    }
    params.given_.push_back(entry.key);
  }
  for (const auto& spec : specs) {
    const Value* v = nullptr;
    for (const auto& entry : given) {
      if (entry.key == spec.name) v = &entry.value;
    }
    if (v == nullptr) {
      if (spec.required && std::find(suggested.begin(), suggested.end(), spec.name) == suggested.end()) {
        issues.push_back(
            {spec.name, "missing required parameter '" + spec.name + "' (" + to_string(spec.type) + ")", spec.doc});
      }
      params.values_.push_back({spec.name, spec.default_value});
      continue;
    }
    params.values_.push_back({spec.name, check(spec, *v, issues)});
  }
  return params;
}

bool Params::has(std::string_view name) const noexcept {
  return std::any_of(values_.begin(), values_.end(), [&](const TableEntry& e) { return e.key == name; });
}

bool Params::was_given(std::string_view name) const noexcept {
  return std::find(given_.begin(), given_.end(), name) != given_.end();
}

const Value& Params::value(std::string_view name) const {
  for (const auto& e : values_) {
    if (e.key == name) return e.value;
  }
  throw std::out_of_range("parameter '" + std::string(name) + "' is not declared by this node type");
}

template <>
bool Params::get<bool>(std::string_view name) const {
  return value(name).as_bool();
}
template <>
std::int64_t Params::get<std::int64_t>(std::string_view name) const {
  return value(name).as_int();
}
template <>
int Params::get<int>(std::string_view name) const {
  return static_cast<int>(value(name).as_int());
}
template <>
double Params::get<double>(std::string_view name) const {
  return value(name).as_number();
}
template <>
std::string Params::get<std::string>(std::string_view name) const {
  return value(name).as_string();
}
template <>
Value Params::get<Value>(std::string_view name) const {
  return value(name);
}

template <>
std::vector<std::int64_t> Params::get<std::vector<std::int64_t>>(std::string_view name) const {
  std::vector<std::int64_t> out;
  for (const auto& v : value(name).as_list()) out.push_back(v.as_int());
  return out;
}
template <>
std::vector<double> Params::get<std::vector<double>>(std::string_view name) const {
  std::vector<double> out;
  for (const auto& v : value(name).as_list()) out.push_back(v.as_number());
  return out;
}
template <>
std::vector<std::string> Params::get<std::vector<std::string>>(std::string_view name) const {
  std::vector<std::string> out;
  for (const auto& v : value(name).as_list()) out.push_back(v.as_string());
  return out;
}

}  // namespace tributary

#pragma once
// What the dashboard's routes share: JSON answers and errors, and the parts of a request's URL.
#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "plot_server/http_server.hpp"

namespace tributary::sinks {

using Json = nlohmann::ordered_json;

// A finite number, or null (JSON has no NaN).
Json number_or_null(double v);
// Compact JSON; invalid UTF-8 is replaced, never thrown on.
std::string dump(const Json& j);
HttpResponse json_response(unsigned status, const Json& body);
// {"error": message}
HttpResponse error_response(unsigned status, const std::string& message);
// Percent-decoding of a URL part; '+' is a space in a query. nullopt for a broken escape.
std::optional<std::string> percent_decode(std::string_view text, bool query);
// The query's parameters, decoded; a broken escape is an error naming the parameter
// (std::invalid_argument, as the parsers below throw: the routes answer it with a 400).
std::map<std::string, std::string> parse_query(const std::string& query);
double parse_number(const std::string& key, const std::string& text);
std::int64_t parse_integer(const std::string& key, const std::string& text, std::int64_t min, std::int64_t max);

}  // namespace tributary::sinks

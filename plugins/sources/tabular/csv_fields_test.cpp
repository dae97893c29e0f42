#include "tabular/csv_fields.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <vector>

using tributary::sources::split_csv_line;
using tributary::sources::trim_blanks;

namespace {
std::vector<std::string> fields_of(const std::string& line, char delimiter = ',') {
  std::vector<std::string> out{"left over"};
  split_csv_line(line, delimiter, out);
  return out;
}
}  // namespace

TEST_CASE("csv fields: plain, quoted, doubled quotes, delimiters inside quotes, blanks trimmed") {
  CHECK(fields_of("a,b,c") == std::vector<std::string>{"a", "b", "c"});
  CHECK(fields_of(" a ,\tb\t, c") == std::vector<std::string>{"a", "b", "c"});
  CHECK(fields_of("\"x, y\",2") == std::vector<std::string>{"x, y", "2"});
  CHECK(fields_of("\"say \"\"hi\"\"\",3") == std::vector<std::string>{"say \"hi\"", "3"});
  CHECK(fields_of("a;b", ';') == std::vector<std::string>{"a", "b"});
  CHECK(fields_of("") == std::vector<std::string>{""});
  CHECK(fields_of("a,,") == std::vector<std::string>{"a", "", ""});
  CHECK(trim_blanks(" \t x y \t") == "x y");
  CHECK(trim_blanks("   ").empty());
}

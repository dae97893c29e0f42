#include <catch2/catch.hpp>
#include <cmath>

#include "tributary/node.hpp"

using namespace tributary;

namespace {
NodeSpec mfcc_like() {
  NodeSpec spec;
  spec.param<std::int64_t>("n_mfcc", 40, "number of coefficients").range(1, 128);
  spec.param<double>("lr", 0.001, "learning rate").min(0).settable();
  spec.param<std::string>("window", "hann", "window function").choices({"hann", "hamming", "rect"});
  spec.param<std::vector<std::int64_t>>("channels", std::vector<std::int64_t>{64, 64}, "widths").min(1);
  spec.required<std::string>("path", "where the data is");
  spec.param<std::vector<double>>("split", std::vector<double>{0.8, 0.2}, "fractions").range(0, 1);
  return spec;
}
std::vector<ParamIssue> issues_for(const std::vector<TableEntry>& given) {
  std::vector<ParamIssue> issues;
  Params::build(mfcc_like().params(), given, issues);
  return issues;
}
}  // namespace

TEST_CASE("declared defaults fill in what the file leaves out") {
  std::vector<ParamIssue> issues;
  Params p = Params::build(mfcc_like().params(), {{"path", "data"}, {"lr", 1}}, issues);
  REQUIRE(issues.empty());
  CHECK(p.get<std::int64_t>("n_mfcc") == 40);
  CHECK(p.get<double>("lr") == 1.0);  // an integer widens to a number
  CHECK(p.get<std::string>("window") == "hann");
  CHECK(p.get<std::vector<std::int64_t>>("channels") == std::vector<std::int64_t>{64, 64});
  CHECK(p.was_given("path"));
  CHECK_FALSE(p.was_given("window"));
}

TEST_CASE("a misspelt parameter is reported with the nearest declared name") {
  auto issues = issues_for({{"path", "x"}, {"n_mfc", 13}});
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].param == "n_mfc");
  CHECK(issues[0].message == "unknown parameter 'n_mfc'");
  CHECK(issues[0].hint == "did you mean 'n_mfcc'?");
}

TEST_CASE("wrong types, out-of-range values, bad choices and missing values are each reported") {
  auto wrong_type = issues_for({{"path", "x"}, {"n_mfcc", "forty"}});
  REQUIRE(wrong_type.size() == 1);
  CHECK(wrong_type[0].message == "'n_mfcc' must be an integer, got a string (\"forty\")");

  auto range = issues_for({{"path", "x"}, {"n_mfcc", 500}});
  REQUIRE(range.size() == 1);
  CHECK(range[0].message == "'n_mfcc' is 500, out of range: it must be between 1 and 128");

  auto choice = issues_for({{"path", "x"}, {"window", "haming"}});
  REQUIRE(choice.size() == 1);
  CHECK(choice[0].hint == "did you mean 'hamming'?");

  auto list = issues_for({{"path", "x"}, {"channels", std::vector<Value>{Value(64), Value(0)}}});
  REQUIRE(list.size() == 1);
  CHECK(list[0].message == "'channels[1]' is 0, out of range: it must be at least 1");

  // NaN passes every comparison with a bound, so it is refused on its own, in lists too.
  auto nan = issues_for({{"path", "x"}, {"split", std::vector<Value>{Value(0.5), Value(std::nan(""))}}});
  REQUIRE(nan.size() == 1);
  CHECK_THAT(nan[0].message, Catch::StartsWith("'split[1]' must be a finite number, got "));

  auto missing = issues_for({});
  REQUIRE(missing.size() == 1);
  CHECK(missing[0].message == "missing required parameter 'path' (string)");
}

TEST_CASE("closest_match only suggests names that are plausibly typos") {
  CHECK(closest_match("synthetc", {"synthetic", "table", "csv"}) == "synthetic");
  CHECK(closest_match("jsnol", {"jsonl", "csv"}) == "jsonl");
  CHECK(closest_match("microphone", {"csv", "table"}).empty());
}

TEST_CASE("values print as TOML") {
  Value t = Value::table({{"kind", "cnn"}, {"channels", std::vector<Value>{Value(64), Value(32)}}});
  CHECK(t.to_string() == "{ kind = \"cnn\", channels = [64, 32] }");
  CHECK(Value(0.5).to_string() == "0.5");
  CHECK(Value(2.0).to_string() == "2.0");
  REQUIRE(t.find("kind") != nullptr);
  CHECK(t.find("kind")->as_string() == "cnn");
  CHECK(t.find("depth") == nullptr);
}

TEST_CASE("a number list with choices also takes one of them as a word, and no other word") {
  NodeSpec spec;
  spec.param("weights", ParamType::number_list, Value(std::vector<Value>{}), "per class").choices({"balanced"}).min(0);
  std::vector<ParamIssue> issues;
  Params word = Params::build(spec.params(), {{"weights", "balanced"}}, issues);
  CHECK(issues.empty());
  CHECK(word.value("weights").as_string() == "balanced");
  Params list = Params::build(spec.params(), {{"weights", std::vector<Value>{Value(1), Value(2.5)}}}, issues);
  CHECK(issues.empty());
  CHECK(list.value("weights").as_list().size() == 2);
  Params::build(spec.params(), {{"weights", "balance"}}, issues);
  REQUIRE(issues.size() == 1);
  CHECK(issues[0].hint == "did you mean 'balanced'?");
}

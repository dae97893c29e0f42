#include "jsonl/jsonl.hpp"

#include <catch2/catch.hpp>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "export/sink_testing.hpp"
#include "tributary/testing.hpp"

using namespace tributary;
using namespace tributary::sinks::testing;
using tributary::sinks::JsonLinesSink;
using json = nlohmann::ordered_json;  // keeps the order of keys as written

namespace {

std::vector<json> read_lines(const std::string& path) {
  std::vector<json> lines;
  std::istringstream in(read_text(path));
  std::string line;
  while (std::getline(in, line)) lines.push_back(json::parse(line));
  return lines;
}

std::vector<std::string> keys_of(const json& object) {
  std::vector<std::string> keys;
  for (auto it = object.begin(); it != object.end(); ++it) keys.push_back(it.key());
  return keys;
}

}  // namespace

TEST_CASE("jsonl: metric points, log lines and tensor packets mix in one file, one object per line") {
  ScratchDir dir;
  const auto path = dir.file("out/run.jsonl");
  auto h = NodeHarness::of<JsonLinesSink>({{"path", path}});
  h.start();
  h.push("in", metric_packet({{1700000000.25, "train", "train/loss", 3, 1, 0.125},
                              {1700000000.5, "train", "val/f1", -1, 1, 0.75}}));
  h.push("in", log_packet({{1700000001.0, "reader", LogLevel::warn, "said \"hi\",\nthen left"}}));
  auto example = std::make_shared<Packet>(*tensor_packet(
      PayloadKind::example, Tensor::from_vector(std::vector<float>{0.1f, 2.5f, -3.0f, 4.0f}, {2, 2}), 7));
  example->label = 1;
  example->split = Split::train;
  example->set_attribute("sample_rate", 16000);
  example->set_attribute("classes", Value(std::vector<Value>{"cat", "dog"}));
  h.push("in", example);
  h.push("in", tensor_packet(PayloadKind::audio, Tensor::from_vector(std::vector<std::int16_t>{-1, 2}), 8));
  h.flush();
  h.stop();

  const auto lines = read_lines(path);
  REQUIRE(lines.size() == 5);
  CHECK(keys_of(lines[0]) == std::vector<std::string>{"time", "node", "name", "step", "epoch", "value"});
  CHECK(lines[0] == json{{"time", 1700000000.25},
                         {"node", "train"},
                         {"name", "train/loss"},
                         {"step", 3},
                         {"epoch", 1},
                         {"value", 0.125}});
  CHECK(lines[1]["name"] == "val/f1");
  CHECK(lines[1]["step"] == -1);

  CHECK(keys_of(lines[2]) == std::vector<std::string>{"time", "node", "level", "message"});
  CHECK(lines[2]["level"] == "warn");
  CHECK(lines[2]["message"] == "said \"hi\",\nthen left");

  CHECK(keys_of(lines[3]) == std::vector<std::string>{"stream", "sequence", "timestamp_ns", "label", "split", "shape",
                                                      "values", "attributes"});
  CHECK(lines[3]["stream"] == "mic");
  CHECK(lines[3]["sequence"] == 7);
  CHECK(lines[3]["timestamp_ns"] == 7000);
  CHECK(lines[3]["label"] == 1);
  CHECK(lines[3]["split"] == "train");
  CHECK(lines[3]["shape"] == json::array({2, 2}));
  CHECK(lines[3]["values"] == json::array({0.1, 2.5, -3.0, 4.0}));  // f32 written as its shortest decimal
  CHECK(lines[3]["attributes"] == json{{"sample_rate", 16000}, {"classes", {"cat", "dog"}}});

  CHECK(lines[4]["label"].is_null());
  CHECK(lines[4]["split"].is_null());
  CHECK(lines[4]["values"] == json::array({-1, 2}));
  CHECK(lines[4]["attributes"] == json::object());
}

TEST_CASE("jsonl: appending across runs keeps earlier lines, and append = false starts the file again") {
  ScratchDir dir;
  const auto path = dir.file("metrics.jsonl");
  for (int run = 0; run < 2; ++run) {
    auto h = NodeHarness::of<JsonLinesSink>({{"path", path}});
    h.start();
    h.push("in", metric_packet({{1.0 + run, "n", "loss", run, 0, 1.0}}));
    h.stop();
  }
  auto lines = read_lines(path);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["step"] == 0);
  CHECK(lines[1]["step"] == 1);

  auto h = NodeHarness::of<JsonLinesSink>({{"path", path}, {"append", false}});
  h.start();
  h.push("in", metric_packet({{9.0, "n", "loss", 9, 0, 1.0}}));
  h.stop();
  lines = read_lines(path);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["step"] == 9);
}

TEST_CASE("jsonl: telemetry and logs from the buses are written only when enabled") {
  ScratchDir dir;
  const auto path = dir.file("bus.jsonl");
  const auto telemetry = metric_packet({{1.0, "mic", "telemetry/drops", -1, -1, 3}}, PayloadKind::telemetry);
  const auto logs = log_packet({{1.0, "mic", LogLevel::info, "opened"}});

  auto quiet = NodeHarness::of<JsonLinesSink>({{"path", path}});
  CHECK_FALSE(quiet.node().wants(JsonLinesSink::kTelemetry));
  CHECK_FALSE(quiet.node().wants(JsonLinesSink::kLogs));
  quiet.start();
  quiet.push("telemetry", telemetry);
  quiet.push("logs", logs);
  quiet.stop();
  CHECK(read_text(path).empty());

  auto loud = NodeHarness::of<JsonLinesSink>({{"path", path}, {"telemetry", true}, {"logs", true}});
  CHECK(loud.node().wants(JsonLinesSink::kTelemetry));
  CHECK(loud.node().wants(JsonLinesSink::kLogs));
  loud.start();
  loud.push("telemetry", telemetry);
  loud.push("logs", logs);
  loud.stop();
  const auto lines = read_lines(path);
  REQUIRE(lines.size() == 2);
  CHECK(lines[0]["name"] == "telemetry/drops");
  CHECK(lines[1]["message"] == "opened");
}

TEST_CASE("jsonl: a write that fails names the file and the system's reason") {
  auto h = NodeHarness::of<JsonLinesSink>({{"path", "/dev/full"}});
  h.start();
  CHECK_THROWS_WITH(h.push("in", log_packet({{1.0, "n", LogLevel::info, "x"}})),
                    "writing /dev/full failed: No space left on device");
  CHECK_NOTHROW(h.stop());
}

TEST_CASE("jsonl: invalid UTF-8 in a message is replaced rather than stopping the export") {
  ScratchDir dir;
  const auto path = dir.file("utf8.jsonl");
  auto h = NodeHarness::of<JsonLinesSink>({{"path", path}});
  h.start();
  h.push("in", log_packet({{1.0, "n", LogLevel::info, std::string("bad \xff byte")}}));
  h.stop();
  const auto lines = read_lines(path);
  REQUIRE(lines.size() == 1);
  CHECK(lines[0]["message"] == "bad \xEF\xBF\xBD byte");
}

TEST_CASE("jsonl: NaN and infinities are written as the strings Python's json reads back") {
  ScratchDir dir;
  const auto path = dir.file("nan.jsonl");
  auto h = NodeHarness::of<JsonLinesSink>({{"path", path}});
  h.start();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double inf = std::numeric_limits<double>::infinity();
  h.push("in", metric_packet({{1.0, "train", "train/loss", 1, 0, nan}, {2.0, "train", "train/loss", 2, 0, -inf}}));
  h.push("in", tensor_packet(
                   PayloadKind::features,
                   Tensor::from_vector(std::vector<float>{1.5f, static_cast<float>(inf), static_cast<float>(nan)}), 3));
  h.flush();
  h.stop();
  const auto text = read_text(path);
  CHECK_THAT(text, Catch::Contains("\"value\":\"NaN\"") && Catch::Contains("\"value\":\"-Infinity\"") &&
                       Catch::Contains("\"values\":[1.5,\"Infinity\",\"NaN\"]"));
  CHECK_THAT(text, !Catch::Contains("\"value\":null"));
}

TEST_CASE("jsonl: a packet without a tensor is named in the error, with its article") {
  ScratchDir dir;
  auto h = NodeHarness::of<JsonLinesSink>({{"path", dir.file("empty.jsonl")}});
  h.start();
  CHECK_THROWS_WITH(h.push("in", make_packet(PayloadKind::example)),
                    Catch::Contains("an example packet holds no tensor to write"));
  h.stop();
}

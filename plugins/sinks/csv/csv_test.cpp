#include "csv/csv.hpp"

#include <catch2/catch.hpp>

#include "export/sink_testing.hpp"
#include "tributary/testing.hpp"

using namespace tributary;
using namespace tributary::sinks::testing;
using tributary::sinks::CsvSink;

namespace {

void export_points(const std::vector<TableEntry>& params, std::vector<MetricPoint> points) {
  auto h = NodeHarness::of<CsvSink>(params);
  h.start();
  h.push("in", metric_packet(std::move(points)));
  h.flush();
  h.stop();
}

std::string error_of(NodeHarness& h, const std::string& port, const PacketPtr& packet) {
  try {
    h.push(port, packet);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("csv: metric points are written one per row under time,node,name,step,epoch,value") {
  ScratchDir dir;
  const auto path = dir.file("metrics.csv");
  export_points({{"path", path}}, {{1700000000.25, "train", "train/loss", 3, 1, 0.125},
                                   {1700000000.5, "train", "val/accuracy", -1, 2, 0.1},
                                   {1700000001.0, "train", "lr", 4, -1, 1e-07}});
  CHECK(read_text(path) ==
        "time,node,name,step,epoch,value\n"
        "1700000000.25,train,train/loss,3,1,0.125\n"
        "1700000000.5,train,val/accuracy,-1,2,0.1\n"
        "1700000001,train,lr,4,-1,1e-07\n");
}

TEST_CASE("csv: appending across runs writes the header once, and append = false starts the file again") {
  ScratchDir dir;
  const auto path = dir.file("runs/a/b/metrics.csv");  // parent directories are created
  export_points({{"path", path}}, {{1.5, "n", "loss", 0, 0, 2.0}});
  export_points({{"path", path}}, {{2.5, "n", "loss", 1, 0, 1.0}});
  CHECK(read_text(path) == "time,node,name,step,epoch,value\n1.5,n,loss,0,0,2\n2.5,n,loss,1,0,1\n");

  export_points({{"path", path}, {"append", false}}, {{3.5, "n", "loss", 2, 0, 0.5}});
  CHECK(read_text(path) == "time,node,name,step,epoch,value\n3.5,n,loss,2,0,0.5\n");
}

TEST_CASE("csv: rows are written and flushed packet by packet, and a file truncated by start() stays so") {
  ScratchDir dir;
  const auto path = dir.file("live.csv");
  write_text(path, "old contents\n");
  auto h = NodeHarness::of<CsvSink>({{"path", path}, {"append", false}});
  h.start();
  CHECK(read_text(path).empty());
  h.push("in", metric_packet({{1.0, "n", "x", 0, -1, 1.0}}));
  CHECK(read_text(path) == "time,node,name,step,epoch,value\n1,n,x,0,-1,1\n");
  h.push("in", metric_packet({{2.0, "n", "x", 1, -1, 2.0}}));
  CHECK(read_text(path) == "time,node,name,step,epoch,value\n1,n,x,0,-1,1\n2,n,x,1,-1,2\n");
  h.flush();
  // Telemetry may still arrive after flush: it is appended, the header is not repeated.
  h.push("in", metric_packet({{3.0, "n", "x", 2, -1, 3.0}}, PayloadKind::telemetry));
  h.stop();
  CHECK(read_text(path) == "time,node,name,step,epoch,value\n1,n,x,0,-1,1\n2,n,x,1,-1,2\n3,n,x,2,-1,3\n");
}

TEST_CASE("csv: fields with commas, quotes or line breaks are quoted as RFC 4180 says") {
  ScratchDir dir;
  const auto path = dir.file("logs.csv");
  auto h = NodeHarness::of<CsvSink>({{"path", path}});
  h.start();
  h.push("in", log_packet({{10.5, "reader, 2", LogLevel::warn, "said \"hi\", twice"},
                           {11.0, "reader", LogLevel::info, "line one\nline two"},
                           {12.0, "plain", LogLevel::error, "nothing special"}}));
  h.stop();
  CHECK(read_text(path) ==
        "time,node,level,message\n"
        "10.5,\"reader, 2\",warn,\"said \"\"hi\"\", twice\"\n"
        "11,reader,info,\"line one\nline two\"\n"
        "12,plain,error,nothing special\n");
}

TEST_CASE("csv: tensor packets become rows of their first tensor, flattened") {
  ScratchDir dir;
  const auto path = dir.file("features.csv");
  auto h = NodeHarness::of<CsvSink>({{"path", path}});
  h.start();
  auto labelled = std::make_shared<Packet>(*tensor_packet(
      PayloadKind::example, Tensor::from_vector(std::vector<float>{0.1f, -2.5f, 3.0f, 1e-8f}, {2, 2}), 4));
  labelled->label = 2;
  labelled->split = Split::val;
  h.push("in", labelled);
  h.push("in", tensor_packet(PayloadKind::features, Tensor::from_vector(std::vector<double>{0.1, 2, 3, 4}), 5));
  h.push("in", tensor_packet(PayloadKind::audio, Tensor::from_vector(std::vector<std::int16_t>{-3, 0, 7, 9}), 6));
  h.stop();
  CHECK(read_text(path) ==
        "stream,sequence,timestamp_ns,label,split,x0,x1,x2,x3\n"
        "mic,4,4000,2,val,0.1,-2.5,3,1e-08\n"
        "mic,5,5000,,,0.1,2,3,4\n"
        "mic,6,6000,,,-3,0,7,9\n");
}

TEST_CASE("csv: rows of another kind than the file's are refused, naming the file and both headers") {
  ScratchDir dir;
  const auto path = dir.file("mixed.csv");
  auto h = NodeHarness::of<CsvSink>({{"path", path}});
  h.start();
  h.push("in", metric_packet({{1.0, "n", "x", 0, 0, 1.0}}));
  CHECK(error_of(h, "in", log_packet({{1.0, "n", LogLevel::info, "hello"}})) ==
        "writing " + path +
            ": its rows have the header \"time,node,name,step,epoch,value\" but a log packet from logs needs "
            "\"time,node,level,message\"; a csv file holds one kind of row, so send these packets to a separate csv "
            "sink");
  const auto wide = tensor_packet(PayloadKind::features, Tensor::zeros(DType::f32, {100}));
  CHECK_THAT(error_of(h, "in", wide),
             Catch::Contains("needs \"stream,sequence,timestamp_ns,label,split,x0,x1,...,x99\""));
  h.stop();
  CHECK(read_text(path) == "time,node,name,step,epoch,value\n1,n,x,0,0,1\n");

  // Tensor rows of another width do not fit either.
  const auto rows = dir.file("rows.csv");
  auto t = NodeHarness::of<CsvSink>({{"path", rows}});
  t.start();
  t.push("in", tensor_packet(PayloadKind::features, Tensor::zeros(DType::f32, {2})));
  CHECK_THAT(error_of(t, "in", tensor_packet(PayloadKind::features, Tensor::zeros(DType::f32, {3}))),
             Catch::Contains("\"stream,sequence,timestamp_ns,label,split,x0,x1\" but") &&
                 Catch::Contains("needs \"stream,sequence,timestamp_ns,label,split,x0,x1,x2\""));
}

TEST_CASE("csv: appending to a file with another header is refused, naming the path and both headers") {
  ScratchDir dir;
  const auto path = dir.file("logs.csv");
  write_text(path, "time,node,level,message\n1,n,info,hello\n");
  auto h = NodeHarness::of<CsvSink>({{"path", path}});
  h.start();
  CHECK(error_of(h, "in", metric_packet({{1.0, "n", "x", 0, 0, 1.0}})) ==
        "appending to " + path +
            ": its header is \"time,node,level,message\" but a metrics packet from train needs "
            "\"time,node,name,step,epoch,value\"; write to another file, or set append = false to replace this one");
  // Rows that fit are appended under the existing header.
  h.push("in", log_packet({{2.0, "n", LogLevel::debug, "again"}}));
  h.stop();
  CHECK(read_text(path) == "time,node,level,message\n1,n,info,hello\n2,n,debug,again\n");
}

TEST_CASE("csv: telemetry and logs from the buses are written only when enabled") {
  ScratchDir dir;
  const auto path = dir.file("telemetry.csv");
  const auto telemetry = metric_packet({{1.0, "mic", "telemetry/packets_out", -1, -1, 10}}, PayloadKind::telemetry);
  const auto logs = log_packet({{1.0, "mic", LogLevel::info, "opened"}});

  auto quiet = NodeHarness::of<CsvSink>({{"path", path}});
  CHECK_FALSE(quiet.node().wants(CsvSink::kTelemetry));
  CHECK_FALSE(quiet.node().wants(CsvSink::kLogs));
  CHECK(quiet.node().wants(CsvSink::kIn));
  quiet.start();
  quiet.push("telemetry", telemetry);
  quiet.push("logs", logs);
  quiet.stop();
  CHECK(read_text(path).empty());

  auto loud = NodeHarness::of<CsvSink>({{"path", path}, {"telemetry", true}});
  CHECK(loud.node().wants(CsvSink::kTelemetry));
  CHECK_FALSE(loud.node().wants(CsvSink::kLogs));
  loud.start();
  loud.push("telemetry", telemetry);
  loud.stop();
  CHECK(read_text(path) == "time,node,name,step,epoch,value\n1,mic,telemetry/packets_out,-1,-1,10\n");

  const auto log_path = dir.file("logs.csv");
  auto logged = NodeHarness::of<CsvSink>({{"path", log_path}, {"logs", true}});
  CHECK(logged.node().wants(CsvSink::kLogs));
  logged.start();
  logged.push("logs", logs);
  logged.stop();
  CHECK(read_text(log_path) == "time,node,level,message\n1,mic,info,opened\n");

  // One file cannot hold both metric rows and log rows.
  CHECK_THROWS_AS(NodeHarness::of<CsvSink>({{"path", path}, {"telemetry", true}, {"logs", true}}), ParamError);
}

TEST_CASE("csv: a write that fails names the file and the system's reason") {
  auto h = NodeHarness::of<CsvSink>({{"path", "/dev/full"}});
  h.start();
  CHECK(error_of(h, "in", metric_packet({{1.0, "n", "x", 0, 0, 1.0}})) ==
        "writing /dev/full failed: No space left on device");
  CHECK_NOTHROW(h.stop());
}

TEST_CASE("csv: a path that cannot be created is an error naming it") {
  ScratchDir dir;
  const auto blocker = dir.file("file");
  write_text(blocker, "x");
  auto h = NodeHarness::of<CsvSink>({{"path", blocker + "/sub/metrics.csv"}});
  CHECK_THROWS_WITH(h.start(), Catch::Contains(blocker + "/sub/metrics.csv"));
  CHECK_THROWS_AS(NodeHarness::of<CsvSink>({}), ParamError);
}

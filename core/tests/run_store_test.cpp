// The run store, specified on real SQLite files: what a run records, how it is read back, and
// what happens to damaged, newer, busy and abandoned stores.
#include "run_store.hpp"
#include "run_history.hpp"

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "test_nodes.hpp"

using namespace tributary;
namespace fs = std::filesystem;

namespace {

// Emits `count` metric packets on its output port, one point each, and one point a packet on the
// telemetry bus; warns once and tells once.
class MetricSource final : public Node {
 public:
  static constexpr const char* kType = "metric_source";
  static constexpr OutputPort kMetrics{"metrics", PayloadKind::metrics, "train/loss points"};
  static void declare(NodeSpec& spec) {
    spec.summary("emits metric points");
    spec.output(kMetrics);
    spec.source(SourceMode::pull);
    spec.param<std::int64_t>("count", 100, "how many").min(0);
  }
  void configure(const Params& p) override { count_ = p.get<std::int64_t>("count"); }
  bool produce(Emitter& out) override {
    if (step_ == 0) {
      context().log().warn("the learning rate looks high");
      context().log().info("starting");
    }
    if (step_ >= count_) return false;
    auto packet = make_packet(PayloadKind::metrics);
    packet->metrics.push_back(MetricPoint{wall_time_s(), context().node_name(), "train/loss", step_, 0,
                                          1.0 / static_cast<double>(step_ + 1)});
    out.emit(kMetrics, std::move(packet));
    context().metric("own/rate", static_cast<double>(step_), step_);
    ++step_;
    return true;
  }

 private:
  std::int64_t count_ = 0;
  std::int64_t step_ = 0;
};

// Passes metric packets on as they are.
class MetricRelay final : public Node {
 public:
  static constexpr const char* kType = "metric_relay";
  static constexpr InputPort kIn{"in", PayloadKind::metrics, "points"};
  static constexpr OutputPort kOut{"out", PayloadKind::metrics, "the same points"};
  static void declare(NodeSpec& spec) {
    spec.summary("passes metric points on");
    spec.input(kIn);
    spec.output(kOut);
  }
  void process(const InputPort&, const PacketPtr& packet, Emitter& out) override { out.emit(kOut, packet); }
};

class Drop final : public Node {
 public:
  static constexpr const char* kType = "drop";
  static constexpr InputPort kIn{"in", PayloadKind::metrics, "points"};
  static void declare(NodeSpec& spec) {
    spec.summary("takes points");
    spec.input(kIn);
  }
  void process(const InputPort&, const PacketPtr&, Emitter&) override {}
};

const char* const kPipeline = R"([pipeline]
name = "metrics"
links = ["src -> relay", "relay -> end"]
[nodes.src]
plugin = "metric_source"
count = 500
[nodes.relay]
plugin = "metric_relay"
[nodes.end]
plugin = "drop"
)";

struct StoreHarness {
  core::PluginRegistry registry;
  core::Logging logging{core::LogSettings{LogLevel::warn, {}, false}};
  core::Plan plan;
  explicit StoreHarness(const std::string& id) {
    testnodes::register_all(registry);
    testnodes::add_type<MetricSource>(registry);
    testnodes::add_type<MetricRelay>(registry);
    testnodes::add_type<Drop>(registry);
    plan = core::build_plan(core::parse_pipeline(kPipeline, "metrics.toml", {}), registry,
                            core::RunInfo{id, "/tmp/runs/" + id}, logging);
  }
};

fs::path fresh_store(const std::string& name) {
  fs::path dir = fs::temp_directory_path() / "tributary-store-tests" / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir / "tributary.db";
}

std::string bytes_of(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

void sql(const fs::path& db, const std::string& statement) {
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open(db.c_str(), &handle) == SQLITE_OK);
  char* error = nullptr;
  int rc = sqlite3_exec(handle, statement.c_str(), nullptr, nullptr, &error);
  std::string message = error ? error : "";
  sqlite3_free(error);
  sqlite3_close(handle);
  INFO(message);
  REQUIRE(rc == SQLITE_OK);
}

std::int64_t count(core::RunStore& store, const std::string& id) {
  std::int64_t n = 0;
  store.for_each_metric(id, "", [&](const core::StoredMetric&) { ++n; });
  return n;
}

core::RunResult run_recorded(const fs::path& db, const std::string& id) {
  StoreHarness h(id);
  core::RunRecorder recorder(db.string(), core::StoreErrorPolicy::keep_running, {});
  recorder.begin(core::record_of(h.plan));
  core::Runtime runtime(h.plan, h.logging);
  runtime.observe(&recorder);
  core::RunResult result = runtime.run();
  recorder.finish(result);
  REQUIRE(recorder.error().empty());
  return result;
}

}  // namespace

TEST_CASE("a recorded run keeps every metric point once, its warnings, its control events and its end") {
  fs::path db = fresh_store("record");
  run_recorded(db, "run-1");
  core::RunStore store(db.string());
  core::StoredRun r = store.run("run-1");
  CHECK(r.status == "finished");
  CHECK(r.name == "metrics");
  CHECK(r.end_time >= r.start_time);
  // 500 emitted on the port (not again when the relay passes them on) and 500 on the telemetry bus.
  std::int64_t loss = 0, own = 0;
  store.for_each_metric("run-1", "", [&](const core::StoredMetric& m) {
    if (m.name == "train/loss") {
      CHECK(m.node == "src");
      CHECK(m.value == Approx(1.0 / static_cast<double>(loss + 1)));
      CHECK(m.step == loss);
      ++loss;
    }
    if (m.name == "own/rate") ++own;
  });
  CHECK(loss == 500);
  CHECK(own == 500);
  auto logs = store.logs("run-1");
  REQUIRE(logs.size() == 1);  // the warning; not the info line
  CHECK(logs[0].message == "the learning rate looks high");
  CHECK(logs[0].level == "warn");
  auto params = store.hyperparameters("run-1");
  CHECK(std::find(params.begin(), params.end(), std::make_pair(std::string("src.count"), std::string("500"))) !=
        params.end());
  auto best = store.headline("run-1");
  REQUIRE(best);
  CHECK(best->name == "train/loss");
  CHECK(best->best == Approx(1.0 / 500));
  CHECK(store.plugins("run-1").size() == 1);
}

TEST_CASE("an unknown run id is refused with the nearest ids") {
  fs::path db = fresh_store("unknown");
  run_recorded(db, "20261202-101500-aaaa");
  run_recorded(db, "20261202-111500-bbbb");
  core::RunStore store(db.string());
  CHECK_THROWS_WITH(store.run("20261202-101500-aaab"), Catch::Contains("no run '20261202-101500-aaab'") &&
                                                           Catch::Contains("nearest: 20261202-101500-aaaa") &&
                                                           Catch::Contains("runs list"));
  store.remove("20261202-101500-aaaa");
  CHECK(store.runs().size() == 1);
  CHECK_THROWS_WITH(store.remove("20261202-101500-aaaa"), Catch::Contains("nearest: 20261202-111500-bbbb"));
}

TEST_CASE("a file that is not a run store is reported and never overwritten") {
  fs::path db = fresh_store("corrupt");
  SECTION("not SQLite at all") { std::ofstream(db) << "these are somebody's notes, not a database\n"; }
  SECTION("SQLite's header, then damage") {
    std::string bytes = "SQLite format 3";
    bytes += '\0';
    bytes += std::string(8192, '\x5a');
    std::ofstream(db, std::ios::binary) << bytes;
  }
  SECTION("another program's database") { sql(db, "CREATE TABLE accounts(id INTEGER, owner TEXT)"); }
  std::string before = bytes_of(db);
  CHECK_THROWS_WITH(core::RunStore(db.string()), Catch::Contains(db.string()) && Catch::Contains("left as it is") &&
                                                     Catch::Contains("--store PATH"));
  core::RunRecorder recorder(db.string(), core::StoreErrorPolicy::keep_running, {});
  StoreHarness h("x");
  CHECK_THROWS_AS(recorder.begin(core::record_of(h.plan)), core::StoreError);
  CHECK(bytes_of(db) == before);
}

TEST_CASE("a store from a newer schema is refused, and left as it is") {
  fs::path db = fresh_store("newer");
  run_recorded(db, "old-run");
  sql(db, "UPDATE store_schema SET version = " + std::to_string(core::kStoreSchemaVersion + 1));
  CHECK_THROWS_WITH(core::RunStore(db.string()),
                    Catch::Contains("schema version " + std::to_string(core::kStoreSchemaVersion + 1)) &&
                        Catch::Contains("newer than this tributary's"));
}

TEST_CASE("a run left running by a process that is gone is found interrupted, with its data") {
  fs::path db = fresh_store("interrupted");
  run_recorded(db, "abandoned");
  // A process that ran and ended: its pid now names nothing (or something else).
  pid_t child = fork();
  if (child == 0) _exit(0);
  waitpid(child, nullptr, 0);
  sql(db, "UPDATE runs SET status = 'running', end_time = NULL, pid = " + std::to_string(child) +
              " WHERE id = 'abandoned'");
  run_recorded(db, "alive");  // its own row is running while it writes, and its process is this one
  core::RunStore store(db.string());
  core::StoredRun r = store.run("abandoned");
  CHECK(r.status == "interrupted");
  CHECK_THAT(r.reason, Catch::Contains("pid " + std::to_string(child)) && Catch::Contains("ended without closing"));
  CHECK(count(store, "abandoned") == 1000);
  CHECK(store.run("alive").status == "finished");
  CHECK(store.runs("", "interrupted").size() == 1);
}

TEST_CASE("runs writing one store at once each keep all of their points") {
  fs::path db = fresh_store("concurrent");
  constexpr int kWriters = 3;
  constexpr int kPoints = 100000;
  std::vector<std::thread> writers;
  std::vector<std::string> errors(kWriters);
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      StoreHarness h("writer-" + std::to_string(w));
      core::RunRecorder recorder(db.string(), core::StoreErrorPolicy::keep_running,
                                 [&errors, w](const std::string& e) { errors[static_cast<std::size_t>(w)] = e; });
      recorder.begin(core::record_of(h.plan));
      std::vector<MetricPoint> batch;
      for (int i = 0; i < kPoints; ++i) {
        batch.push_back(MetricPoint{wall_time_s(), "w", "x", i, -1, static_cast<double>(i)});
        if (batch.size() == 100) {
          recorder.on_metrics(batch);
          batch.clear();
        }
      }
      recorder.finish(core::RunResult{});
    });
  }
  for (auto& t : writers) t.join();
  for (const auto& e : errors) CHECK(e.empty());
  core::RunStore store(db.string());
  for (int w = 0; w < kWriters; ++w) {
    std::string id = "writer-" + std::to_string(w);
    CHECK(store.run(id).status == "finished");
    CHECK(store.run(id).points == kPoints);
    CHECK(count(store, id) == kPoints);
  }
}

namespace {

// Reads the past runs through Context::extension when it starts, as the dashboard does.
struct HistorySeen {
  bool offered = false;
  std::string current;
  std::vector<PastRun> runs;
  std::vector<PastSeries> series;
  std::vector<MetricPoint> loss;
  std::string unknown_error;
};
HistorySeen& history_seen() {
  static HistorySeen seen;
  return seen;
}

class HistoryReader final : public Node {
 public:
  static constexpr const char* kType = "history_reader";
  static constexpr InputPort kIn{"in", PayloadKind::metrics, "points"};
  static void declare(NodeSpec& spec) {
    spec.summary("reads the past runs");
    spec.input(kIn);
  }
  void start() override {
    HistorySeen& seen = history_seen();
    auto* history = static_cast<RunHistory*>(context().extension(RunHistory::kName, RunHistory::kVersion));
    seen.offered = history != nullptr;
    if (!history) return;
    seen.current = history->current();
    seen.runs = history->runs("", 10);
    for (const PastRun& r : seen.runs) {
      if (r.id == seen.current) continue;
      seen.series = history->series(r.id);
      history->points(r.id, "src", "train/loss", [&](const MetricPoint& p) { seen.loss.push_back(p); });
      break;
    }
    try {
      history->series("no-such-run");
    } catch (const std::runtime_error& e) {
      seen.unknown_error = e.what();
    }
  }
  void process(const InputPort&, const PacketPtr&, Emitter&) override {}
};

}  // namespace

TEST_CASE("a recorded run's nodes read the past runs from the store, which reading leaves as it is") {
  fs::path db = fresh_store("history");
  run_recorded(db, "20261203-090000-aaaa");
  run_recorded(db, "20261203-100000-bbbb");

  history_seen() = HistorySeen{};
  core::PluginRegistry registry;
  core::Logging logging{core::LogSettings{LogLevel::warn, {}, false}};
  testnodes::register_all(registry);
  testnodes::add_type<MetricSource>(registry);
  testnodes::add_type<HistoryReader>(registry);
  const char* pipeline = R"([pipeline]
name = "reader"
links = ["src -> read"]
[nodes.src]
plugin = "metric_source"
count = 5
[nodes.read]
plugin = "history_reader"
)";
  core::Plan plan = core::build_plan(core::parse_pipeline(pipeline, "reader.toml", {}), registry,
                                     core::RunInfo{"20261203-110000-cccc", "/tmp/runs/reader"}, logging);
  {
    core::RunRecorder recorder(db.string(), core::StoreErrorPolicy::keep_running, {});
    recorder.begin(core::record_of(plan));
    core::StoreHistory history(db.string(), recorder.id());
    core::offer_history(plan, &history);
    core::Runtime runtime(plan, logging);
    runtime.observe(&recorder);
    core::RunResult result = runtime.run();
    recorder.finish(result);
    REQUIRE(result.status == core::RunResult::Status::finished);
  }

  const HistorySeen& seen = history_seen();
  REQUIRE(seen.offered);
  CHECK(seen.current == "20261203-110000-cccc");
  // The newest first, the live run among them.
  REQUIRE(seen.runs.size() == 3);
  CHECK(seen.runs[0].id == "20261203-110000-cccc");
  CHECK(seen.runs[0].status == "running");
  CHECK(seen.runs[1].id == "20261203-100000-bbbb");
  CHECK(seen.runs[1].status == "finished");
  CHECK(seen.runs[1].name == "metrics");
  CHECK(seen.runs[1].headline == "train/loss");
  CHECK(seen.runs[1].headline_value == Approx(1.0 / 500));
  CHECK(seen.runs[2].id == "20261203-090000-aaaa");
  // Its series, and one of them point by point in order.
  auto has = [&](const std::string& node, const std::string& name, std::int64_t points) {
    return std::any_of(seen.series.begin(), seen.series.end(),
                       [&](const PastSeries& s) { return s.node == node && s.name == name && s.points == points; });
  };
  CHECK(has("src", "train/loss", 500));
  CHECK(has("src", "own/rate", 500));
  REQUIRE(seen.loss.size() == 500);
  for (std::size_t i = 0; i < seen.loss.size(); ++i) {
    CHECK(seen.loss[i].step == static_cast<std::int64_t>(i));
    CHECK(seen.loss[i].value == Approx(1.0 / static_cast<double>(i + 1)));
  }
  CHECK_THAT(seen.unknown_error, Catch::Contains("no run 'no-such-run'"));

  // Reading alone never writes: a store read by a history of its own stays byte for byte. (The
  // last connection to close folded the write-ahead log into the file.)
  REQUIRE(!fs::exists(db.string() + "-wal"));
  fs::path copy = db.parent_path() / "copy.db";
  fs::copy_file(db, copy, fs::copy_options::overwrite_existing);
  std::string before = bytes_of(copy);
  core::StoreHistory reader(copy.string(), "");
  CHECK(reader.runs("", 10).size() == 3);
  CHECK(reader.runs("metrics", 1).size() == 1);
  CHECK(bytes_of(copy) == before);
}

TEST_CASE("a history over a store that is not there says so") {
  fs::path db = fresh_store("history-missing");
  core::StoreHistory history(db.string(), "");
  CHECK_THROWS_WITH(history.runs("", 10), Catch::Contains("does not exist yet"));
}

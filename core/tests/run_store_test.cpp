// The run store, specified on real SQLite files: what a run records, how it is read back, and
// what happens to damaged, newer, busy and abandoned stores.
#include "run_store.hpp"

#include <sqlite3.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "run_history.hpp"
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

namespace {

// Schema 1 as tributary 0.2 created it, and what its recorder wrote.
const char* const kSchema1 = R"(
CREATE TABLE store_schema(version INTEGER NOT NULL);
INSERT INTO store_schema(version) VALUES (1);
CREATE TABLE runs(rid INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, name TEXT NOT NULL,
  pipeline_path TEXT NOT NULL DEFAULT '', run_dir TEXT NOT NULL DEFAULT '', pipeline_text TEXT NOT NULL DEFAULT '',
  status TEXT NOT NULL, reason TEXT NOT NULL DEFAULT '', failed_node TEXT NOT NULL DEFAULT '',
  start_time REAL NOT NULL, end_time REAL, heartbeat REAL, host TEXT NOT NULL DEFAULT '',
  pid INTEGER NOT NULL DEFAULT 0, process TEXT NOT NULL DEFAULT '', version TEXT NOT NULL DEFAULT '',
  threads INTEGER NOT NULL DEFAULT 0, resumed_from TEXT NOT NULL DEFAULT '', points INTEGER NOT NULL DEFAULT 0,
  dropped INTEGER NOT NULL DEFAULT 0);
CREATE TABLE nodes(rid INTEGER NOT NULL, name TEXT NOT NULL, type TEXT NOT NULL, family TEXT NOT NULL,
  library TEXT NOT NULL, version TEXT NOT NULL);
CREATE INDEX nodes_by_run ON nodes(rid);
CREATE TABLE hyperparameters(rid INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY(rid, key)) WITHOUT ROWID;
CREATE TABLE metrics(rid INTEGER NOT NULL, time REAL NOT NULL, node TEXT NOT NULL, name TEXT NOT NULL,
  step INTEGER NOT NULL, epoch INTEGER NOT NULL, value REAL);
CREATE INDEX metrics_by_run ON metrics(rid, name);
CREATE TABLE logs(rid INTEGER NOT NULL, time REAL NOT NULL, node TEXT NOT NULL, level TEXT NOT NULL,
  message TEXT NOT NULL);
CREATE INDEX logs_by_run ON logs(rid);
CREATE TABLE events(rid INTEGER NOT NULL, time REAL NOT NULL, kind TEXT NOT NULL, node TEXT NOT NULL,
  text TEXT NOT NULL);
CREATE INDEX events_by_run ON events(rid);
CREATE TABLE checkpoints(rid INTEGER NOT NULL, time REAL NOT NULL, node TEXT NOT NULL, path TEXT NOT NULL,
  step INTEGER NOT NULL, metrics TEXT NOT NULL DEFAULT '{}', best INTEGER NOT NULL DEFAULT 0);
CREATE INDEX checkpoints_by_run ON checkpoints(rid);
INSERT INTO runs(rid, id, name, status, start_time, end_time, points) VALUES
  (1, 'old-a', 'metrics', 'finished', 1796000000, 1796000100, 0),
  (2, 'old-b', 'metrics', 'finished', 1796000001, 1796000101, 0);
INSERT INTO hyperparameters VALUES (1, 'train.lr', '0.02'), (2, 'train.lr', '0.05');
INSERT INTO logs VALUES (1, 1796000002, 'train', 'warn', 'the learning rate looks high');
INSERT INTO checkpoints VALUES (2, 1796000050, 'train', '/tmp/old-b/step-90.pt', 90, '{"val/loss":0.4}', 1);
)";

std::string format_exact(double v) {
  char text[32];
  std::snprintf(text, sizeof text, "%.17g", v);
  return text;
}

std::vector<core::StoredMetric> all_points(core::RunStore& store, const std::string& id) {
  std::vector<core::StoredMetric> out;
  store.for_each_metric(id, "", [&](const core::StoredMetric& m) { out.push_back(m); });
  return out;
}

std::string schema_of(const fs::path& db) {
  sqlite3* handle = nullptr;
  REQUIRE(sqlite3_open_v2(db.c_str(), &handle, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
  sqlite3_stmt* q = nullptr;
  std::string out;
  REQUIRE(sqlite3_prepare_v2(handle,
                             "SELECT (SELECT max(version) FROM store_schema) || ' ' || group_concat(name, ' ') FROM "
                             "(SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name)",
                             -1, &q, nullptr) == SQLITE_OK);
  if (sqlite3_step(q) == SQLITE_ROW) out = reinterpret_cast<const char*>(sqlite3_column_text(q, 0));
  sqlite3_finalize(q);
  sqlite3_close(handle);
  return out;
}

}  // namespace

TEST_CASE("a store of schema 1 is migrated: every run's points are kept in their order, and new runs go on") {
  fs::path db = fresh_store("schema1");
  sql(db, kSchema1);
  // Two runs' points, interleaved as two processes wrote them, in series that appear one after
  // another; a NaN is kept as SQLite keeps it (NULL), read back as 0.
  std::map<std::string, std::vector<core::StoredMetric>> written;
  {
    std::string insert = "BEGIN;";
    const char* names[] = {"train/loss", "lr", "val/accuracy", "val/loss"};
    for (int i = 0; i < 4000; ++i) {
      std::string id = i % 3 == 0 ? "old-b" : "old-a";
      core::StoredMetric m;
      m.time = 1796000000.0 + i * 0.001;
      m.node = i % 5 == 0 ? "eval" : "train";
      m.name = names[(i / 7) % (1 + i / 1000)];
      m.step = i;
      m.epoch = i / 1000;
      m.value = i == 1234 ? 0.0 : 1.0 / (1.0 + i % 97);
      written[id].push_back(m);
      char row[256];
      std::snprintf(row, sizeof row, "INSERT INTO metrics VALUES (%d, %.17g, '%s', '%s', %lld, %lld, %s);",
                    id == "old-a" ? 1 : 2, m.time, m.node.c_str(), m.name.c_str(), static_cast<long long>(m.step),
                    static_cast<long long>(m.epoch), i == 1234 ? "NULL" : format_exact(m.value).c_str());
      insert += row;
    }
    insert += "UPDATE runs SET points = (SELECT count(*) FROM metrics WHERE metrics.rid = runs.rid); COMMIT;";
    sql(db, insert);
  }
  // A reader alone never migrates: it says what does.
  CHECK_THROWS_WITH(core::RunStore(db.string(), core::StoreAccess::read),
                    Catch::Contains("schema version 1") && Catch::Contains("older than this tributary's") &&
                        Catch::Contains("brings it up to date"));
  CHECK_THAT(schema_of(db), Catch::StartsWith("1 ") && Catch::Contains("metrics"));

  core::RunStore store(db.string());
  CHECK(schema_of(db) == std::to_string(core::kStoreSchemaVersion) +
                             " checkpoints events hyperparameters logs nodes points runs series store_schema");
  for (const char* id : {"old-a", "old-b"}) {
    INFO(id);
    const auto& expected = written[id];
    auto got = all_points(store, id);
    REQUIRE(got.size() == expected.size());
    for (std::size_t i = 0; i < got.size(); ++i) {
      INFO(i);
      CHECK(got[i].time == expected[i].time);
      CHECK(got[i].node == expected[i].node);
      CHECK(got[i].name == expected[i].name);
      CHECK(got[i].step == expected[i].step);
      CHECK(got[i].epoch == expected[i].epoch);
      CHECK(got[i].value == expected[i].value);
    }
    CHECK(store.run(id).points == static_cast<std::int64_t>(expected.size()));
    // The series in the order each first appeared, with their counts; each one's points in order.
    std::vector<std::pair<std::string, std::string>> order;
    std::map<std::pair<std::string, std::string>, std::vector<std::int64_t>> steps;
    for (const auto& m : expected) {
      auto key = std::make_pair(m.node, m.name);
      if (steps.count(key) == 0) order.push_back(key);
      steps[key].push_back(m.step);
    }
    auto series = store.metric_series(id);
    REQUIRE(series.size() == order.size());
    for (std::size_t i = 0; i < series.size(); ++i) {
      CHECK(std::make_pair(series[i].node, series[i].name) == order[i]);
      CHECK(series[i].count == static_cast<std::int64_t>(steps[order[i]].size()));
      std::vector<std::int64_t> seen;
      store.for_each_point(id, series[i].node, series[i].name,
                           [&](const core::StoredMetric& m) { seen.push_back(m.step); });
      CHECK(seen == steps[order[i]]);
    }
    // Each series' count, last and best (the first of equal bests; a point without a value is no
    // candidate).
    auto summaries = store.metric_summaries(id);
    REQUIRE(summaries.size() == order.size());
    for (const auto& s : summaries) {
      INFO(s.node << " " << s.name);
      double best = s.lower_is_better ? 1e9 : -1e9, last = 0;
      std::int64_t best_step = -1, last_step = -1;
      for (const auto& m : expected) {
        if (m.node != s.node || m.name != s.name) continue;
        if (m.step != 1234 && (s.lower_is_better ? m.value < best : m.value > best)) {
          best = m.value;
          best_step = m.step;
        }
        last = m.value;
        last_step = m.step;
      }
      CHECK(s.count == static_cast<std::int64_t>(steps[{s.node, s.name}].size()));
      CHECK(s.best == best);
      CHECK(s.best_step == best_step);
      CHECK(s.last == last);
      CHECK(s.last_step == last_step);
    }
    auto headline = store.headline(id);
    REQUIRE(headline);
    CHECK(headline->name == "val/accuracy");
  }
  CHECK(store.hyperparameters("old-b") == std::vector<std::pair<std::string, std::string>>{{"train.lr", "0.05"}});
  CHECK(store.logs("old-a").size() == 1);
  REQUIRE(store.checkpoints("old-b").size() == 1);
  CHECK(store.checkpoints("old-b")[0].best);

  // The migrated store records new runs beside the old ones, and removes one run's points only.
  run_recorded(db, "new-run");
  CHECK(count(store, "new-run") == 1000);
  store.remove("old-a");
  CHECK(all_points(store, "old-b").size() == written["old-b"].size());
  CHECK(store.runs().size() == 2);
  core::StoreHistory history(db.string(), "");
  auto past = history.series("old-b");
  REQUIRE(!past.empty());
  CHECK(past[0].node == written["old-b"][0].node);
  CHECK(past[0].name == written["old-b"][0].name);
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

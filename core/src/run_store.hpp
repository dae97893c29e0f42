#pragma once
// The run store: every run recorded in one SQLite database (runs/tributary.db by default), with
// its pipeline, plugins, hyperparameters, metric points, warnings and errors, control events and
// checkpoints. The runtime feeds a RunRecorder; `tributary runs ...` reads the store back.
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "runtime.hpp"

namespace tributary::core {

struct Plan;

// What went wrong with the store: the path, what happened and what to do next.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The schema this build writes. A database from a newer one is refused; an older one is migrated.
constexpr int kStoreSchemaVersion = 3;

// The store's path: --store wins, then TRIBUTARY_STORE, then runs/tributary.db beside the run
// directories (relative to the working directory, as runs/<pipeline>/<run id>/ is).
std::string default_store_path(const std::string& chosen);

// One run as the store keeps it.
struct StoredRun {
  std::string id;
  std::string name;
  std::string pipeline_path;
  std::string run_dir;
  std::string status;  // running, finished, stopped, failed, interrupted
  std::string reason;
  std::string host;
  std::string version;
  std::string resumed_from;
  double start_time = 0.0;
  double end_time = 0.0;  // 0 while running
  std::int64_t points = 0;
};

struct StoredMetric {
  double time = 0.0;
  std::string node;
  std::string name;
  std::int64_t step = -1;
  std::int64_t epoch = -1;
  double value = 0.0;
};

// A metric's summary over a run: its last value and its best one (lowest for losses and error
// rates, highest otherwise).
struct MetricSummary {
  std::string node;
  std::string name;
  std::int64_t count = 0;
  double last = 0.0;
  std::int64_t last_step = -1;
  double best = 0.0;
  std::int64_t best_step = -1;
  bool lower_is_better = false;
};

struct StoredCheckpoint {
  double time = 0.0;
  std::string node;
  std::string path;
  std::int64_t step = -1;
  std::string metrics;  // JSON object of the metrics at the checkpoint
  bool best = false;
};

struct StoredLog {
  double time = 0.0;
  std::string node;
  std::string level;
  std::string message;
};

// Replaces every occurrence of `from` in `text` by `to`.
std::string replace_all(std::string text, const std::string& from, const std::string& to);

// Whether lower values of a metric are better (losses, error rates, times).
bool lower_is_better(const std::string& metric_name);

// How a connection uses the store: `write` creates or migrates it and keeps its books; `read`
// only reads a store that is there, never writing to it (a dashboard beside a recording run).
enum class StoreAccess : std::uint8_t { write, read };

// A connection to the store, for reading it and for the run records' bookkeeping. Opening it to
// write creates or migrates the schema and marks runs whose process is gone as interrupted.
class RunStore {
 public:
  // Throws StoreError: a read-only folder, a corrupt file (left as it is), a newer schema; to
  // read, also a missing file or an older schema.
  explicit RunStore(const std::string& path, StoreAccess access = StoreAccess::write);
  ~RunStore();
  RunStore(const RunStore&) = delete;
  RunStore& operator=(const RunStore&) = delete;

  const std::string& path() const noexcept { return path_; }

  std::vector<StoredRun> runs(const std::string& pipeline = {}, const std::string& status = {});
  // Throws StoreError naming the nearest ids when there is no such run.
  StoredRun run(const std::string& id);
  std::string pipeline_text(const std::string& id);
  std::vector<std::pair<std::string, std::string>> hyperparameters(const std::string& id);
  std::vector<std::pair<std::string, std::string>> plugins(const std::string& id);
  std::vector<MetricSummary> metric_summaries(const std::string& id);
  std::vector<StoredCheckpoint> checkpoints(const std::string& id);
  std::vector<StoredLog> logs(const std::string& id);
  // In the order they were recorded; `node` empty: every node.
  void for_each_metric(const std::string& id, const std::string& node,
                       const std::function<void(const StoredMetric&)>& each);
  // The series a run recorded: node, name and count (the rest of each summary is left out), in
  // the order each first appeared.
  std::vector<MetricSummary> metric_series(const std::string& id);
  // One series' points in the order they were recorded.
  void for_each_point(const std::string& id, const std::string& node, const std::string& name,
                      const std::function<void(const StoredMetric&)>& each);
  // The run's headline metric (val/accuracy, else test/accuracy, ..., else train/loss).
  std::optional<MetricSummary> headline(const std::string& id);
  void remove(const std::string& id);
  // Runs left `running` by a process that is gone become `interrupted`; returns how many.
  int mark_interrupted();

  struct Db;

 private:
  std::string path_;
  std::unique_ptr<Db> db_;
};

// What the recorder writes when a run begins.
struct RunRecord {
  std::string id;
  std::string name;
  std::string pipeline_path;
  std::string run_dir;
  std::string pipeline_text;
  std::string resumed_from;
  double start_time = 0.0;
  int threads = 0;
  std::vector<std::pair<std::string, std::string>> hyperparameters;  // "train.model.hidden" -> "[128, 64]"
  struct Node {
    std::string name, type, family, library, version;
  };
  std::vector<Node> nodes;
};
RunRecord record_of(const Plan& plan);

// What the recorder does when the store cannot be written (a full or read-only disk): the run
// goes on unrecorded, or stops. Either way what was committed stays.
enum class StoreErrorPolicy : std::uint8_t { keep_running, stop_run };

// Records one run: begin() writes the run, then the observer calls queue what the pipeline's
// threads publish and a writer thread of the recorder's own commits it in batches.
class RunRecorder final : public RunObserver {
 public:
  // `on_error` hears of the first write error, once, on the writer's thread (the CLI prints it and,
  // with stop_run, stops the run).
  RunRecorder(std::string path, StoreErrorPolicy policy, std::function<void(const std::string&)> on_error);
  ~RunRecorder() override;
  RunRecorder(const RunRecorder&) = delete;
  RunRecorder& operator=(const RunRecorder&) = delete;

  // Opens the store and writes the run as `running`; throws StoreError.
  void begin(const RunRecord& record);
  // Commits what is queued and writes the final status.
  void finish(const RunResult& result);

  void on_metrics(const std::vector<MetricPoint>& points) override;
  void on_log(const LogRecord& record) override;
  void on_control(const Packet& packet) override;

  std::uint64_t points_written() const noexcept;
  std::uint64_t points_dropped() const noexcept;
  const std::string& error() const noexcept;
  // The id the run is stored under: the run's own, numbered when the store already has it.
  const std::string& id() const noexcept;

  class Writer;

 private:
  std::unique_ptr<Writer> writer_;
};

}  // namespace tributary::core

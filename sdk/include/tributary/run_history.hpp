#pragma once
// The extension "tributary.runs", version 1: the runs the run store has recorded, read only, for a
// node that shows past runs beside the live one (the dashboard's overlay). Context::extension gives
// nullptr where there is no store (`--no-store`, a test harness): show no past runs.
//
// Thread-safe; every call reads the store as it is now, so a run that is still going shows the
// points committed so far. A call throws std::runtime_error saying what went wrong (an unknown run
// id names the nearest ones; a store that cannot be read says why).

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "tributary/packet.hpp"

namespace tributary {

struct PastRun {
  std::string id;
  std::string name;      // the pipeline's name
  std::string pipeline;  // the pipeline file's path
  std::string status;    // running, finished, stopped, failed, interrupted
  double start_time = 0.0;
  double end_time = 0.0;  // 0 while running
  std::int64_t points = 0;
  // The run's headline metric and its best value (val/accuracy, else test/accuracy, ...); empty
  // when it has none.
  std::string headline;
  double headline_value = 0.0;
};

// One recorded series of a run: a node's metric.
struct PastSeries {
  std::string node;
  std::string name;
  std::int64_t points = 0;
};

class RunHistory {
 public:
  static constexpr std::string_view kName = "tributary.runs";
  static constexpr std::uint32_t kVersion = 1;
  // The id the store keeps this run under (the other runs are the past ones).
  virtual std::string current() = 0;
  // The newest first, at most `limit`; `pipeline` empty: runs of every pipeline, else of the
  // pipeline of that name.
  virtual std::vector<PastRun> runs(const std::string& pipeline, std::size_t limit) = 0;
  // The series a run recorded, by node and name.
  virtual std::vector<PastSeries> series(const std::string& id) = 0;
  // A series' points in the order they were recorded.
  virtual void points(const std::string& id, const std::string& node, const std::string& name,
                      const std::function<void(const MetricPoint&)>& each) = 0;

 protected:
  ~RunHistory() = default;
};

}  // namespace tributary

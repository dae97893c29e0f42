#pragma once
// The dashboard's history: every metric series, its newest `history` points in memory and the
// older ones spilled to one file for all series, served as decimated views that keep spikes.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "tributary/packet.hpp"

namespace tributary::sinks {

struct SeriesPoint {
  std::int64_t step = -1;
  std::int64_t epoch = -1;
  double time = 0.0;
  double value = 0.0;
  std::uint64_t seq = 0;  // 1-based position in its series
};

enum class SeriesAxis : std::uint8_t { step, time };

struct SeriesInfo {
  std::string name;  // NODE:METRIC
  std::string node;
  std::string metric;
  std::uint64_t length = 0;
  std::int64_t first_step = -1;
  std::int64_t last_step = -1;
  double last_value = 0.0;
  double last_time = 0.0;
};

struct SeriesQuery {
  std::optional<double> from;
  std::optional<double> to;
  std::size_t points = 2000;
  SeriesAxis x = SeriesAxis::step;
};

struct SeriesView {
  std::uint64_t length = 0;    // points in the series
  std::uint64_t last_seq = 0;  // the newest point the view covers
  bool decimated = false;
  std::vector<std::pair<double, double>> points;  // [x, y] in x order
};

// Keeps at most `max_points` of `points`: per bucket of consecutive points, the first, the
// smallest, the largest and the last, in their order, so a spike survives any zoom level.
std::vector<std::pair<double, double>> decimate(const std::vector<std::pair<double, double>>& points,
                                                std::size_t max_points);
// The same choice over any `n` points, `value(i)` giving point i's y: the indices kept, ascending.
std::vector<std::size_t> decimated_indices(std::size_t n, const std::function<double(std::size_t)>& value,
                                           std::size_t max_points);

// Thread-safe: the node appends while the server reads.
class SeriesStore {
 public:
  // Points past `history` per series go to one file in `spill_dir` (created when first needed),
  // in chunks of history/8 points: one descriptor however many series there are.
  SeriesStore(std::size_t history, std::string spill_dir);
  ~SeriesStore();
  SeriesStore(const SeriesStore&) = delete;
  SeriesStore& operator=(const SeriesStore&) = delete;

  void add(const std::string& node, const std::string& metric, const SeriesPoint& point);
  // A packet's points under one lock; a point without a node is `stream`'s.
  void add(const std::string& stream, const std::vector<MetricPoint>& points);
  std::vector<SeriesInfo> list() const;
  std::optional<SeriesView> query(const std::string& name, const SeriesQuery& query) const;
  // The points added since the last call, per series, at most `limit` (the newest) per series.
  std::vector<std::pair<std::string, std::vector<SeriesPoint>>> take_new(std::size_t limit);
  std::size_t points_in_memory() const;
  std::uint64_t points_spilled() const;

 private:
  struct Series;
  void add_locked(const std::string& node, const std::string& metric, const SeriesPoint& point);
  void spill(Series& series);

  std::size_t history_;
  std::string spill_dir_;
  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Series>, std::less<>> series_;
  std::size_t in_memory_ = 0;
  std::uint64_t spilled_ = 0;
  std::size_t chunk_points_;  // points a spill moves to the file at once
  std::string spill_path_;
  int spill_fd_ = -1;
  std::uint64_t spill_end_ = 0;  // bytes written to the file
  std::string key_;              // NODE:METRIC of the point being added, reused so a point allocates nothing
  bool spill_failed_ = false;
};

}  // namespace tributary::sinks

#pragma once
// The dashboard's model views: per-parameter weight and gradient histograms over time (from the
// trainer's `model_stats` packets) and the newest decision boundaries (its `boundary` packets).
// Every packet is checked against the contract first; a malformed one is refused with what is
// wrong, and nothing of it is kept. Memory is bounded: at most kSnapshotsPerHistogram snapshots
// per (parameter, weight|grad), thinned evenly over the run as it grows, within kMaxValues bins
// for all histograms together, and the newest kBoundaries boundaries.
#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "tributary/packet.hpp"

namespace tributary::sinks {

struct HistogramSnapshot {
  std::int64_t step = -1;
  std::int64_t epoch = -1;
  double time = 0.0;
  double lo = 0.0;
  double hi = 0.0;
  std::vector<double> counts;  // bins of equal width over [lo, hi]
};

struct BoundarySnapshot {
  std::int64_t step = -1;
  std::int64_t epoch = -1;
  double time = 0.0;
  double x0 = 0.0, x1 = 1.0, y0 = 0.0, y1 = 1.0;
  std::string projection;            // "input" or "pca"
  std::vector<double> explained;     // two fractions with pca, else empty
  std::vector<std::string> classes;  // may be empty: classes are then shown by index
  std::int64_t grid = 0;             // G: cells is G x G, row r from y0 (r = 0) to y1
  std::vector<std::int32_t> cells;   // the predicted class per cell
  std::vector<float> probability;    // that class's probability per cell
  std::vector<float> x, y;           // the projected points
  std::vector<std::int32_t> labels, predictions;
};

// What /api/model lists per histogram.
struct HistogramInfo {
  std::uint64_t snapshots = 0;  // kept
  std::uint64_t received = 0;
  std::size_t bins = 0;  // of the newest
  std::int64_t first_step = -1;
  std::int64_t last_step = -1;
};

// Thread-safe: the node adds while the server reads.
class ModelStore {
 public:
  static constexpr std::size_t kSnapshotsPerHistogram = 300;
  static constexpr std::size_t kMaxBins = 1024;
  static constexpr std::size_t kMaxParameters = 1024;
  static constexpr std::size_t kMaxValues = 4'000'000;  // bins of all kept snapshots: 32 MB
  static constexpr std::size_t kBoundaries = 4;
  static constexpr std::int64_t kMaxGrid = 512;
  static constexpr std::int64_t kMaxPoints = 100000;
  static constexpr std::size_t kRefusalTexts = 32;
  static constexpr std::size_t kLiveValues = 32768;  // bins per live message

  ModelStore();
  ~ModelStore();
  ModelStore(const ModelStore&) = delete;
  ModelStore& operator=(const ModelStore&) = delete;

  struct Verdict {
    bool taken = true;
    std::string what;    // what is wrong, when refused
    bool first = false;  // the first refusal with this text: worth a log line
  };
  // The packet's histograms, all or none. A packet with neither tensors nor a `histograms`
  // attribute carries points only: taken.
  Verdict add_stats(const Packet& packet);
  Verdict add_boundary(const Packet& packet);
  // Parameters named by model/P/weight|grad/... points, in the order they first came.
  void note_points(const std::vector<MetricPoint>& points);

  struct Parameter {
    std::string name;
    std::optional<HistogramInfo> weight;
    std::optional<HistogramInfo> grad;
  };
  std::vector<Parameter> parameters() const;
  // The snapshots kept, oldest first; nullopt for a histogram never received. `of` is weight|grad.
  std::optional<std::vector<HistogramSnapshot>> histograms(const std::string& parameter, const std::string& of) const;
  // The newest boundary, or the one of `step`; nullptr when none.
  std::shared_ptr<const BoundarySnapshot> boundary(std::optional<std::int64_t> step = std::nullopt) const;
  // The (step, epoch) of each boundary kept, oldest first.
  std::vector<std::pair<std::int64_t, std::int64_t>> boundary_steps() const;
  // How many snapshots one histogram may keep now (fewer when many histograms share kMaxValues).
  std::size_t capacity() const;
  std::size_t values_in_memory() const;

  struct Fresh {
    // The newest snapshot of each histogram that got one since the last call: (parameter, of, it),
    // at most max_values bins in all; the rest wait for the next call, taken in turn.
    std::vector<std::tuple<std::string, std::string, HistogramSnapshot>> histograms;
    bool parameters_changed = false;
    std::shared_ptr<const BoundarySnapshot> boundary;  // set when a boundary came since
  };
  Fresh take_new(std::size_t max_values = kLiveValues);

  struct Refusal {
    std::string input;  // model_stats or boundary
    std::string what;
    std::uint64_t count = 0;
  };
  std::vector<Refusal> refusals() const;

 private:
  struct Histogram;
  std::size_t capacity_locked(std::size_t bins) const;
  void thin(Histogram& h);
  std::size_t parameter_index(const std::string& name);
  Verdict refuse(const char* input, std::string what);

  mutable std::mutex mutex_;
  std::vector<std::string> order_;            // parameters, as they first came
  std::map<std::string, std::size_t> index_;  // parameter -> position in order_
  std::map<std::pair<std::string, std::string>, std::unique_ptr<Histogram>> histograms_;
  std::size_t values_ = 0;
  bool parameters_changed_ = false;
  std::pair<std::string, std::string> live_cursor_;  // the histogram take_new() sent last
  std::deque<std::shared_ptr<const BoundarySnapshot>> boundaries_;
  bool boundary_fresh_ = false;
  std::vector<Refusal> refusals_;  // at most kRefusalTexts distinct texts
};

// The routes' answers and the live messages, as JSON text (API.md): /api/model,
// /api/model/histograms, /api/model/boundary; the `model` and `boundary` messages of /api/live
// (empty when there is nothing new).
std::string model_json(const ModelStore& store);
std::optional<std::string> histograms_json(const ModelStore& store, const std::string& parameter,
                                           const std::string& of);
std::string boundary_json(const BoundarySnapshot& boundary);
std::vector<std::string> model_live_messages(const ModelStore::Fresh& fresh);

}  // namespace tributary::sinks

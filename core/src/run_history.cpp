#include "run_history.hpp"

#include <algorithm>
#include <utility>

#include "plan.hpp"

namespace tributary::core {

StoreHistory::StoreHistory(std::string path, std::string current_id)
    : path_(std::move(path)), current_(std::move(current_id)) {}

StoreHistory::~StoreHistory() = default;

RunStore& StoreHistory::store() {
  if (!store_) store_ = std::make_unique<RunStore>(path_, StoreAccess::read);
  return *store_;
}

std::vector<PastRun> StoreHistory::runs(const std::string& pipeline, std::size_t limit) {
  std::lock_guard<std::mutex> lock(mutex_);
  std::vector<StoredRun> stored = store().runs(pipeline);
  std::reverse(stored.begin(), stored.end());  // the store lists the oldest first
  if (stored.size() > limit) stored.resize(limit);
  std::vector<PastRun> out;
  out.reserve(stored.size());
  for (const StoredRun& r : stored) {
    PastRun p;
    p.id = r.id;
    p.name = r.name;
    p.pipeline = r.pipeline_path;
    p.status = r.status;
    p.start_time = r.start_time;
    p.end_time = r.end_time;
    p.points = r.points;
    if (auto h = store().headline(r.id)) {
      p.headline = h->name;
      p.headline_value = h->best;
    }
    out.push_back(std::move(p));
  }
  return out;
}

std::vector<PastSeries> StoreHistory::series(const std::string& id) {
  std::lock_guard<std::mutex> lock(mutex_);
  store().run(id);  // an unknown id: the error names the nearest ones
  std::vector<PastSeries> out;
  for (const MetricSummary& s : store().metric_series(id)) out.push_back({s.node, s.name, s.count});
  return out;
}

void StoreHistory::points(const std::string& id, const std::string& node, const std::string& name,
                          const std::function<void(const MetricPoint&)>& each) {
  std::lock_guard<std::mutex> lock(mutex_);
  store().run(id);
  MetricPoint point;
  point.node = node;
  point.name = name;
  store().for_each_point(id, node, name, [&](const StoredMetric& m) {
    point.time = m.time;
    point.step = m.step;
    point.epoch = m.epoch;
    point.value = m.value;
    each(point);
  });
}

void offer_history(Plan& plan, RunHistory* history) {
  for (NodePlan& node : plan.nodes) node.context->offer_history(history);
}

}  // namespace tributary::core

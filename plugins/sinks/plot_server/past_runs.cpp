#include "plot_server/past_runs.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>
#include <vector>

#include "plot_server/http_util.hpp"
#include "plot_server/series_store.hpp"

namespace tributary::sinks {

namespace {

constexpr const char* kPrefix = "/api/runs";

Json run_json(const PastRun& r) {
  Json j{{"id", r.id},
         {"name", r.name},
         {"pipeline", r.pipeline},
         {"status", r.status},
         {"start_time", r.start_time},
         {"end_time", r.end_time > 0 ? Json(r.end_time) : Json(nullptr)},
         {"duration_s", r.end_time > 0 ? Json(r.end_time - r.start_time) : Json(nullptr)},
         {"points", r.points}};
  j["headline"] =
      r.headline.empty() ? Json(nullptr) : Json{{"name", r.headline}, {"value", number_or_null(r.headline_value)}};
  return j;
}

// The store names an unknown run "no run 'ID' ...", with the nearest ids.
HttpResponse store_error(const std::exception& e) {
  const std::string message = e.what();
  return error_response(message.rfind("no run '", 0) == 0 ? 404 : 500, message);
}

}  // namespace

PastRuns::PastRuns(RunHistory* history) : history_(history) {
  if (history_ != nullptr) thread_ = std::thread([this] { work(); });
}

PastRuns::~PastRuns() { stop(); }

void PastRuns::stop() {
  std::deque<std::pair<HttpRequest, std::function<void(HttpResponse)>>> left;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
    left.swap(pending_);
  }
  wake_.notify_all();
  // Those waiting hear at once; a read under way is let finish.
  for (auto& [request, respond] : left) respond(error_response(503, "the dashboard is stopping"));
  if (thread_.joinable()) thread_.join();
}

bool PastRuns::handle(const HttpRequest& request, const std::function<void(HttpResponse)>& respond) {
  const std::string& path = request.path;
  if (path != kPrefix && path.rfind(std::string(kPrefix) + "/", 0) != 0) return false;
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse r = error_response(405, "use GET on " + path);
    r.headers.emplace_back("Allow", "GET");
    respond(std::move(r));
    return true;
  }
  if (history_ == nullptr) {
    if (path == kPrefix) {
      respond(json_response(200, Json{{"available", false},
                                      {"reason",
                                       "this run is not recorded in a run store (--no-store), so there are "
                                       "no past runs to show"},
                                      {"current", nullptr},
                                      {"runs", Json::array()}}));
    } else {
      respond(error_response(404, "this run is not recorded in a run store (--no-store): there are no past runs"));
    }
    return true;
  }
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!stopping_ && pending_.size() < kMaxPending) {
      pending_.emplace_back(request, respond);
      wake_.notify_one();
      return true;
    }
  }
  respond(error_response(
      503, "too many past-run requests at once (" + std::to_string(kMaxPending) + " waiting); try again in a moment"));
  return true;
}

void PastRuns::work() {
  std::unique_lock<std::mutex> lock(mutex_);
  for (;;) {
    wake_.wait(lock, [&] { return stopping_ || !pending_.empty(); });
    if (stopping_) return;
    auto [request, respond] = std::move(pending_.front());
    pending_.pop_front();
    lock.unlock();
    HttpResponse response;
    try {
      response = answer(request);
    } catch (const std::invalid_argument& e) {
      response = error_response(400, e.what());
    } catch (const std::exception& e) {
      response = store_error(e);
    }
    respond(std::move(response));
    lock.lock();
  }
}

HttpResponse PastRuns::answer(const HttpRequest& request) {
  const auto query = parse_query(request.query);
  const std::string& path = request.path;
  if (path == kPrefix) {
    std::size_t limit = 50;
    std::string pipeline;
    if (auto it = query.find("limit"); it != query.end())
      limit = static_cast<std::size_t>(parse_integer("limit", it->second, 1, static_cast<std::int64_t>(kMaxRuns)));
    if (auto it = query.find("pipeline"); it != query.end()) pipeline = it->second;
    Json runs = Json::array();
    for (const PastRun& r : history_->runs(pipeline, limit)) runs.push_back(run_json(r));
    return json_response(200, Json{{"available", true}, {"current", history_->current()}, {"runs", std::move(runs)}});
  }
  // /api/runs/ID/series[/NAME]
  const std::string rest = path.substr(std::string(kPrefix).size() + 1);
  const std::size_t slash = rest.find('/');
  const auto id = percent_decode(rest.substr(0, slash), false);
  const std::string tail = slash == std::string::npos ? "" : rest.substr(slash + 1);
  if (!id || id->empty() || (tail != "series" && tail.rfind("series/", 0) != 0)) {
    return error_response(404, "no route " + path +
                                   "; see API.md: /api/runs, /api/runs/ID/series, "
                                   "/api/runs/ID/series/NAME");
  }
  if (tail == "series") {
    Json list = Json::array();
    for (const PastSeries& s : history_->series(*id)) {
      list.push_back(Json{{"name", s.node + ":" + s.name}, {"node", s.node}, {"metric", s.name}, {"length", s.points}});
    }
    return json_response(200, Json{{"run", *id}, {"series", std::move(list)}});
  }
  // NODE:METRIC (node names hold no ':'), read straight from the store's index.
  const auto name = percent_decode(tail.substr(std::string("series/").size()), false);
  if (!name || name->empty())
    return error_response(400, "a series name, percent-encoded, follows /api/runs/ID/series/");
  const std::size_t colon = name->find(':');
  std::size_t points = 2000;
  if (auto it = query.find("points"); it != query.end())
    points = static_cast<std::size_t>(parse_integer("points", it->second, 4, 1000000));
  struct Row {
    std::int64_t step;
    double value;
    double time;
  };
  std::vector<Row> rows;
  if (colon != std::string::npos) {
    history_->points(*id, name->substr(0, colon), name->substr(colon + 1), [&](const MetricPoint& p) {
      rows.push_back({p.step, p.value, p.time});
    });
  } else {
    history_->series(*id);  // an unknown id is still answered with the nearest ones
  }
  if (rows.empty())
    return error_response(404,
                          "run " + *id + " has no series '" + *name + "'; GET /api/runs/" + *id + "/series lists them");
  Json out = Json::array();
  for (std::size_t i : decimated_indices(
           rows.size(), [&](std::size_t k) { return rows[k].value; }, points)) {
    const Row& r = rows[i];
    out.push_back(Json::array({r.step, number_or_null(r.value), r.time}));
  }
  return json_response(200, Json{{"run", *id},
                                 {"name", *name},
                                 {"length", rows.size()},
                                 {"decimated", rows.size() > points},
                                 {"points", std::move(out)}});
}

}  // namespace tributary::sinks

#pragma once
// The dashboard's past runs: GET /api/runs, /api/runs/ID/series and /api/runs/ID/series/NAME,
// read from the run store through the "tributary.runs" extension. The reads go to a thread of
// their own: a long run's points take a while to read, and the live routes must not wait.
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "plot_server/http_server.hpp"
#include "tributary/run_history.hpp"

namespace tributary::sinks {

class PastRuns {
 public:
  static constexpr std::size_t kMaxPending = 32;  // requests waiting; past that, 503
  static constexpr std::size_t kMaxRuns = 500;    // runs one answer lists

  // `history` null: the run is not recorded, and the routes say so.
  explicit PastRuns(RunHistory* history);
  ~PastRuns();
  PastRuns(const PastRuns&) = delete;
  PastRuns& operator=(const PastRuns&) = delete;

  // Whether `request` is for one of these routes; if so it is answered through `respond`, later
  // and from this object's thread.
  bool handle(const HttpRequest& request, const std::function<void(HttpResponse)>& respond);
  // Answers what is waiting with 503 and joins the thread.
  void stop();

 private:
  HttpResponse answer(const HttpRequest& request);
  void work();

  RunHistory* history_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::pair<HttpRequest, std::function<void(HttpResponse)>>> pending_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace tributary::sinks

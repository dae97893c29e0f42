// PastRuns' queue: past-run reads wait on a thread of their own, at most kMaxPending of them;
// one more is answered 503 at once, and what waits when the dashboard stops is answered too.
#include "plot_server/past_runs.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

using namespace tributary;
using namespace tributary::sinks;

namespace {

// A store whose listing takes as long as the test says: a long read under way.
class SlowHistory final : public RunHistory {
 public:
  std::string current() override { return "now"; }
  std::vector<PastRun> runs(const std::string&, std::size_t) override {
    ++reading_;
    std::unique_lock<std::mutex> lock(mutex_);
    cv_.wait(lock, [&] { return released_; });
    PastRun run;
    run.id = "earlier";
    run.name = "digits";
    run.status = "finished";
    return {run};
  }
  std::vector<PastSeries> series(const std::string&) override { return {}; }
  void points(const std::string&, const std::string&, const std::string&,
              const std::function<void(const MetricPoint&)>&) override {}

  void release() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      released_ = true;
    }
    cv_.notify_all();
  }
  int reading() const { return reading_.load(); }

 private:
  std::atomic<int> reading_{0};
  std::mutex mutex_;
  std::condition_variable cv_;
  bool released_ = false;
};

struct Answers {
  std::mutex mutex;
  std::vector<HttpResponse> got;
  std::function<void(HttpResponse)> keep() {
    return [this](HttpResponse r) {
      std::lock_guard<std::mutex> lock(mutex);
      got.push_back(std::move(r));
    };
  }
  std::size_t count(unsigned status) {
    std::lock_guard<std::mutex> lock(mutex);
    std::size_t n = 0;
    for (const auto& r : got) n += r.status == status ? 1 : 0;
    return n;
  }
};

bool eventually(const std::function<bool()>& condition) {
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

const HttpRequest kList{"GET", "/api/runs", "", "", ""};

}  // namespace

TEST_CASE("plot_server: past-run requests beyond those waiting are answered 503 at once, the rest in turn") {
  SlowHistory history;
  PastRuns past(&history);
  Answers answers;
  // One is being read; kMaxPending wait behind it.
  REQUIRE(past.handle(kList, answers.keep()));
  REQUIRE(eventually([&] { return history.reading() == 1; }));
  for (std::size_t i = 0; i < PastRuns::kMaxPending; ++i) REQUIRE(past.handle(kList, answers.keep()));
  CHECK(answers.count(503) == 0);
  // One more is too many: answered now, from the caller's thread, with what to do.
  REQUIRE(past.handle(kList, answers.keep()));
  REQUIRE(answers.count(503) == 1);
  {
    std::lock_guard<std::mutex> lock(answers.mutex);
    CHECK_THAT(answers.got.back().body, Catch::Contains("too many past-run requests at once (32 waiting)") &&
                                            Catch::Contains("try again in a moment"));
  }
  history.release();
  REQUIRE(eventually([&] { return answers.count(200) == PastRuns::kMaxPending + 1; }));
  {
    std::lock_guard<std::mutex> lock(answers.mutex);
    CHECK_THAT(answers.got.back().body, Catch::Contains("\"earlier\""));
  }
  past.stop();
}

TEST_CASE("plot_server: past-run requests still waiting when the dashboard stops are answered 503") {
  SlowHistory history;
  Answers answers;
  {
    PastRuns past(&history);
    REQUIRE(past.handle(kList, answers.keep()));
    REQUIRE(eventually([&] { return history.reading() == 1; }));
    for (int i = 0; i < 5; ++i) REQUIRE(past.handle(kList, answers.keep()));
    std::thread stopping([&] { past.stop(); });
    // The five waiting are answered while the one being read finishes.
    REQUIRE(eventually([&] { return answers.count(503) == 5; }));
    history.release();
    stopping.join();
    // After the stop, a request is refused at once.
    REQUIRE(past.handle(kList, answers.keep()));
    CHECK(answers.count(503) == 6);
  }
  CHECK(answers.count(200) == 1);
}

// The dashboard's series store fed 1,000,000 points: points per second and the resident memory it
// adds, against appending the same points to a std::vector<MetricPoint> (the floor: no lookup, no
// lock, no spilling). Each case runs in a process of its own (fork), so one case's freed memory
// does not hide the next one's growth. After the store cases, a full-range decimated query (what
// the page asks first) is timed and every series is read back and checked point by point.
//
//   bench_dash_store [--points 1000000] [--series 5] [--history 100000] [--repeat 3] [--dir /tmp]
//
// Cases: `vector` (the peer); `store` (SeriesStore with `history` points per series in memory,
// the rest spilled to files); `store, all in memory` (history = points); `node` (the plot_server
// node itself through NodeHarness on port 0, fed packets of `series` points as a trainer's
// report, its HTTP thread running with no viewer).
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "export/sink_testing.hpp"
#include "plot_server/plot_server.hpp"
#include "plot_server/series_store.hpp"
#include "tributary/testing.hpp"

using namespace tributary;
using namespace tributary::sinks;
using Clock = std::chrono::steady_clock;

namespace {

double rss_mb() {
  std::ifstream statm("/proc/self/statm");
  long size = 0, resident = 0;
  statm >> size >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / 1e6;
}

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Options {
  long points = 1'000'000;
  long series = 5;
  long history = 100'000;
  int repeat = 3;
  std::string dir = std::filesystem::temp_directory_path().string();
};

std::string metric_name(long k) { return k == 0 ? "train/loss" : "metric_" + std::to_string(k); }

// The value of point i of series k, so a read-back can check it.
double value_of(long i, long k) { return static_cast<double>(i) + static_cast<double>(k) * 0.25; }

struct Outcome {
  double seconds = 0;
  double rss_before = 0;
  double rss_after = 0;
  double query_ms = -1;
  long bad = -1;  // points read back wrong; -1 when not checked
};

Outcome run_vector(const Options& o) {
  Outcome r;
  r.rss_before = rss_mb();
  std::vector<MetricPoint> points;
  const auto t0 = Clock::now();
  const long steps = o.points / o.series;
  for (long i = 0; i < steps; ++i) {
    for (long k = 0; k < o.series; ++k)
      points.push_back(
          MetricPoint{1.7e9 + static_cast<double>(i) * 1e-3, "train", metric_name(k), i, 0, value_of(i, k)});
  }
  r.seconds = seconds_since(t0);
  r.rss_after = rss_mb();
  if (points.size() != static_cast<std::size_t>(steps * o.series)) std::abort();
  return r;
}

long check_store(const SeriesStore& store, const Options& o, long steps) {
  long bad = 0;
  for (long k = 0; k < o.series; ++k) {
    // Small ranges are returned whole (no decimation): read the series back in windows.
    for (long from = 0; from < steps; from += 1000) {
      SeriesQuery q;
      q.from = static_cast<double>(from);
      q.to = static_cast<double>(std::min(from + 999, steps - 1));
      q.points = 4000;
      auto view = store.query("train:" + metric_name(k), q);
      if (!view) return steps * o.series;
      long expect = from;
      for (const auto& [x, y] : view->points) {
        if (x != static_cast<double>(expect) || y != value_of(expect, k)) ++bad;
        ++expect;
      }
      const long want = static_cast<long>(*q.to) - from + 1;
      bad += std::labs(want - static_cast<long>(view->points.size()));
    }
  }
  return bad;
}

Outcome run_store(const Options& o, std::size_t history, const std::string& spill) {
  Outcome r;
  r.rss_before = rss_mb();
  const long steps = o.points / o.series;
  {
    SeriesStore store(history, spill);
    std::vector<std::string> names;
    for (long k = 0; k < o.series; ++k) names.push_back(metric_name(k));
    const auto t0 = Clock::now();
    for (long i = 0; i < steps; ++i) {
      for (long k = 0; k < o.series; ++k)
        store.add("train", names[static_cast<std::size_t>(k)],
                  SeriesPoint{i, 0, 1.7e9 + static_cast<double>(i) * 1e-3, value_of(i, k), 0});
      if (i % 2500 == 0) store.take_new(5000);  // the server's tick, with no viewer
    }
    r.seconds = seconds_since(t0);
    r.rss_after = rss_mb();
    const auto q0 = Clock::now();
    auto view = store.query("train:train/loss", SeriesQuery{});
    r.query_ms = seconds_since(q0) * 1e3;
    if (!view || view->length != static_cast<std::uint64_t>(steps)) std::abort();
    r.bad = check_store(store, o, steps);
  }
  std::error_code ignored;
  std::filesystem::remove_all(spill, ignored);
  return r;
}

Outcome run_node(const Options& o, const std::string& run_dir) {
  Outcome r;
  const long steps = o.points / o.series;
  {
    auto harness = NodeHarness::of<PlotServer>({{"port", 0}, {"history", o.history}}, run_dir);
    harness.start();
    r.rss_before = rss_mb();
    const auto t0 = Clock::now();
    for (long i = 0; i < steps; ++i) {
      std::vector<MetricPoint> list;
      list.reserve(static_cast<std::size_t>(o.series));
      for (long k = 0; k < o.series; ++k)
        list.push_back(
            MetricPoint{1.7e9 + static_cast<double>(i) * 1e-3, "train", metric_name(k), i, 0, value_of(i, k)});
      harness.push("metrics", sinks::testing::metric_packet(std::move(list)));
    }
    r.seconds = seconds_since(t0);
    r.rss_after = rss_mb();
    const auto& store = static_cast<PlotServer&>(harness.node()).store();
    const auto q0 = Clock::now();
    auto view = store.query("train:train/loss", SeriesQuery{});
    r.query_ms = seconds_since(q0) * 1e3;
    if (!view || view->length != static_cast<std::uint64_t>(steps)) std::abort();
    r.bad = check_store(store, o, steps);
    harness.stop();
  }
  std::error_code ignored;
  std::filesystem::remove_all(run_dir, ignored);
  return r;
}

// Runs `work` in a child process; its outcome comes back through a pipe.
Outcome in_child(const std::function<Outcome()>& work) {
  int fds[2];
  if (::pipe(fds) != 0) std::abort();
  std::fflush(stdout);
  const pid_t pid = ::fork();
  if (pid == 0) {
    ::close(fds[0]);
    Outcome r = work();
    if (::write(fds[1], &r, sizeof r) != static_cast<ssize_t>(sizeof r)) _exit(1);
    _exit(0);
  }
  ::close(fds[1]);
  Outcome r;
  const ssize_t n = ::read(fds[0], &r, sizeof r);
  ::close(fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  if (n != static_cast<ssize_t>(sizeof r) || !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "a case failed (status %d)\n", status);
    std::exit(1);
  }
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--points")
      o.points = std::atol(argv[i + 1]);
    else if (a == "--series")
      o.series = std::atol(argv[i + 1]);
    else if (a == "--history")
      o.history = std::atol(argv[i + 1]);
    else if (a == "--repeat")
      o.repeat = std::atoi(argv[i + 1]);
    else if (a == "--dir")
      o.dir = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  const std::string base = o.dir + "/bench-dash-" + std::to_string(getpid());
  std::printf("dash_store: %ld points in %ld series (%ld each), history %ld per series, %d repeats, spill in %s\n",
              o.points, o.series, o.points / o.series, o.history, o.repeat, o.dir.c_str());
  std::printf("rss: resident memory the case added (after minus before), median of the repeats\n\n");
  std::printf("%-34s %14s %10s %10s %11s %14s\n", "case", "median pts/s", "rss MB", "B/point", "query ms",
              "bad read-back");
  struct Case {
    const char* label;
    std::function<Outcome()> work;
  };
  const std::vector<Case> cases = {
      {"vector<MetricPoint> push_back", [&] { return run_vector(o); }},
      {"SeriesStore, history", [&] { return run_store(o, static_cast<std::size_t>(o.history), base + "-spill"); }},
      {"SeriesStore, all in memory", [&] { return run_store(o, static_cast<std::size_t>(o.points), base + "-all"); }},
      {"plot_server node (NodeHarness)", [&] { return run_node(o, base + "-run"); }},
  };
  double floor_rate = 0;
  std::vector<std::pair<const char*, double>> rates;
  for (const auto& c : cases) {
    std::vector<Outcome> runs;
    for (int r = 0; r < o.repeat; ++r) runs.push_back(in_child(c.work));
    std::sort(runs.begin(), runs.end(), [](const Outcome& a, const Outcome& b) { return a.seconds < b.seconds; });
    const Outcome& m = runs[runs.size() / 2];
    std::vector<double> grow;
    long bad = -1;
    for (const auto& r : runs) {
      grow.push_back(r.rss_after - r.rss_before);
      bad = std::max(bad, r.bad);
    }
    std::sort(grow.begin(), grow.end());
    const double mb = grow[grow.size() / 2];
    const double rate = static_cast<double>(o.points / o.series * o.series) / m.seconds;
    if (floor_rate == 0) floor_rate = rate;
    rates.emplace_back(c.label, rate);
    char query[32] = "-";
    if (m.query_ms >= 0) std::snprintf(query, sizeof query, "%.1f", m.query_ms);
    char check[32] = "-";
    if (bad >= 0) std::snprintf(check, sizeof check, "%ld", bad);
    std::printf("%-34s %14.0f %10.1f %10.1f %11s %14s\n", c.label, rate, mb, mb * 1e6 / static_cast<double>(o.points),
                query, check);
  }
  std::printf("\n(query ms: GET /api/series/train:train%%2Floss with no range, 2000 points, on the store itself)\n");
  for (std::size_t i = 1; i < rates.size(); ++i)
    std::printf("ratio %s / vector (points/s): %.2f\n", rates[i].first, rates[i].second / floor_rate);
  return 0;
}

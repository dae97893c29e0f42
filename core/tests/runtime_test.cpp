// The runtime, specified through small pipelines of test nodes.
#include <algorithm>
#include <catch2/catch.hpp>
#include <numeric>
#include <thread>

#include "test_nodes.hpp"

using namespace tributary;
using namespace tributary::testnodes;
using core::RunResult;

namespace tributary::testnodes {
Record& record() {
  static Record r;
  return r;
}
}  // namespace tributary::testnodes

namespace {
std::string chain_toml(int relays, const std::string& source_params, const std::string& extra = "") {
  std::string toml = "[pipeline]\nname = \"chain\"\nlinks = [";
  std::string prev = "src";
  for (int i = 0; i < relays; ++i) {
    toml += "\"" + prev + " -> r" + std::to_string(i) + "\", ";
    prev = "r" + std::to_string(i);
  }
  toml += "\"" + prev + " -> sink\"]\n" + extra + "\n[nodes.src]\nplugin = \"counter\"\n" + source_params + "\n";
  for (int i = 0; i < relays; ++i) toml += "[nodes.r" + std::to_string(i) + "]\nplugin = \"relay\"\n";
  toml += "[nodes.sink]\nplugin = \"collect\"\n";
  return toml;
}

const core::NodeStats& stats_of(const RunResult& r, const std::string& name) {
  return *std::find_if(r.nodes.begin(), r.nodes.end(), [&](const core::NodeStats& s) { return s.name == name; });
}

std::uint64_t emitted(const core::Runtime& runtime, const std::string& name) {
  auto all = runtime.stats();
  return std::find_if(all.begin(), all.end(), [&](const core::NodeStats& n) { return n.name == name; })->packets_out;
}

// Waits until the condition holds (or ten seconds pass, when the test then fails on what it checks).
template <typename Condition>
bool eventually(Condition condition) {
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}
}  // namespace

TEST_CASE("a chain of ten nodes delivers every packet in order and flushes each node once") {
  Harness h(chain_toml(10, "count = 20000"));
  core::Runtime runtime(h.plan, h.logging);
  RunResult r = runtime.run();
  REQUIRE(r.status == RunResult::Status::finished);
  std::vector<std::int64_t> expected(20000);
  std::iota(expected.begin(), expected.end(), 0);
  CHECK(record().received == expected);
  CHECK(record().flushes == 1);
  CHECK(record().stops == 1);
  CHECK(stats_of(r, "src").packets_out == 20000);
  CHECK(stats_of(r, "r9").packets_in == 20000);
  CHECK(stats_of(r, "sink").packets_in == 20000);
  CHECK(stats_of(r, "sink").drops == 0);
}

TEST_CASE("with the block policy a fast pull source waits for a slow consumer and nothing is lost") {
  Harness h(R"(
[pipeline]
links = [ { from = "src", to = "sink", capacity = 4 } ]
[nodes.src]
plugin = "counter"
count = 200
[nodes.sink]
plugin = "collect"
delay_us = 200
)");
  core::Runtime runtime(h.plan, h.logging);
  std::atomic<bool> done{false};
  std::int64_t max_depth = 0;
  std::thread watcher([&] {
    while (!done) {
      max_depth = std::max(max_depth, runtime.stats()[1].queue_depth);
      std::this_thread::sleep_for(std::chrono::microseconds(100));
    }
  });
  RunResult r = runtime.run();
  done = true;
  watcher.join();
  CHECK(r.status == RunResult::Status::finished);
  CHECK(record().received.size() == 200);
  CHECK(stats_of(r, "sink").drops == 0);
  CHECK(max_depth <= 5);  // the capacity, plus the one packet a source may have in hand
}

namespace {
// A live source four times faster than its consumer, through a queue of 8.
RunResult run_live_into_slow_sink(const std::string& policy) {
  Harness h(R"(
[pipeline]
links = [ { from = "src", to = "sink", capacity = 8, policy = ")" +
            policy + R"(" } ]
[nodes.src]
plugin = "counter"
count = 400
live = true
[nodes.sink]
plugin = "collect"
delay_us = 300
)");
  core::Runtime runtime(h.plan, h.logging);
  return runtime.run();
}
}  // namespace

TEST_CASE("a live source never waits: a full queue drops by policy and counts every drop") {
  SECTION("drop_newest keeps the oldest packets") {
    RunResult r = run_live_into_slow_sink("drop_newest");
    CHECK(r.status == RunResult::Status::finished);
    auto drops = stats_of(r, "sink").drops;
    CHECK(drops > 0);
    CHECK(record().received.size() + drops == 400);
    CHECK(record().received.front() == 0);
    CHECK(std::is_sorted(record().received.begin(), record().received.end()));
  }
  SECTION("drop_oldest keeps the newest packets") {
    RunResult r = run_live_into_slow_sink("drop_oldest");
    CHECK(r.status == RunResult::Status::finished);
    auto drops = stats_of(r, "sink").drops;
    CHECK(drops > 0);
    CHECK(record().received.size() + drops == 400);
    CHECK(record().received.back() == 399);
    CHECK(std::is_sorted(record().received.begin(), record().received.end()));
  }
}

TEST_CASE("a live source's own links refuse block, links further down drop by default and may be lossless") {
  std::string toml = R"(
[pipeline]
links = [ "src -> r", "r -> sink" ]
[nodes.src]
plugin = "counter"
live = true
[nodes.r]
plugin = "relay"
[nodes.sink]
plugin = "collect"
)";
  Harness h(toml);
  CHECK(h.plan.links[0].policy == core::QueuePolicy::drop_oldest);
  CHECK(h.plan.links[1].policy == core::QueuePolicy::drop_oldest);
  CHECK(h.plan.links[0].live_edge);
  CHECK_FALSE(h.plan.links[1].live_edge);
  std::string blocking = toml;
  blocking.replace(blocking.find("\"src -> r\""), 10, "{ from = \"src\", to = \"r\", policy = \"block\" }");
  CHECK_THROWS_WITH(Harness(blocking), Catch::Contains("carries live data and cannot block"));
  std::string lossless = toml;
  lossless.replace(lossless.find("\"r -> sink\""), 11, "{ from = \"r\", to = \"sink\", policy = \"block\" }");
  Harness further(lossless);
  CHECK(further.plan.links[1].policy == core::QueuePolicy::block);
}

TEST_CASE("a node that throws stops the run with its name and message while sinks flush what they got") {
  Harness h(chain_toml(3, "count = 0", ""), {"r1.fail_at=50"});
  core::Runtime runtime(h.plan, h.logging);
  RunResult r = runtime.run();
  REQUIRE(r.status == RunResult::Status::failed);
  CHECK(r.failed_node == "r1");
  CHECK(r.error == "bad packet 50");
  CHECK(record().flushes == 1);
  CHECK(record().received.size() == 50);  // 0..49, in order, nothing after the failure
  CHECK(record().received.back() == 49);
}

TEST_CASE("a parallel node processes every packet and its consumers flush only after all of them") {
  Harness h(R"(
[pipeline]
links = [ "src -> sq", "sq -> sink" ]
threads = 4
[nodes.src]
plugin = "counter"
count = 300
[nodes.sq]
plugin = "square"
[nodes.sink]
plugin = "collect"
)");
  core::Runtime runtime(h.plan, h.logging);
  RunResult r = runtime.run();
  REQUIRE(r.status == RunResult::Status::finished);
  CHECK(record().received.size() == 300);
  CHECK(record().flushes == 2);  // square once, collect once
  auto sorted = record().received;
  std::sort(sorted.begin(), sorted.end());
  CHECK(sorted.front() == 0);
  CHECK(sorted.back() == 299);
}

TEST_CASE("two sources merge into one node, which flushes after both ended") {
  Harness h(R"(
[pipeline]
links = [ "a -> r.in", "b -> r.side", "r -> sink" ]
[nodes.a]
plugin = "counter"
count = 30
[nodes.b]
plugin = "counter"
count = 70
[nodes.r]
plugin = "relay"
[nodes.sink]
plugin = "collect"
)");
  core::Runtime runtime(h.plan, h.logging);
  RunResult r = runtime.run();
  REQUIRE(r.status == RunResult::Status::finished);
  CHECK(record().received.size() == 100);
  CHECK(stats_of(r, "r").packets_in == 100);
}

TEST_CASE("a stop request ends an endless source, queues drain and sinks flush") {
  Harness h(chain_toml(2, "count = 0\nperiod_us = 100"));
  core::Runtime runtime(h.plan, h.logging);
  std::thread stopper([&] {
    eventually([&] { return emitted(runtime, "src") > 10; });
    runtime.request_stop("test says so");
  });
  RunResult r = runtime.run();
  stopper.join();
  CHECK(r.status == RunResult::Status::stopped);
  CHECK(r.stop_reason == "test says so");
  CHECK(record().flushes == 1);
  CHECK(record().received.size() == stats_of(r, "src").packets_out);  // everything emitted arrived
  CHECK(record().received.size() > 10);
}

TEST_CASE("the control bus sets settable parameters, refuses others, and pauses sources") {
  Harness h(chain_toml(1, "count = 0\nperiod_us = 200"));
  core::Runtime runtime(h.plan, h.logging);
  std::string unknown, not_settable, bad_type, accepted;
  std::size_t during_pause_before = 0, during_pause_after = 0;
  std::thread driver([&] {
    eventually([&] { return emitted(runtime, "src") > 0; });
    unknown = runtime.control({ControlVerb::set, "nope", "gain", Value(2.0)});
    not_settable = runtime.control({ControlVerb::set, "r0", "delay_us", Value(5)});
    bad_type = runtime.control({ControlVerb::set, "r0", "gain", Value("loud")});
    accepted = runtime.control({ControlVerb::set, "r0", "gain", Value(3)});
    runtime.control({ControlVerb::pause, "", "", Value()});
    // The source holds once the packet it was making when the pause came is out: its count
    // stands still for 50 ms. Then, for 100 ms more, it must not move.
    eventually([&] {
      std::uint64_t before = emitted(runtime, "src");
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
      during_pause_before = emitted(runtime, "src");
      return during_pause_before == before;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    during_pause_after = emitted(runtime, "src");
    runtime.control({ControlVerb::resume, "", "", Value()});
    eventually([&] { return emitted(runtime, "src") > during_pause_after; });
    runtime.control({ControlVerb::stop, "", "", Value()});
  });
  RunResult r = runtime.run();
  driver.join();
  CHECK(r.status == RunResult::Status::stopped);
  CHECK(unknown == "no node named 'nope'");
  CHECK(not_settable == "parameter 'delay_us' of node 'r0' (relay) cannot change while running; settable: gain");
  CHECK(bad_type == "'gain' must be a number, got a string (\"loud\")");
  CHECK(accepted.empty());
  CHECK(record().gain == 3.0);
  CHECK(during_pause_after == during_pause_before);
  CHECK(stats_of(r, "src").packets_out > during_pause_after);
}

TEST_CASE("telemetry and log lines reach subscribed nodes without links") {
  Harness h(R"(
[pipeline]
links = [ "src -> r", "r -> sink" ]
telemetry_interval_s = 0.02
[nodes.src]
plugin = "counter"
count = 0
period_us = 500
[nodes.r]
plugin = "relay"
[nodes.sink]
plugin = "collect"
buses = true
[nodes.watch]
plugin = "watch"
)",
            {}, core::LogSettings{LogLevel::warn, {{"sink", LogLevel::info}}, false});
  core::Runtime runtime(h.plan, h.logging);
  auto has = [&](const std::string& node, const std::string& name) {
    return std::any_of(record().telemetry.begin(), record().telemetry.end(),
                       [&](const MetricPoint& m) { return m.node == node && m.name == name; });
  };
  // Stopped once the sink has seen telemetry of every node.
  std::thread stopper([&] {
    eventually([&] {
      std::lock_guard<std::mutex> lock(record().mutex);
      return has("src", metric::kPacketsOut) && has("r", metric::kQueueDepth) && has("sink", metric::kBusySeconds);
    });
    runtime.request_stop("enough");
  });
  RunResult r = runtime.run();
  stopper.join();
  CHECK(r.status == RunResult::Status::stopped);
  std::lock_guard<std::mutex> lock(record().mutex);
  CHECK(has("src", metric::kPacketsOut));
  CHECK(has("r", metric::kQueueDepth));
  CHECK(has("sink", metric::kBusySeconds));
  CHECK(std::count(record().log_lines.begin(), record().log_lines.end(), "watch: saw a log line") == 0);
  CHECK(record().flushes == 2);
}

TEST_CASE("an ordered node runs its packets in parallel and they leave in stream order") {
  Harness h(R"(
[pipeline]
threads = 2
links = [ "src -> sq", "sq -> sink" ]
[nodes.src]
plugin = "counter"
count = 3000
[nodes.sq]
plugin = "square"
[nodes.sink]
plugin = "collect"
)",
            {"sq.plugin=ordered_square"});
  core::Runtime runtime(h.plan, h.logging);
  RunResult r = runtime.run();
  CHECK(r.status == RunResult::Status::finished);
  std::lock_guard<std::mutex> lock(record().mutex);
  REQUIRE(record().received.size() == 3000);
  std::size_t out_of_order = 0;
  for (std::size_t i = 1; i < record().received.size(); ++i)
    out_of_order += record().received[i] < record().received[i - 1];
  CHECK(out_of_order == 0);
}

TEST_CASE("drop_oldest frees what it drops: a slow consumer holds no more than its queue") {
  Harness h(R"(
[pipeline]
threads = 2
links = [ { from = "src", to = "sink", capacity = 4, policy = "drop_oldest" } ]
[nodes.src]
plugin = "counter"
count = 400
live = true
big = true
[nodes.sink]
plugin = "collect"
delay_us = 2000
)");
  core::Runtime runtime(h.plan, h.logging);
  RunResult r = runtime.run();
  CHECK(r.status == RunResult::Status::finished);
  std::uint64_t drops = 0;
  for (const auto& n : r.nodes) drops += n.drops;
  CHECK(drops > 0);
  // Queued (4), being processed (1), being emitted (1): the rest were freed when dropped.
  CHECK(record().max_alive.load() <= 8);
}

TEST_CASE("packets emitted from a node's own threads all arrive, none lost, none uncounted") {
  for (int repeat = 0; repeat < 5; ++repeat) {
    Harness h(R"(
[pipeline]
threads = 2
queue_capacity = 100000
links = [ "src -> sink" ]
[nodes.src]
plugin = "two_threads"
[nodes.sink]
plugin = "collect"
)");
    core::Runtime runtime(h.plan, h.logging);
    RunResult r = runtime.run();
    CHECK(r.status == RunResult::Status::finished);
    std::uint64_t drops = 0;
    for (const auto& n : r.nodes) drops += n.drops;
    std::lock_guard<std::mutex> lock(record().mutex);
    CHECK(record().received.size() + drops == 2 * TwoThreads::kEach);
    CHECK(drops == 0);
  }
}

TEST_CASE("on_control never runs while a parallel node is processing") {
  Harness h(R"(
[pipeline]
threads = 2
links = [ "src -> sq", "sq -> sink" ]
[nodes.src]
plugin = "counter"
count = 2000
[nodes.sq]
plugin = "square"
[nodes.sink]
plugin = "collect"
)");
  core::Runtime runtime(h.plan, h.logging);
  // One sent before the start reaches the node however late the thread below gets going.
  runtime.control({ControlVerb::set, "sq", "gain", Value(2.0)});
  std::atomic<bool> done{false};
  std::thread controller([&] {
    while (!done.load()) {
      runtime.control({ControlVerb::set, "sq", "gain", Value(2.0)});
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
  });
  RunResult r = runtime.run();
  done = true;
  controller.join();
  CHECK(r.status == RunResult::Status::finished);
  CHECK(record().controls_seen.load() > 0);
  CHECK(record().control_overlaps.load() == 0);
}

TEST_CASE("a node that throws something other than a std::exception fails the run, every node stops") {
  Harness h(R"(
[pipeline]
links = [ "src -> r", "r -> sink" ]
[nodes.src]
plugin = "counter"
count = 100
[nodes.r]
plugin = "relay"
fail_at = 10
throw_int = true
[nodes.sink]
plugin = "collect"
)");
  core::Runtime runtime(h.plan, h.logging);
  RunResult r = runtime.run();
  CHECK(r.status == RunResult::Status::failed);
  CHECK(r.failed_node == "r");
  CHECK(record().flushes == 1);
  CHECK(record().stops == 1);
}

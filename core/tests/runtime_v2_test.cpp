// The runtime's second version: markers, timers, own threads, lossless links behind live
// sources, control replies and per-node control, the run view, bounded stop.
#include <algorithm>
#include <catch2/catch.hpp>
#include <functional>
#include <numeric>
#include <thread>

#include "graph_export.hpp"
#include "test_nodes.hpp"

using namespace tributary;
using namespace tributary::testnodes;
using core::RunResult;

namespace {

const core::NodeStats& stats_of(const RunResult& r, const std::string& name) {
  return *std::find_if(r.nodes.begin(), r.nodes.end(), [&](const core::NodeStats& s) { return s.name == name; });
}

// Waits until the condition holds (or ten seconds pass, when the test then fails on it).
bool eventually(const std::function<bool()>& condition) {
  auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (!condition()) {
    if (std::chrono::steady_clock::now() > give_up) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
  return true;
}

std::uint64_t taken(const core::Runtime& runtime, const std::string& name) {
  auto all = runtime.stats();
  return std::find_if(all.begin(), all.end(), [&](const core::NodeStats& n) { return n.name == name; })->packets_in;
}

std::vector<std::string> events() {
  std::lock_guard<std::mutex> lock(record().mutex);
  return record().events;
}

// Checks that packets 0..epochs*every-1 all arrived (in any order within an epoch when `any_order`)
// and that each epoch's marker came after every packet of its epoch and before any of the next.
void check_epochs(const std::vector<std::string>& seen, int epochs, int every, bool any_order) {
  std::size_t i = 0;
  for (int e = 0; e < epochs; ++e) {
    std::vector<int> got;
    while (i < seen.size() && seen[i][0] == 'p') got.push_back(std::stoi(seen[i++].substr(1)));
    std::vector<int> expected(static_cast<std::size_t>(every));
    for (int k = 0; k < every; ++k) expected[static_cast<std::size_t>(k)] = e * every + k;
    if (any_order) std::sort(got.begin(), got.end());
    INFO("epoch " << e);
    CHECK(got == expected);
    REQUIRE(i < seen.size());
    CHECK(seen[i++] == "epoch_end " + std::to_string(e));
  }
  REQUIRE(i < seen.size());
  CHECK(seen[i++] == "end in");
  CHECK(i == seen.size());
}

std::string through(const std::string& middle_plugin, const std::string& extra = "") {
  return R"(
[pipeline]
threads = 4
links = [ "src -> mid", "mid -> sink" ]
[nodes.src]
plugin = "epochs"
epochs = 4
every = 250
[nodes.mid]
plugin = ")" +
         middle_plugin + "\"\n" + extra + R"(
[nodes.sink]
plugin = "collect"
events = true
)";
}

}  // namespace

TEST_CASE("epoch markers pass every node type in stream order, and each input port hears its end once") {
  SECTION("serial") {
    Harness h(through("relay"));
    RunResult r = core::Runtime(h.plan, h.logging).run();
    REQUIRE(r.status == RunResult::Status::finished);
    check_epochs(events(), 4, 250, false);
  }
  SECTION("ordered, with bodies finishing out of order") {
    Harness h(through("ordered_square"));
    REQUIRE(core::Runtime(h.plan, h.logging).run().status == RunResult::Status::finished);
    // Squares of 0..999 leave in order; compare by the sequence numbers the node keeps.
    check_epochs(events(), 4, 250, false);
  }
  SECTION("parallel: any order within an epoch, never across a marker") {
    Harness h(through("square"));
    REQUIRE(core::Runtime(h.plan, h.logging).run().status == RunResult::Status::finished);
    check_epochs(events(), 4, 250, true);
  }
  SECTION("on a thread of its own") {
    Harness h(through("own_thread"));
    REQUIRE(core::Runtime(h.plan, h.logging).run().status == RunResult::Status::finished);
    check_epochs(events(), 4, 250, false);
  }
  SECTION("behind a dropping link: markers are never dropped") {
    Harness h(R"(
[pipeline]
links = [ { from = "src", to = "sink", capacity = 2, policy = "drop_newest" } ]
[nodes.src]
plugin = "epochs"
epochs = 5
every = 200
[nodes.sink]
plugin = "collect"
events = true
delay_us = 50
)");
    RunResult r = core::Runtime(h.plan, h.logging).run();
    REQUIRE(r.status == RunResult::Status::finished);
    auto seen = events();
    std::vector<std::string> markers;
    for (const auto& e : seen) {
      if (e[0] != 'p') markers.push_back(e);
    }
    CHECK(markers == std::vector<std::string>{"epoch_end 0", "epoch_end 1", "epoch_end 2", "epoch_end 3", "epoch_end 4",
                                              "end in"});
    CHECK(stats_of(r, "sink").drops > 0);
    CHECK(stats_of(r, "sink").packets_in + stats_of(r, "sink").drops == 1000);
  }
}

TEST_CASE("a timer ticks a node with input between its packets, and a paced source runs on ticks, not in a worker") {
  // Two paced sources on a two-thread arena beside a fast branch (about 0.2 s of work): their
  // first ticks come at once, their second a minute later. Paced sources that slept in a worker
  // would hold both workers and freeze the fast branch for that minute; on ticks they leave it to
  // finish meanwhile, however slow the machine. The stop that follows ends them at once.
  Harness h(R"(
[pipeline]
threads = 2
links = [ "slow1 -> sink1", "slow2 -> sink2", "fast -> tick", "tick -> sink3" ]
[nodes.slow1]
plugin = "paced"
count = 2
period_ms = 60000
[nodes.slow2]
plugin = "paced"
count = 2
period_ms = 60000
[nodes.fast]
plugin = "counter"
count = 1000
[nodes.tick]
plugin = "ticker"
tick_ms = 5
[nodes.sink1]
plugin = "collect"
[nodes.sink2]
plugin = "collect"
[nodes.sink3]
plugin = "collect"
)");
  core::Runtime runtime(h.plan, h.logging);
  bool fast_done = false;
  std::uint64_t slow_when_fast_done = 99;
  std::thread watcher([&] {
    fast_done = eventually([&] {
      return taken(runtime, "sink3") >= 1000 && taken(runtime, "sink1") >= 1 && taken(runtime, "sink2") >= 1;
    });
    slow_when_fast_done = taken(runtime, "sink1") + taken(runtime, "sink2");
    runtime.request_stop("the fast branch is done");
  });
  RunResult r = runtime.run();
  watcher.join();
  CHECK(r.status == RunResult::Status::stopped);
  CHECK(fast_done);
  CHECK(stats_of(r, "sink1").packets_in == 1);
  CHECK(stats_of(r, "sink2").packets_in == 1);
  CHECK(stats_of(r, "sink3").packets_in == 1000);
  CHECK(slow_when_fast_done == 2);  // only the first ticks, which come at once
  CHECK(record().ticks > 0);
}

TEST_CASE("an own-thread node runs every callback on one thread, never a worker's") {
  Harness h(R"(
[pipeline]
threads = 3
links = [ "src -> own", "own -> sink" ]
[nodes.src]
plugin = "counter"
count = 3000
[nodes.own]
plugin = "own_thread"
[nodes.sink]
plugin = "collect"
)");
  RunResult r = core::Runtime(h.plan, h.logging).run();
  REQUIRE(r.status == RunResult::Status::finished);
  std::vector<std::int64_t> expected(3000);
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<std::int64_t>(i);
  CHECK(record().received == expected);
  REQUIRE(record().threads.size() == 1);
  CHECK(record().threads[0] != std::this_thread::get_id());
}

TEST_CASE("behind a live source a lossless link loses nothing: the live edge drops instead") {
  Harness h(R"(
[pipeline]
links = [ { from = "src", to = "r", capacity = 8 },
          { from = "r", to = "sink", capacity = 4, policy = "block" } ]
[nodes.src]
plugin = "counter"
live = true
count = 20000
[nodes.r]
plugin = "relay"
[nodes.sink]
plugin = "collect"
delay_us = 20
)");
  core::Runtime runtime(h.plan, h.logging);
  RunResult r = runtime.run();
  REQUIRE(r.status == RunResult::Status::finished);
  // Everything the relay passed on reached the sink; the live edge dropped the rest.
  CHECK(stats_of(r, "sink").packets_in == stats_of(r, "r").packets_out);
  CHECK(stats_of(r, "sink").drops == 0);
  CHECK(stats_of(r, "r").drops > 0);
  CHECK(stats_of(r, "r").packets_in + stats_of(r, "r").drops == 20000);
  auto received = record().received;
  CHECK(std::is_sorted(received.begin(), received.end()));
}

TEST_CASE("control messages get ids and replies, on the control bus and to the sender") {
  Harness h(R"(
[pipeline]
links = [ "src -> r0", "r0 -> sink" ]
[nodes.src]
plugin = "counter"
count = 0
period_us = 100
[nodes.r0]
plugin = "relay"
[nodes.sink]
plugin = "collect"
[nodes.watch]
plugin = "control_watch"
)");
  core::Runtime runtime(h.plan, h.logging);
  std::mutex mutex;
  std::vector<ControlReply> replies;
  auto keep = [&](const ControlReply& reply) {
    std::lock_guard<std::mutex> lock(mutex);
    replies.push_back(reply);
  };
  auto count = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    return replies.size();
  };
  std::thread driver([&] {
    eventually([&] { return taken(runtime, "sink") > 10; });
    runtime.control({ControlVerb::set, "nope", "gain", Value(2.0)}, keep);
    runtime.control({ControlVerb::set, "r0", "gain", Value(3)}, keep);
    eventually([&] { return count() >= 2; });
    runtime.control({ControlVerb::checkpoint, "", "", Value()}, keep);
    runtime.control({ControlVerb::checkpoint, "sink", "", Value()}, keep);
    eventually([&] { return count() >= 4; });
    runtime.control({ControlVerb::stop, "", "", Value()}, keep);
  });
  RunResult r = runtime.run();
  driver.join();
  REQUIRE(r.status == RunResult::Status::stopped);
  std::sort(replies.begin(), replies.end(), [](const ControlReply& a, const ControlReply& b) { return a.id < b.id; });
  // The checkpoint for every node is answered by those that handle it (r0), not by the others.
  REQUIRE(replies.size() == 5);
  CHECK(replies[0].id == 1);
  CHECK(replies[0].node == "tributary");
  CHECK_FALSE(replies[0].accepted);
  CHECK(replies[0].text == "no node named 'nope'");
  CHECK(replies[1].id == 2);
  CHECK(replies[1].node == "r0");
  CHECK(replies[1].accepted);
  CHECK(replies[1].step > 0);  // the packets r0 had taken when it took effect
  CHECK(replies[2].id == 3);
  CHECK(replies[2].node == "r0");
  CHECK(replies[2].accepted);
  CHECK(replies[3].id == 4);
  CHECK(replies[3].node == "sink");
  CHECK_FALSE(replies[3].accepted);
  CHECK(replies[3].text == "node 'sink' (collect) does not handle 'checkpoint'");
  CHECK(replies[4].id == 5);
  CHECK(replies[4].accepted);
  auto bus = record().bus_control;
  CHECK(bus.front() == "run running");
  CHECK(bus.back() == "run stopped");
  CHECK(std::find(bus.begin(), bus.end(), "request 2 set r0") != bus.end());
  CHECK(std::find(bus.begin(), bus.end(), "reply 2 r0 accepted") != bus.end());
  CHECK(std::find(bus.begin(), bus.end(), "reply 1 tributary refused") != bus.end());
}

TEST_CASE("a sender's reply handler is let go once every node it reached answered, passed or ended") {
  Harness h(R"(
[pipeline]
links = [ "src -> r0", "r0 -> sink" ]
[nodes.src]
plugin = "counter"
count = 0
period_us = 100
[nodes.r0]
plugin = "relay"
[nodes.sink]
plugin = "collect"
events = true
)");
  core::Runtime runtime(h.plan, h.logging);
  std::mutex mutex;
  std::vector<ControlReply> replies;
  auto keep = [&](const ControlReply& reply) {
    std::lock_guard<std::mutex> lock(mutex);
    replies.push_back(reply);
  };
  auto count = [&] {
    std::lock_guard<std::mutex> lock(mutex);
    return replies.size();
  };
  constexpr std::size_t kEach = 300;
  std::size_t awaited_while_running = 1;
  std::thread driver([&] {
    eventually([&] { return taken(runtime, "sink") > 10; });
    // Answered by r0; a checkpoint for every node, answered by r0 and passed over by the rest;
    // refused by the runtime itself.
    for (std::size_t i = 0; i < kEach; ++i) {
      runtime.control({ControlVerb::set, "r0", "gain", Value(2)}, keep);
      runtime.control({ControlVerb::checkpoint, "", "", Value()}, keep);
      runtime.control({ControlVerb::set, "nope", "gain", Value(2)}, keep);
    }
    eventually([&] { return count() >= 3 * kEach; });
    eventually([&] { return runtime.awaited_replies() == 0; });
    awaited_while_running = runtime.awaited_replies();
    // A node that has ended refuses what is sent to it later, so its handler goes too.
    runtime.control({ControlVerb::stop, "r0", "", Value()}, keep);
    // r0 has ended once the sink hears of the end of its stream.
    eventually([&] {
      auto seen = events();
      return std::find(seen.begin(), seen.end(), "end in") != seen.end();
    });
    runtime.control({ControlVerb::set, "r0", "gain", Value(3)}, keep);
    eventually([&] { return count() >= 3 * kEach + 2; });
    runtime.control({ControlVerb::stop, "", "", Value()});
  });
  RunResult r = runtime.run();
  driver.join();
  REQUIRE(r.status == RunResult::Status::stopped);
  CHECK(awaited_while_running == 0);
  CHECK(runtime.awaited_replies() == 0);
  REQUIRE(replies.size() == 3 * kEach + 2);
  std::sort(replies.begin(), replies.end(), [](const ControlReply& a, const ControlReply& b) { return a.id < b.id; });
  CHECK(replies.back().node == "r0");
  CHECK_FALSE(replies.back().accepted);
  CHECK(replies.back().text == "node 'r0' has ended");
}

TEST_CASE("a node stateless for whole clips runs them at the same time, in order, and a stream one at a time") {
  SECTION("fed only clips: ordered, in parallel") {
    Harness h(R"(
[pipeline]
threads = 2
links = [ "src -> sq", "sq -> sq2", "sq2 -> sink" ]
[nodes.src]
plugin = "clips"
count = 300
[nodes.sq]
plugin = "clip_square"
meet = true
[nodes.sq2]
plugin = "clip_square"
[nodes.sink]
plugin = "collect"
)");
    // sq2 is fed clips too: sq keeps its input's kinds, so its features|example output is examples here.
    for (const char* name : {"sq", "sq2"}) {
      auto sq = std::find_if(h.plan.nodes.begin(), h.plan.nodes.end(), [&](const auto& n) { return n.name == name; });
      CHECK(sq->concurrency == Concurrency::ordered);
    }
    CHECK(h.plan.view->nodes[1].concurrency == "ordered");
    CHECK_THAT(core::to_dot(h.plan), Catch::Contains("sq\\n(clip_square, ordered)"));
    core::Runtime runtime(h.plan, h.logging);
    RunResult r = runtime.run();
    REQUIRE(r.status == RunResult::Status::finished);
    CHECK(record().max_in_process.load() >= 2);  // packet 0 waited for a second body to come in
    std::vector<std::int64_t> expected(300);
    std::iota(expected.begin(), expected.end(), 0);
    CHECK(record().received == expected);
  }
  SECTION("fed a stream, or clips and a stream: serial") {
    for (bool with_clips : {false, true}) {
      Harness h(std::string(R"(
[pipeline]
threads = 2
links = [ "src -> sq", "sq -> sink")") +
                (with_clips ? R"(, "clips -> sq" ]
[nodes.clips]
plugin = "clips"
count = 10)"
                            : " ]") +
                R"(
[nodes.src]
plugin = "counter"
count = 200
[nodes.sq]
plugin = "clip_square"
[nodes.sink]
plugin = "collect"
)");
      auto sq = std::find_if(h.plan.nodes.begin(), h.plan.nodes.end(), [](const auto& n) { return n.name == "sq"; });
      CHECK(sq->concurrency == Concurrency::serial);
      core::Runtime runtime(h.plan, h.logging);
      REQUIRE(runtime.run().status == RunResult::Status::finished);
      CHECK(record().max_in_process.load() == 1);
    }
  }
}

TEST_CASE("stop aimed at one node ends its inputs, not the run") {
  Harness h(R"(
[pipeline]
links = [ "src -> r0", "r0 -> sink", "src -> sink2" ]
[nodes.src]
plugin = "counter"
count = 3000
period_us = 100
[nodes.r0]
plugin = "relay"
[nodes.sink]
plugin = "collect"
[nodes.sink2]
plugin = "collect"
)");
  core::Runtime runtime(h.plan, h.logging);
  std::thread driver([&] {
    eventually([&] { return taken(runtime, "r0") > 100; });
    runtime.control({ControlVerb::stop, "r0", "", Value()});
  });
  RunResult r = runtime.run();
  driver.join();
  CHECK(r.status == RunResult::Status::finished);
  CHECK(stats_of(r, "sink2").packets_in == 3000);
  CHECK(stats_of(r, "r0").packets_in < 3000);
  CHECK(stats_of(r, "sink").packets_in == stats_of(r, "r0").packets_out);
  CHECK(record().flushes == 2);  // both collectors flushed once
}

TEST_CASE("pause aimed at one node holds its inputs in the runtime, it still answers control") {
  Harness h(R"(
[pipeline]
links = [ "src -> r0", "r0 -> sink" ]
[nodes.src]
plugin = "counter"
count = 2000
period_us = 50
[nodes.r0]
plugin = "relay"
[nodes.sink]
plugin = "collect"
)");
  core::Runtime runtime(h.plan, h.logging);
  std::mutex mutex;
  std::vector<ControlReply> replies;
  auto keep = [&](const ControlReply& reply) {
    std::lock_guard<std::mutex> lock(mutex);
    replies.push_back(reply);
  };
  auto answered = [&](std::size_t n) {
    return eventually([&] {
      std::lock_guard<std::mutex> lock(mutex);
      return replies.size() >= n;
    });
  };
  std::uint64_t held_at = 0, still_at = 0;
  std::thread driver([&] {
    eventually([&] { return taken(runtime, "r0") > 0; });
    runtime.control({ControlVerb::pause, "r0", "", Value()}, keep);
    // The paused node takes control messages: its own queue is not blocked by its inputs. The
    // packet it may have been processing when the pause came can answer the first; the second,
    // sent after that answer, is answered in a turn of its own, once that packet is counted.
    runtime.control({ControlVerb::set, "r0", "gain", Value(4)}, keep);
    answered(2);
    runtime.control({ControlVerb::set, "r0", "gain", Value(5)}, keep);
    answered(3);
    held_at = taken(runtime, "r0");
    std::this_thread::sleep_for(std::chrono::milliseconds(30));  // the source goes on meanwhile
    still_at = taken(runtime, "r0");
    runtime.control({ControlVerb::resume, "r0", "", Value()}, keep);
  });
  RunResult r = runtime.run();
  driver.join();
  REQUIRE(r.status == RunResult::Status::finished);
  CHECK(still_at == held_at);
  CHECK(record().gain == 5.0);
  std::vector<std::int64_t> expected(2000);
  for (std::size_t i = 0; i < expected.size(); ++i) expected[i] = static_cast<std::int64_t>(i);
  CHECK(record().received == expected);
  REQUIRE(replies.size() == 4);
  CHECK(replies[0].accepted);
  CHECK(replies[0].text == "its inputs are held");
}

TEST_CASE("a live source blocked in produce() does not hold the stop past its bound") {
  Harness h(R"(
[pipeline]
links = [ "src -> sink" ]
[nodes.src]
plugin = "stuck"
[nodes.sink]
plugin = "collect"
)");
  core::Runtime runtime(h.plan, h.logging);
  std::thread driver([&] {
    // Stop once the source blocks: asked for earlier, the source would end between its calls.
    eventually([&] { return taken(runtime, "sink") >= 1 && record().stuck_blocked.load(); });
    runtime.request_stop("test");
  });
  RunResult r = runtime.run();
  driver.join();
  CHECK(r.status == RunResult::Status::stopped);
  CHECK(record().received == std::vector<std::int64_t>{0});
  CHECK(record().flushes == 1);
  CHECK(stats_of(r, "src").drops == 1);  // the packet it emitted once stop() released it
}

TEST_CASE("a stop requested once every source has ended by itself leaves the run finished") {
  Harness h(R"(
[pipeline]
links = [ "src -> sink" ]
[nodes.src]
plugin = "counter"
count = 5
[nodes.sink]
plugin = "collect"
linger = true
)");
  core::Runtime runtime(h.plan, h.logging);
  std::thread driver([&] {
    eventually([&] { return record().lingering.load(); });
    runtime.request_stop("Ctrl-C while the dashboard stays up");
  });
  RunResult r = runtime.run();
  driver.join();
  CHECK(r.status == RunResult::Status::finished);
  CHECK(record().received.size() == 5);
}

TEST_CASE("a stop requested before the run starts ends a paced source at its first tick") {
  Harness h(R"(
[pipeline]
links = [ "src -> sink" ]
[nodes.src]
plugin = "paced"
count = 1000
period_ms = 5
[nodes.sink]
plugin = "collect"
)");
  core::Runtime runtime(h.plan, h.logging);
  runtime.request_stop("before the start");  // as a signal that arrives while plugins load
  RunResult r = runtime.run();
  CHECK(r.status == RunResult::Status::stopped);
  CHECK(record().flushes == 1);
}

TEST_CASE("nodes see the run as declared through their context") {
  Harness h(R"(
[pipeline]
name = "viewed"
links = [ { from = "src", to = "sink", capacity = 7 } ]
[nodes.src]
plugin = "counter"
count = 5
[nodes.sink]
plugin = "collect"
[nodes.watch]
plugin = "control_watch"
)");
  REQUIRE(core::Runtime(h.plan, h.logging).run().status == RunResult::Status::finished);
  const RunView& v = record().view;
  CHECK(v.name == "viewed");
  CHECK(v.id == "test");
  REQUIRE(v.nodes.size() == 3);
  auto src = std::find_if(v.nodes.begin(), v.nodes.end(), [](const RunView::NodeView& n) { return n.name == "src"; });
  REQUIRE(src != v.nodes.end());
  CHECK(src->type == "counter");
  CHECK(src->source);
  CHECK(src->outputs == std::vector<std::string>{"out"});
  CHECK(src->line > 0);
  REQUIRE(v.links.size() == 1);
  CHECK(v.links[0].from == "src");
  CHECK(v.links[0].to == "sink");
  CHECK(v.links[0].to_port == "in");
  CHECK(v.links[0].policy == "block");
  CHECK(v.links[0].capacity == 7);
  CHECK(v.threads > 0);
  CHECK(v.start_time > 0);
}

TEST_CASE("a node that is not a source emits from its own thread through its own turn, none lost") {
  Harness h(R"(
[pipeline]
threads = 2
links = [ "src -> poster", "poster -> sink" ]
[nodes.src]
plugin = "counter"
count = 2000
[nodes.poster]
plugin = "poster"
[nodes.sink]
plugin = "collect"
)");
  RunResult r = core::Runtime(h.plan, h.logging).run();
  REQUIRE(r.status == RunResult::Status::finished);
  auto received = record().received;
  CHECK(received.size() == 3000);
  std::vector<std::int64_t> own;
  std::vector<std::int64_t> passed;
  for (auto v : received) (v >= 1000000 ? own : passed).push_back(v);
  CHECK(own.size() == 1000);
  CHECK(std::is_sorted(own.begin(), own.end()));  // in the order the thread emitted them
  CHECK(passed.size() == 2000);
  CHECK(std::is_sorted(passed.begin(), passed.end()));
  CHECK(stats_of(r, "poster").drops == 0);
}

TEST_CASE("a node that marks end_of_stream itself fails the run saying that the runtime sends it") {
  Harness h(R"(
[pipeline]
links = [ "src -> sink" ]
[nodes.src]
plugin = "epochs"
end_marker = true
[nodes.sink]
plugin = "collect"
)");
  RunResult r = core::Runtime(h.plan, h.logging).run();
  REQUIRE(r.status == RunResult::Status::failed);
  CHECK(r.failed_node == "src");
  CHECK_THAT(r.error, Catch::Contains("end_of_stream markers come from the runtime"));
  CHECK(record().flushes == 1);  // the sink still flushes what it got
}

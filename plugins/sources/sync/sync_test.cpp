#include "sync/sync.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <thread>

#include "gst/gst.hpp"
#include "tributary/testing.hpp"

using namespace tributary;
using tributary::sources::Sync;

namespace {

PacketPtr at(std::int64_t ms, PayloadKind kind, float value, const std::string& stream) {
  auto p = make_packet(kind);
  p->stream = stream;
  p->timestamp_ns = ms * 1'000'000;
  p->tensors.push_back(Tensor::from_vector(std::vector<float>{value}));
  return p;
}

double dropped(const NodeHarness& h) {
  double n = 0;
  for (const auto& m : h.metrics()) {
    if (m.name == "sync/dropped") n = m.value;
  }
  return n;
}

}  // namespace

TEST_CASE("sync emits packets of its inputs that lie within tolerance_ms as one, tensors in input order") {
  auto h = NodeHarness::of<Sync>({{"tolerance_ms", 20.0}});
  h.start();
  h.push("in0", at(0, PayloadKind::audio, 1, "mic"));
  h.push("in0", at(100, PayloadKind::audio, 2, "mic"));
  CHECK(h.output().empty());  // nothing from in1 yet
  h.push("in1", at(10, PayloadKind::video, 10, "screen"));
  h.push("in1", at(95, PayloadKind::video, 20, "screen"));
  h.flush();
  const auto& out = h.output();
  REQUIRE(out.size() == 2);
  CHECK(out[0]->kind == PayloadKind::features);
  REQUIRE(out[0]->tensors.size() == 2);
  CHECK(out[0]->tensors[0].at(0) == 1);   // in0 first
  CHECK(out[0]->tensors[1].at(0) == 10);  // then in1
  CHECK(out[0]->timestamp_ns == 0);
  CHECK(out[1]->timestamp_ns == 95'000'000);
  CHECK(out[1]->attribute("streams")->as_list()[1].as_string() == "screen");
  CHECK(out[1]->attribute("timestamps_ns")->as_list()[0].as_int() == 100'000'000);
  CHECK(dropped(h) == 0);
}

TEST_CASE("sync drops, and counts, packets that can no longer match, and keeps a bounded backlog") {
  auto h = NodeHarness::of<Sync>({{"tolerance_ms", 10.0}, {"inputs", 3}, {"backlog", 2}});
  h.start();
  h.push("in0", at(0, PayloadKind::audio, 1, "a"));
  h.push("in0", at(50, PayloadKind::audio, 2, "a"));
  h.push("in1", at(48, PayloadKind::audio, 3, "b"));
  h.push("in2", at(55, PayloadKind::audio, 4, "c"));  // in0's packet at 0 is 55 ms too old
  REQUIRE(h.output().size() == 1);
  CHECK(h.output()[0]->tensors[0].at(0) == 2);
  CHECK(h.output()[0]->tensors.size() == 3);
  CHECK(dropped(h) == 1);
  for (int i = 0; i < 5; ++i) h.push("in0", at(100 + i, PayloadKind::audio, 0, "a"));  // in1, in2 silent
  CHECK(dropped(h) == 4);                                                              // three beyond a backlog of 2
  CHECK_THROWS_WITH(NodeHarness::of<Sync>({}).push("in2", at(0, PayloadKind::audio, 0, "x")),
                    Catch::Contains("set inputs = 3"));
}

TEST_CASE("sync lines up two live GStreamer pipelines started apart: their timestamps share one clock") {
  auto tone = NodeHarness::of<tributary::sources::Gst>(
      {{"launch", "audiotestsrc is-live=true samplesperbuffer=1600 ! audioconvert"},
       {"caps", "audio/x-raw,format=F32LE,rate=16000,channels=1"},
       {"live", true}});
  auto frames =
      NodeHarness::of<tributary::sources::Gst>({{"launch", "videotestsrc is-live=true ! videoconvert ! videoscale"},
                                                {"caps", "video/x-raw,format=GRAY8,width=16,height=12,framerate=10/1"},
                                                {"live", true}});
  tone.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // the second pipeline starts later
  frames.start();
  // 1.2 s from the second pipeline's first frame, however long a loaded machine takes to start it.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (frames.output_so_far().empty() && std::chrono::steady_clock::now() < give_up) {
    REQUIRE(tone.produce());
    REQUIRE(frames.produce());
  }
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(1200);
  while (std::chrono::steady_clock::now() < until) {
    REQUIRE(tone.produce());
    REQUIRE(frames.produce());
  }
  tone.flush();
  frames.flush();
  tone.stop();
  frames.stop();

  auto h = NodeHarness::of<Sync>({{"tolerance_ms", 50.0}});
  h.start();
  // In arrival order, as the runtime would deliver them.
  std::vector<std::pair<const char*, PacketPtr>> arrivals;
  for (const auto& p : tone.output()) arrivals.emplace_back("in0", p);
  for (const auto& p : frames.output()) arrivals.emplace_back("in1", p);
  std::stable_sort(arrivals.begin(), arrivals.end(),
                   [](const auto& a, const auto& b) { return a.second->timestamp_ns < b.second->timestamp_ns; });
  for (const auto& [port, p] : arrivals) h.push(port, p);
  h.flush();
  const auto& pairs = h.output();
  CHECK(pairs.size() >= 8);  // 10 a second each, for about a second together
  for (const auto& p : pairs) {
    const auto& times = p->attribute("timestamps_ns")->as_list();
    CHECK(std::abs(times[0].as_int() - times[1].as_int()) <= 50'000'000);
    CHECK(p->tensors[0].rank() == 2);  // audio [samples, channels]
    CHECK(p->tensors[1].rank() == 3);  // a frame [height, width, channels]
  }
}

// Live sources whose stream goes away mid-run, with real GStreamer pipelines and a real X server
// killed and started again: without `reconnect` the run fails with what happened (never the
// process ending), with it the source waits with backoff, counts the reconnects and comes back.
#include <catch2/catch.hpp>
#include <chrono>
#include <filesystem>
#include <functional>

#include "gst/gst.hpp"
#include "screen/screen.hpp"
#include "testing/real_parts.hpp"
#include "tributary/testing.hpp"

using namespace tributary;
using namespace tributary::sources::testing;
using tributary::sources::Gst;
using tributary::sources::Screen;

namespace {

double last_metric(const NodeHarness& h, const std::string& name) {
  double value = 0.0;
  for (const auto& m : h.metrics()) {
    if (m.name == name) value = m.value;
  }
  return value;
}

bool logged(const NodeHarness& h, const std::string& text) {
  for (const auto& r : h.logs()) {
    if (r.message.find(text) != std::string::npos) return true;
  }
  return false;
}

// Calls `step` until `done`, for at most `seconds` (a slow machine waits, a fast one does not).
bool within(double seconds, const std::function<void()>& step, const std::function<bool()>& done) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) {
    step();
    if (done()) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("gst: a live pipeline that ends or fails starts again with reconnect = true") {
  SECTION("reconnect needs a live pipeline") {
    CHECK_THROWS_WITH(NodeHarness::of<Gst>({{"launch", "audiotestsrc num-buffers=2"}, {"reconnect", true}}),
                      Catch::Contains("'reconnect' applies to live pipelines"));
  }
  SECTION("each end of the stream is a reconnect, and the packets go on across them") {
    auto h = NodeHarness::of<Gst>({{"launch", "audiotestsrc is-live=true num-buffers=3 samplesperbuffer=800 ! "
                                              "audioconvert ! audioresample"},
                                   {"caps", "audio/x-raw,format=F32LE,rate=16000,channels=1"},
                                   {"live", true},
                                   {"reconnect", true}});
    h.start();
    CHECK(within(20.0, [&] { REQUIRE(h.produce()); },
                 [&] { return last_metric(h, "capture/reconnects") >= 2 && h.output_so_far("out").size() >= 7; }));
    CHECK(logged(h, "the pipeline failed: the stream ended; reconnecting"));
    CHECK(logged(h, "the stream is back after 1 reconnect"));
    h.flush();
    h.stop();
    const auto packets = h.output("out");
    for (std::size_t i = 1; i < packets.size(); ++i) CHECK(packets[i]->sequence == packets[i - 1]->sequence + 1);
  }
  SECTION("a pipeline that cannot start is retried until it can") {
    ScratchDir dir;
    const std::string wav = dir.file("late.wav");
    auto h = NodeHarness::of<Gst>(
        {{"launch", "filesrc location=" + wav + " ! wavparse ! audioconvert ! audioresample"},
         {"caps", "audio/x-raw,format=F32LE,rate=16000,channels=1"},
         {"live", true},
         {"reconnect", true}});
    h.start();
    CHECK(within(10.0, [&] { REQUIRE(h.produce()); }, [&] { return last_metric(h, "capture/reconnects") >= 2; }));
    CHECK(h.output_so_far("out").empty());
    // Whole, or not at all: made beside it, then renamed.
    std::filesystem::rename(spoken_wav(dir, "yes", "making.wav"), wav);
    CHECK(within(20.0, [&] { REQUIRE(h.produce()); }, [&] { return !h.output_so_far("out").empty(); }));
    CHECK(logged(h, "the stream is back"));
    h.flush();
    h.stop();
  }
}

TEST_CASE("screen: an X server that goes away fails the capture cleanly, or with reconnect = true is waited for") {
  // A display far above the ones Xvfb picks for the other tests (the lowest free one), so none of
  // them takes it while this test has its server down.
  std::string display;
  for (int n = 400 + static_cast<int>(::getpid() % 500); display.empty(); ++n) {
    if (!std::filesystem::exists("/tmp/.X" + std::to_string(n) + "-lock") &&
        !std::filesystem::exists("/tmp/.X11-unix/X" + std::to_string(n)))
      display = ":" + std::to_string(n);
  }
  XServer server(160, 120, display);
  SECTION("without reconnect the capture fails saying what happened") {
    auto h = NodeHarness::of<Screen>({{"display", display}, {"fps", 20.0}});
    h.start();
    CHECK(within(20.0, [&] { REQUIRE(h.produce()); }, [&] { return h.output_so_far("out").size() >= 3; }));
    server.stop();
    std::string error = "(no error)";
    try {
      within(20.0, [&] { h.produce(); }, [] { return false; });
    } catch (const std::exception& e) {
      error = e.what();
    }
    CHECK_THAT(error, Catch::Contains("the X server of display " + display + " went away") &&
                          Catch::Contains("reconnect = true"));
    h.stop();
  }
  SECTION("with reconnect the capture comes back when the server does") {
    auto h = NodeHarness::of<Screen>({{"display", display}, {"fps", 20.0}, {"reconnect", true}});
    h.start();
    CHECK(within(20.0, [&] { REQUIRE(h.produce()); }, [&] { return h.output_so_far("out").size() >= 3; }));
    server.stop();
    CHECK(within(20.0, [&] { REQUIRE(h.produce()); }, [&] { return last_metric(h, "capture/reconnects") >= 2; }));
    const std::size_t before = h.output_so_far("out").size();
    XServer again(160, 120, display);
    CHECK(within(30.0, [&] { REQUIRE(h.produce()); },
                 [&] { return logged(h, "the display is back") && h.output_so_far("out").size() >= before + 3; }));
    h.flush();
    h.stop();
  }
}

#include "gst/gst.hpp"

#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <regex>
#include <thread>

#include "testing/real_parts.hpp"
#include "tributary/testing.hpp"

using namespace tributary;
using namespace tributary::sources::testing;
using tributary::sources::Gst;

namespace {

std::vector<PacketPtr> run_all(const std::vector<TableEntry>& params) { return run_to_end<Gst>(params); }

std::string error_of(const std::vector<TableEntry>& params) { return sources::testing::error_of<Gst>(params); }

}  // namespace

TEST_CASE("gst maps raw audio from any launch line to [samples, channels] tensors, one packet per buffer") {
  const auto packets = run_all({{"launch",
                                 "audiotestsrc wave=sine freq=500 num-buffers=5 samplesperbuffer=1600 ! "
                                 "audioconvert ! audioresample"},
                                {"caps", "audio/x-raw,format=F32LE,rate=16000,channels=2"}});
  REQUIRE(packets.size() == 5);
  for (std::size_t i = 0; i < packets.size(); ++i) {
    const Packet& p = *packets[i];
    CHECK(p.kind == PayloadKind::audio);
    CHECK(p.sequence == i);
    CHECK(p.tensors[0].dtype() == DType::f32);
    CHECK(p.tensors[0].shape() == Shape{1600, 2});
    CHECK(p.attribute("sample_rate")->as_int() == 16000);
    CHECK(p.attribute("channels")->as_int() == 2);
    CHECK(p.timestamp_ns == static_cast<std::int64_t>(i) * 100'000'000);
  }
  // 500 Hz: 100 zero crossings per 100 ms.
  const Tensor& t = packets[2]->tensors[0];
  int crossings = 0;
  for (std::int64_t i = 1; i < 1600; ++i) crossings += (t.at(2 * (i - 1)) < 0) != (t.at(2 * i) < 0);
  CHECK(std::abs(crossings - 100) <= 2);
}

TEST_CASE("gst keeps a stream's sample type and cuts audio into chunk_ms chunks when asked") {
  const auto packets = run_all({{"launch", "audiotestsrc num-buffers=3 samplesperbuffer=1000 ! audioconvert"},
                                {"caps", "audio/x-raw,format=S16LE,rate=8000,channels=1"},
                                {"chunk_ms", 100}});
  REQUIRE(packets.size() == 4);  // 3000 samples: 800 + 800 + 800 + 600
  CHECK(packets[0]->tensors[0].dtype() == DType::i16);
  CHECK(packets[0]->tensors[0].shape() == Shape{800, 1});
  CHECK(packets[3]->tensors[0].shape() == Shape{600, 1});
  CHECK(packets[1]->timestamp_ns == 100'000'000);
}

TEST_CASE("gst maps raw video to u8 [height, width, channels] frames, packing rows GStreamer pads") {
  const auto packets = run_all({{"launch", "videotestsrc pattern=red num-buffers=3 ! videoconvert ! videoscale"},
                                {"caps", "video/x-raw,format=RGB,width=10,height=6,framerate=5/1"}});
  REQUIRE(packets.size() == 3);
  const Packet& p = *packets[1];
  CHECK(p.kind == PayloadKind::video);
  CHECK(p.tensors[0].shape() == Shape{6, 10, 3});
  CHECK(p.attribute("width")->as_int() == 10);
  CHECK(p.attribute("height")->as_int() == 6);
  CHECK(p.attribute("format")->as_string() == "RGB");
  CHECK(p.attribute("fps")->as_number() == 5.0);
  CHECK(p.timestamp_ns == 200'000'000);
  for (std::int64_t px = 0; px < 60; ++px) {
    REQUIRE(p.tensors[0].at(px * 3) == 255);
    REQUIRE(p.tensors[0].at(px * 3 + 1) == 0);
    REQUIRE(p.tensors[0].at(px * 3 + 2) == 0);
  }
  const auto gray = run_all({{"launch", "videotestsrc pattern=white num-buffers=1 ! videoconvert"},
                             {"caps", "video/x-raw,format=GRAY8,width=16,height=4"}});
  REQUIRE(gray.size() == 1);
  CHECK(gray[0]->tensors[0].shape() == Shape{4, 16, 1});
  CHECK(gray[0]->tensors[0].at(17) == 235);  // white in video range
}

TEST_CASE("gst hands on other buffers as byte blobs with their caps") {
  const auto packets =
      run_all({{"launch", "audiotestsrc num-buffers=2 ! audio/x-raw,rate=8000,channels=1 ! audioconvert ! wavenc"}});
  REQUIRE(!packets.empty());
  CHECK(packets[0]->kind == PayloadKind::blob);
  CHECK(packets[0]->tensors[0].dtype() == DType::u8);
  CHECK_THAT(packets[0]->attribute("caps")->as_string(), Catch::StartsWith("audio/x-wav"));
}

TEST_CASE("gst refuses a launch line that does not parse, with GStreamer's message, before the run") {
  try {
    NodeHarness::of<Gst>({{"launch", "audiotestsrc ! ! audioconvert"}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "launch");
    CHECK_THAT(e.what(), Catch::Contains("does not parse"));
  }
  try {
    NodeHarness::of<Gst>({{"launch", "audiotestsrc"}, {"caps", "audio/x-raw,rate=(int)abc"}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "caps");
  }
}

TEST_CASE("gst names a missing element and the Debian package that ships it") {
  try {
    NodeHarness::of<Gst>({{"launch", "srtsrc uri=srt://127.0.0.1:7001 ! decodebin"}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "launch");
    CHECK_THAT(e.what(), Catch::Contains("'srtsrc' is not installed") && Catch::Contains("gstreamer1.0-plugins-bad"));
  }
  CHECK_THROWS_WITH(NodeHarness::of<Gst>({{"launch", "no_such_thing ! audioconvert"}}),
                    Catch::Contains("'no_such_thing' is not installed"));
  CHECK_THROWS_WITH(NodeHarness::of<Gst>({{"launch", "audiotestsrc ! fakesink"}}),
                    Catch::Contains("leave the sink out"));
}

TEST_CASE("gst says which formats disagree when the caps cannot be met") {
  CHECK_THAT(error_of({{"launch", "audiotestsrc num-buffers=2"}, {"caps", "video/x-raw"}}),
             Catch::Contains("do not agree on a format") && Catch::Contains("caps = \"video/x-raw\""));
}

TEST_CASE("gst runs a live pipeline from GStreamer's threads and stops within 200 ms") {
  auto h = NodeHarness::of<Gst>({{"launch", "audiotestsrc is-live=true samplesperbuffer=160 ! audioconvert"},
                                 {"caps", "audio/x-raw,format=F32LE,rate=16000,channels=1"},
                                 {"live", true}});
  REQUIRE(h.node().source_mode(SourceMode::pull) == SourceMode::live);
  h.start();
  // Half a second from the first buffer, however long a loaded machine takes to get it going.
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (h.output_so_far("out").empty() && std::chrono::steady_clock::now() < give_up) REQUIRE(h.produce());
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
  while (std::chrono::steady_clock::now() < until) REQUIRE(h.produce());
  const auto t0 = std::chrono::steady_clock::now();
  h.flush();
  h.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(200));
  const auto& packets = h.output("out");
  CHECK(packets.size() >= 30);  // 100 buffers a second
  for (std::size_t i = 1; i < packets.size(); ++i) CHECK(packets[i]->timestamp_ns > packets[i - 1]->timestamp_ns);
  CHECK(std::abs(packets.back()->timestamp_ns - monotonic_ns()) < 1'000'000'000);  // capture time, monotonic
}

TEST_CASE("gst reports a stream that dies with GStreamer's error, and ends with a stream that ends") {
  ScratchDir dir;
  const std::string gst = require_program("gst-launch-1.0", "gstreamer1.0-tools");
  // A TCP server streaming raw audio; the node reads it, then the server goes away mid-stream.
  // The server binds a free port and says which (-v prints current-port once it listens).
  Child server({gst, "-v", "audiotestsrc", "is-live=true", "!", "audio/x-raw,format=S16LE,rate=8000,channels=1", "!",
                "tcpserversink", "host=127.0.0.1", "port=0"},
               {}, dir.file("server.log"));
  std::string port;
  const auto listening = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (port.empty() && server.running() && std::chrono::steady_clock::now() < listening) {
    std::smatch m;
    const std::string log = read_text(dir.file("server.log"));
    if (std::regex_search(log, m, std::regex("current-port = ([1-9][0-9]*)"))) port = m[1];
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  INFO(read_text(dir.file("server.log")));
  REQUIRE(!port.empty());
  auto h = NodeHarness::of<Gst>(
      {{"launch", "tcpclientsrc host=127.0.0.1 port=" + port +
                      " ! rawaudioparse format=pcm pcm-format=s16le sample-rate=8000 num-channels=1 ! audioconvert"},
       {"caps", "audio/x-raw,format=F32LE"}});
  h.start();
  for (int i = 0; i < 5; ++i) REQUIRE(h.produce());
  server.end();
  // A closed connection is the end of the stream: it flows through the graph as end of stream.
  const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  bool ended = false;
  while (!ended && std::chrono::steady_clock::now() < until) ended = !h.produce();
  CHECK(ended);
  h.flush();
  h.stop();
  CHECK(h.output("out").size() >= 5);

  // Nobody listening any more: GStreamer's error names the element and what failed.
  CHECK_THAT(error_of({{"launch", "tcpclientsrc host=127.0.0.1 port=" + port}}),
             Catch::Contains("tcpclientsrc") && Catch::Contains("Could not open resource") ||
                 Catch::Contains("tcpclientsrc") && Catch::Contains("connect"));
}

TEST_CASE("gst reports raw media with no tensor layout from a live pipeline on the node's thread") {
  auto h = NodeHarness::of<Gst>({{"launch", "audiotestsrc is-live=true ! audioconvert"},
                                 {"caps", "audio/x-raw,format=S16LE,layout=non-interleaved,channels=2"},
                                 {"live", true}});
  h.start();
  std::string error = "(no error)";
  try {
    for (int i = 0; i < 20; ++i) h.produce();
  } catch (const std::exception& e) {
    error = e.what();
  }
  h.stop();
  CHECK_THAT(error, Catch::Contains("has no tensor layout") && Catch::Contains("layout=interleaved"));
}

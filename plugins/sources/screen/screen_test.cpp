#include "screen/screen.hpp"

#include <catch2/catch.hpp>
#include <chrono>

#include "testing/real_parts.hpp"
#include "tributary/testing.hpp"

using namespace tributary;
using namespace tributary::sources::testing;
using tributary::sources::Screen;

namespace {

// Captures for `seconds` from the first frame, however long a loaded machine takes to get the
// capture going (at most 30 s); returns the frames.
std::vector<PacketPtr> capture(NodeHarness& h, double seconds) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (h.output_so_far("out").empty() && std::chrono::steady_clock::now() < give_up) REQUIRE(h.produce());
  const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
  while (std::chrono::steady_clock::now() < until) REQUIRE(h.produce());
  h.flush();
  return h.output("out");
}

// Pixel (x, y), channel c of a [height, width, channels] frame.
double pixel(const Tensor& frame, std::int64_t x, std::int64_t y, std::int64_t c) {
  return frame.at((y * frame.dim(1) + x) * frame.dim(2) + c);
}

// 16 x 16 tiles: the left half set (foreground), the right half clear (background).
const std::vector<std::string> kHalves(16, "1111111100000000");

}  // namespace

TEST_CASE("screen captures a real X screen: a known picture drawn on Xvfb is found in the frames") {
  XServer x(160, 120);
  x.draw_tiles(kHalves, "#ff0000", "#0000ff");
  auto h = NodeHarness::of<Screen>({{"display", x.display()}, {"fps", 20.0}});
  REQUIRE(h.node().source_mode(SourceMode::pull) == SourceMode::live);
  h.start();
  const auto frames = capture(h, 0.6);
  h.stop();
  REQUIRE(frames.size() >= 5);
  const Packet& p = *frames.back();
  CHECK(p.kind == PayloadKind::video);
  const Tensor& frame = p.tensors[0];
  REQUIRE(frame.shape() == Shape{120, 160, 3});
  CHECK(p.attribute("width")->as_int() == 160);
  CHECK(p.attribute("height")->as_int() == 120);
  CHECK(p.attribute("format")->as_string() == "rgb");
  for (std::int64_t y : {0, 37, 119}) {
    for (std::int64_t xx : {0, 3, 16, 99}) {  // left halves of the tiles: red
      CHECK(pixel(frame, xx, y, 0) == 255);
      CHECK(pixel(frame, xx, y, 2) == 0);
    }
    for (std::int64_t xx : {8, 12, 31, 159}) {  // right halves: blue
      CHECK(pixel(frame, xx, y, 0) == 0);
      CHECK(pixel(frame, xx, y, 2) == 255);
    }
  }
  for (std::size_t i = 1; i < frames.size(); ++i) CHECK(frames[i]->timestamp_ns > frames[i - 1]->timestamp_ns);
}

TEST_CASE("screen captures a region, scales it and converts it to gray") {
  XServer x(160, 120);
  x.draw_tiles(kHalves, "#ffffff", "#000000");
  SECTION("a region of 40 x 20 from (8, 10) starts in a black half-tile") {
    auto h = NodeHarness::of<Screen>(
        {{"display", x.display()}, {"x", 8}, {"y", 10}, {"width", 40}, {"height", 20}, {"fps", 20.0}});
    h.start();
    const auto frames = capture(h, 0.4);
    h.stop();
    REQUIRE(!frames.empty());
    const Tensor& frame = frames.back()->tensors[0];
    REQUIRE(frame.shape() == Shape{20, 40, 3});
    CHECK(pixel(frame, 0, 0, 0) == 0);    // screen x 8: background
    CHECK(pixel(frame, 8, 0, 0) == 255);  // screen x 16: foreground
    CHECK(pixel(frame, 39, 19, 1) == 0);  // screen x 47: background
  }
  SECTION("the whole screen scaled to 80 x 60 gray") {
    auto h = NodeHarness::of<Screen>(
        {{"display", x.display()}, {"out_width", 80}, {"out_height", 60}, {"format", "gray"}, {"fps", 20.0}});
    h.start();
    const auto frames = capture(h, 0.4);
    h.stop();
    REQUIRE(!frames.empty());
    const Tensor& frame = frames.back()->tensors[0];
    REQUIRE(frame.shape() == Shape{60, 80, 1});
    CHECK(frames.back()->attribute("format")->as_string() == "gray");
    CHECK(pixel(frame, 1, 30, 0) > 200);  // screen x 2: white
    CHECK(pixel(frame, 6, 30, 0) < 40);   // screen x 12: black
  }
}

TEST_CASE("screen stops within 200 ms of a stop request") {
  XServer x(64, 48);
  auto h = NodeHarness::of<Screen>({{"display", x.display()}, {"fps", 30.0}});
  h.start();
  for (int i = 0; i < 3; ++i) REQUIRE(h.produce());
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(h.produce());
  h.flush();
  h.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(200));
}

TEST_CASE("screen names a display it cannot open and says how to check or make one") {
  auto h = NodeHarness::of<Screen>({{"display", ":987"}});
  CHECK_THROWS_WITH(h.start(), Catch::Contains("cannot open the X display ':987'") && Catch::Contains("Xvfb :987"));
  CHECK_THROWS_WITH(NodeHarness::of<Screen>({{"out_width", 10}}), Catch::Contains("set both"));
}

#include "frame_stats/frame_stats.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <map>

#include "tributary/testing.hpp"

using namespace tributary;
using tributary::features::FrameStats;

namespace {

PacketPtr frame(std::vector<std::uint8_t> pixels, Shape shape, const char* format, std::uint64_t sequence = 0) {
  auto p = make_packet(PayloadKind::video);
  p->stream = "screen";
  p->sequence = sequence;
  p->timestamp_ns = 1'000'000 + static_cast<std::int64_t>(sequence);
  p->tensors.push_back(Tensor::from_vector(std::move(pixels), std::move(shape)));
  if (format != nullptr) p->set_attribute("format", format);
  return p;
}

std::map<std::string, double> points_of(const Packet& p) {
  std::map<std::string, double> out;
  for (const auto& m : p.metrics) out[m.name] = m.value;
  return out;
}

std::vector<std::string> names_of(const Packet& p) {
  std::vector<std::string> out;
  for (const auto& m : p.metrics) out.push_back(m.name);
  return out;
}

}  // namespace

TEST_CASE("frame_stats gives each channel's mean, std, min and max, with the frame's sequence and time") {
  auto h = NodeHarness::of<FrameStats>();
  h.start();
  // 2 x 2 RGB: red 10, 20, 30, 40; green all 100; blue 0, 0, 255, 255.
  h.push("in", frame({10, 100, 0, 20, 100, 0, 30, 100, 255, 40, 100, 255}, {2, 2, 3}, "rgb", 7));
  REQUIRE(h.output().size() == 1);
  const Packet& out = *h.output()[0];
  CHECK(out.kind == PayloadKind::metrics);
  CHECK(out.timestamp_ns == 1'000'007);
  CHECK(out.sequence == 7);
  CHECK(out.stream == "screen");
  for (const auto& m : out.metrics) {
    CHECK(m.step == 7);
    CHECK(m.epoch == -1);
    CHECK(m.node == "frame_stats");  // the harness names the node after its type
  }
  CHECK(names_of(out) == std::vector<std::string>{"r/mean", "r/std", "r/min", "r/max", "g/mean", "g/std", "g/min",
                                                  "g/max", "b/mean", "b/std", "b/min", "b/max"});
  auto v = points_of(out);
  CHECK(v["r/mean"] == Approx(25.0));
  CHECK(v["r/std"] == Approx(std::sqrt(125.0)));  // population std of 10, 20, 30, 40
  CHECK(v["r/min"] == 10.0);
  CHECK(v["r/max"] == 40.0);
  CHECK(v["g/mean"] == 100.0);
  CHECK(v["g/std"] == 0.0);
  CHECK(v["b/mean"] == Approx(127.5));
  CHECK(v["b/std"] == Approx(127.5));
  CHECK(v["b/min"] == 0.0);
  CHECK(v["b/max"] == 255.0);
}

TEST_CASE("frame_stats measures motion as the mean absolute difference from the previous frame") {
  auto h = NodeHarness::of<FrameStats>({{"stats", std::vector<Value>{"motion", "mean"}}});
  h.start();
  h.push("in", frame({0, 0, 0, 0}, {2, 2, 1}, "gray", 0));
  h.push("in", frame({0, 0, 0, 0}, {2, 2, 1}, "gray", 1));
  h.push("in", frame({100, 0, 0, 60}, {2, 2, 1}, "gray", 2));
  h.push("in", frame({0, 0, 0, 60}, {2, 2, 1}, "gray", 3));
  h.push("in", frame({0, 0, 0, 0, 0, 0}, {3, 2, 1}, "gray", 4));  // another size: nothing to compare with
  REQUIRE(h.output().size() == 5);
  CHECK(names_of(*h.output()[0]) == std::vector<std::string>{"gray/mean"});  // the first frame has no motion
  CHECK(names_of(*h.output()[1]) == std::vector<std::string>{"gray/mean", "motion"});
  CHECK(points_of(*h.output()[1])["motion"] == 0.0);
  CHECK(points_of(*h.output()[2])["motion"] == Approx(40.0));
  CHECK(points_of(*h.output()[2])["gray/mean"] == Approx(40.0));
  CHECK(points_of(*h.output()[3])["motion"] == Approx(25.0));
  CHECK(names_of(*h.output()[4]) == std::vector<std::string>{"gray/mean"});
}

TEST_CASE("frame_stats names channels after the format and leaves padding out") {
  auto h = NodeHarness::of<FrameStats>({{"stats", std::vector<Value>{"max", "motion"}}});
  h.start();
  // One BGRx pixel pair: b 1, g 2, r 3, padding 200 that must count nowhere.
  h.push("in", frame({1, 2, 3, 200, 1, 2, 3, 200}, {1, 2, 4}, "BGRx", 0));
  h.push("in", frame({1, 2, 3, 0, 1, 2, 9, 0}, {1, 2, 4}, "BGRx", 1));
  REQUIRE(h.output().size() == 2);
  CHECK(names_of(*h.output()[0]) == std::vector<std::string>{"b/max", "g/max", "r/max"});
  auto v = points_of(*h.output()[1]);
  CHECK(v["r/max"] == 9.0);
  CHECK(v["motion"] == Approx(1.0));  // (0 + 0 + 0 + 0 + 0 + 6) / 6 colour values

  auto unnamed = NodeHarness::of<FrameStats>({{"stats", std::vector<Value>{"min"}}});
  unnamed.start();
  unnamed.push("in", frame({5, 6}, {1, 1, 2}, nullptr));
  CHECK(names_of(*unnamed.output()[0]) == std::vector<std::string>{"c0/min", "c1/min"});
  unnamed.push("in", frame({5, 6, 7}, {1, 1, 3}, nullptr));  // no format on 3 channels: RGB, as captured
  CHECK(names_of(*unnamed.output()[1]) == std::vector<std::string>{"r/min", "g/min", "b/min"});
}

TEST_CASE("frame_stats refuses what is not a u8 frame, naming the node and the packet") {
  auto h = NodeHarness::of<FrameStats>();
  h.start();
  auto floats = make_packet(PayloadKind::video);
  floats->stream = "cam";
  floats->sequence = 3;
  floats->tensors.push_back(Tensor::zeros(DType::f32, {4, 4, 3}));
  CHECK_THROWS_WITH(h.push("in", floats), Catch::Contains("expected a video frame [height, width, channels] u8") &&
                                              Catch::Contains("found f32 [4, 4, 3]") &&
                                              Catch::Contains("packet 3 of 'cam'"));
  CHECK_THROWS_WITH(h.push("in", frame({1, 2, 3, 4}, {4}, "gray")), Catch::Contains("found u8 [4]"));
  CHECK_THROWS_WITH(h.push("in", make_packet(PayloadKind::video)), Catch::Contains("found no tensors"));
}

TEST_CASE("frame_stats refuses an empty or repeated list of statistics") {
  for (const auto& stats : {std::vector<Value>{}, std::vector<Value>{"mean", "mean"}}) {
    try {
      NodeHarness::of<FrameStats>({{"stats", stats}});
      FAIL("no error");
    } catch (const ParamError& e) {
      CHECK(e.param() == "stats");
    }
  }
  CHECK_THROWS_WITH(NodeHarness::of<FrameStats>({{"stats", std::vector<Value>{"median"}}}), Catch::Contains("median"));
}

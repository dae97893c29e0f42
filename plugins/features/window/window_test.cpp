#include "window/window.hpp"

#include <catch2/catch.hpp>

#include "tributary/testing.hpp"

using namespace tributary;
using tributary::features::FrameWindow;

namespace {

// Frame t of the test signal has bins t * 10 + b.
PacketPtr frames(PayloadKind kind, std::int64_t first, std::int64_t count, std::int64_t bins = 3) {
  auto p = make_packet(kind);
  std::vector<float> v;
  for (std::int64_t t = first; t < first + count; ++t) {
    for (std::int64_t b = 0; b < bins; ++b) v.push_back(static_cast<float>(t * 10 + b));
  }
  p->tensors.push_back(Tensor::from_vector(std::move(v), {count, bins}));
  p->stream = "mic";
  p->timestamp_ns = first * 10'000'000;  // 10 ms frames
  p->set_attribute("frame_rate", 100.0);
  p->label = 4;
  p->split = Split::train;
  return p;
}

float first_value(const PacketPtr& p) { return p->tensors.at(0).data<float>()[0]; }

}  // namespace

TEST_CASE("window joins a stream's packets into windows of `frames` every `hop`, timestamped at their first frame") {
  auto h = NodeHarness::of<FrameWindow>({{"frames", 5}, {"hop", 2}});
  h.start();
  std::int64_t at = 0;
  for (std::int64_t n : {1, 3, 4, 2, 7}) {
    h.push("in", frames(PayloadKind::features, at, n));
    at += n;
  }
  h.flush();
  // 17 frames: windows start at 0, 2, ..., 12.
  REQUIRE(h.output().size() == 7);
  for (std::size_t w = 0; w < 7; ++w) {
    const auto& p = h.output()[w];
    CHECK(p->kind == PayloadKind::features);
    CHECK(p->tensors[0].shape() == Shape{5, 3});
    CHECK(first_value(p) == static_cast<float>(w * 2 * 10));
    CHECK(p->tensors[0].data<float>()[14] == static_cast<float>((w * 2 + 4) * 10 + 2));
    CHECK(p->timestamp_ns == static_cast<std::int64_t>(w * 2) * 10'000'000);
    CHECK(p->attribute("first_frame")->as_int() == static_cast<std::int64_t>(w * 2));
    CHECK(p->sequence == w);
    CHECK(p->label == 4);
  }
}

TEST_CASE("window cuts a whole clip into examples of its own, with pad_end for the rest") {
  auto h = NodeHarness::of<FrameWindow>({{"frames", 4}, {"pad_end", true}});
  h.start();
  h.push("in", frames(PayloadKind::example, 0, 10));
  REQUIRE(h.output().size() == 3);
  CHECK(h.output()[2]->kind == PayloadKind::example);
  CHECK(first_value(h.output()[2]) == 80.0f);
  const float* last = h.output()[2]->tensors[0].data<float>();
  CHECK(last[2 * 3] == 0.0f);  // frames 10 and 11 are padding
  CHECK(last[3 * 3 + 2] == 0.0f);
  h.push("in", frames(PayloadKind::example, 0, 3));  // shorter than a window: one padded window
  CHECK(h.output().size() == 4);
}

TEST_CASE("window without pad_end drops frames that fill no window, and refuses a change of width") {
  auto h = NodeHarness::of<FrameWindow>({{"frames", 4}});
  h.start();
  h.push("in", frames(PayloadKind::example, 0, 10));
  CHECK(h.output().size() == 2);
  h.push("in", frames(PayloadKind::features, 0, 2, 3));
  CHECK_THROWS_WITH(h.push("in", frames(PayloadKind::features, 2, 2, 5)),
                    Catch::Contains("window") && Catch::Contains("3 to 5 bins"));
}

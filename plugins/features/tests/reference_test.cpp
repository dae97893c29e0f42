// The feature tests' own tools: how a reference signal becomes packets, and how outputs compare.
#include <catch2/catch.hpp>

#include "tests/reference.hpp"

namespace tributary::features::testing {

namespace {

ReferenceSignal ramp(std::size_t frames, std::size_t channels) {
  ReferenceSignal s;
  s.channels = channels;
  s.sample_rate = 16000.0;
  for (std::size_t i = 0; i < frames * channels; ++i) s.samples.push_back(static_cast<float>(i));
  return s;
}

}  // namespace

TEST_CASE("stream_packets tiles the signal with the chunk sizes in turn, timestamps at each first sample") {
  const ReferenceSignal s = ramp(100, 2);
  auto packets = stream_packets(s, {7, 30});
  std::vector<float> joined;
  std::int64_t frames_before = 0;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    const Tensor& t = packets[i]->tensors.at(0);
    INFO("packet " << i);
    REQUIRE(t.shape().size() == 2);
    CHECK(t.shape()[1] == 2);
    const std::int64_t want = std::min<std::int64_t>(i % 2 == 0 ? 7 : 30, 100 - frames_before);
    CHECK(t.shape()[0] == want);
    CHECK(packets[i]->sequence == i);
    CHECK(packets[i]->timestamp_ns == frames_before * 1'000'000'000 / 16000);
    auto v = values_of(t);
    joined.insert(joined.end(), v.begin(), v.end());
    frames_before += t.shape()[0];
  }
  CHECK(frames_before == 100);
  CHECK(joined == s.samples);
  auto clip = clip_packet(s);
  CHECK(clip->tensors.at(0).shape() == Shape{100, 2});
  CHECK(values_of(clip->tensors.at(0)) == s.samples);
}

TEST_CASE("compare gives the largest difference, where it is, and relative to the reference's peak") {
  auto d = compare({1.0f, 2.5f, -4.0f}, {1.0f, 2.0f, -4.0f});
  CHECK(d.absolute == Approx(0.5));
  CHECK(d.index == 1);
  CHECK(d.relative == Approx(0.5 / 4.0));
  // An all-zero reference: the absolute difference is all there is to say.
  auto zero = compare({0.25f, 0.0f}, {0.0f, 0.0f});
  CHECK(zero.relative == Approx(0.25));
}

TEST_CASE("compare takes each value's allowance off its difference, never below zero") {
  auto d = compare({1.0f, 2.5f, -3.0f}, {1.0f, 2.0f, -4.0f}, {0.0f, 0.5f, 0.75f});
  CHECK(d.absolute == Approx(0.25));
  CHECK(d.index == 2);
  // More allowance than difference counts as a match, not as a negative difference.
  auto within = compare({1.0f, 2.25f}, {1.0f, 2.0f}, {1.0f, 1.0f});
  CHECK(within.absolute == 0.0);
}

}  // namespace tributary::features::testing

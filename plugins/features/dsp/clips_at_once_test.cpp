// Fed only whole clips, stft, mel, mfcc and spectral run ordered: the runtime calls process() for
// several clips at once. Each clip must come out exactly as it does one at a time. Built under
// ThreadSanitizer too (scripts/test.sh), where a shared buffer would show as a race.
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <map>
#include <thread>
#include <vector>

#include "mel/mel.hpp"
#include "mfcc/mfcc.hpp"
#include "spectral/spectral.hpp"
#include "stft/stft.hpp"
#include "tributary/testing.hpp"

using namespace tributary;
using namespace tributary::features;

namespace {

// A second of a tone whose pitch and noise depend on the clip's number.
PacketPtr clip(std::uint64_t number) {
  constexpr int kRate = 16000;
  std::vector<float> samples(kRate);
  std::uint64_t state = 0x9e3779b97f4a7c15ull * (number + 1);
  for (int i = 0; i < kRate; ++i) {
    state ^= state << 13;
    state ^= state >> 7;
    state ^= state << 17;
    const double noise = static_cast<double>(state % 2001) / 1000.0 - 1.0;
    samples[static_cast<std::size_t>(i)] = static_cast<float>(
        0.5 * std::sin(2.0 * 3.14159265358979 * (200.0 + 37.0 * static_cast<double>(number)) * i / kRate) +
        0.05 * noise);
  }
  auto p = make_packet(PayloadKind::example);
  p->sequence = number;
  p->tensors.push_back(Tensor::from_vector(std::move(samples)));
  p->set_attribute("sample_rate", static_cast<double>(kRate));
  return p;
}

std::vector<float> floats(const Tensor& t) {
  const float* p = t.data<float>();
  return std::vector<float>(p, p + t.numel());
}

// The outputs by clip number: clips pushed one at a time, or from `threads` threads at once.
std::map<std::uint64_t, std::vector<float>> outputs(NodeHarness& h, const std::vector<PacketPtr>& clips, int threads) {
  h.start();
  if (threads == 1) {
    for (const auto& c : clips) h.push("in", c);
  } else {
    std::vector<std::thread> pushing;
    for (int t = 0; t < threads; ++t) {
      pushing.emplace_back([&, t] {
        for (std::size_t i = static_cast<std::size_t>(t); i < clips.size(); i += static_cast<std::size_t>(threads)) {
          h.push("in", clips[i]);
        }
      });
    }
    for (auto& t : pushing) t.join();
  }
  h.flush();
  std::map<std::uint64_t, std::vector<float>> by_clip;
  for (const auto& p : h.output()) by_clip[p->sequence] = floats(p->tensors.at(0));
  return by_clip;
}

template <typename T>
void check_clips_at_once(const std::vector<TableEntry>& params) {
  REQUIRE(NodeHarness::of<T>(params).spec().concurrency(PayloadKind::example) == Concurrency::ordered);
  std::vector<PacketPtr> clips;
  for (std::uint64_t i = 0; i < 24; ++i) clips.push_back(clip(i));
  auto one = NodeHarness::of<T>(params);
  auto many = NodeHarness::of<T>(params);
  const auto alone = outputs(one, clips, 1);
  const auto together = outputs(many, clips, 4);
  REQUIRE(alone.size() == clips.size());
  REQUIRE(together.size() == clips.size());
  for (const auto& [number, values] : alone) {
    INFO("clip " << number);
    CHECK(together.at(number) == values);
  }
}

}  // namespace

TEST_CASE("stft, mel, mfcc and spectral give each clip the same frames when clips come at once", "[concurrent]") {
  SECTION("stft") { check_clips_at_once<Stft>({{"n_fft", 512}, {"hop_length", 160}}); }
  SECTION("mel, dB with top_db") {
    check_clips_at_once<Mel>({{"n_fft", 512}, {"hop_length", 160}, {"n_mels", 40}, {"log", "db"}, {"top_db", 80.0}});
  }
  SECTION("mfcc with deltas") { check_clips_at_once<Mfcc>({{"n_mfcc", 13}, {"deltas", 2}}); }
  SECTION("mfcc, kaldi") { check_clips_at_once<Mfcc>({{"convention", "kaldi"}}); }
  SECTION("spectral with flux") {
    check_clips_at_once<Spectral>({{"features", std::vector<Value>{"centroid", "flux", "zcr", "rms"}}});
  }
  // A stream stays one packet at a time.
  CHECK(NodeHarness::of<Mel>().spec().concurrency(PayloadKind::audio) == Concurrency::serial);
}

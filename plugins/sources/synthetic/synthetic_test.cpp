#include "synthetic/synthetic.hpp"

#include <algorithm>
#include <catch2/catch.hpp>
#include <chrono>
#include <cmath>
#include <cstring>
#include <map>
#include <thread>

#include "tributary/testing.hpp"

using namespace tributary;
using tributary::sources::Synthetic;

namespace {

constexpr double kTwoPi = 6.283185307179586476925;

std::vector<PacketPtr> run(const std::vector<TableEntry>& params) {
  auto h = NodeHarness::of<Synthetic>(params);
  h.start();
  h.drain();
  h.stop();
  return h.output("out");
}

std::vector<float> samples_of(const std::vector<PacketPtr>& packets) {
  std::vector<float> all;
  for (const auto& p : packets) {
    const auto& t = p->tensors.at(0);
    all.insert(all.end(), t.data<float>(), t.data<float>() + t.numel());
  }
  return all;
}

bool bit_identical(const std::vector<PacketPtr>& a, const std::vector<PacketPtr>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const auto& x = a[i]->tensors.at(0);
    const auto& y = b[i]->tensors.at(0);
    if (x.shape() != y.shape() || std::memcmp(x.raw(), y.raw(), x.nbytes()) != 0) return false;
    if (a[i]->label != b[i]->label || a[i]->split != b[i]->split || a[i]->timestamp_ns != b[i]->timestamp_ns) {
      return false;
    }
  }
  return true;
}

std::size_t zero_crossings(const std::vector<float>& x, std::size_t begin, std::size_t end) {
  std::size_t n = 0;
  for (std::size_t i = begin + 1; i < end; ++i) n += (x[i - 1] < 0) != (x[i] < 0) ? 1 : 0;
  return n;
}

Value list(std::vector<Value> items) { return Value(std::move(items)); }

}  // namespace

TEST_CASE("synthetic: a sine is emitted as audio chunks whose phase runs on across packets") {
  const auto packets =
      run({{"signal", "sine"}, {"count", 4}, {"chunk", 160}, {"frequency", 1000.0}, {"amplitude", 0.25}});
  REQUIRE(packets.size() == 4);
  for (std::size_t i = 0; i < packets.size(); ++i) {
    const auto& p = *packets[i];
    CHECK(p.kind == PayloadKind::audio);
    CHECK(p.stream == "synthetic");
    CHECK(p.sequence == i);
    CHECK(p.timestamp_ns == static_cast<std::int64_t>(i) * 10'000'000);  // 160 samples at 16 kHz = 10 ms
    REQUIRE(p.tensors.size() == 1);
    CHECK(p.tensors[0].dtype() == DType::f32);
    CHECK(p.tensors[0].shape() == Shape{160});
    REQUIRE(p.attribute("sample_rate") != nullptr);
    CHECK(p.attribute("sample_rate")->as_int() == 16000);
    CHECK(p.attribute("channels")->as_int() == 1);
  }
  const auto x = samples_of(packets);
  for (std::size_t n = 0; n < x.size(); ++n) {
    CHECK(x[n] == Approx(0.25 * std::sin(kTwoPi * 1000.0 * static_cast<double>(n) / 16000.0)).margin(1e-5));
  }
}

TEST_CASE("synthetic: a square wave holds +amplitude for the first half of each period, -amplitude for the second") {
  const auto x = samples_of(run({{"signal", "square"}, {"count", 2}, {"chunk", 100}, {"frequency", 500.0}}));
  REQUIRE(x.size() == 200);
  // 500 Hz at 16 kHz: 32 samples per period.
  for (std::size_t n = 0; n < x.size(); ++n) CHECK(x[n] == ((n % 32) < 16 ? 0.5f : -0.5f));
}

TEST_CASE("synthetic: a chirp sweeps from frequency to sample_rate/4 over one second, then starts again") {
  const auto x = samples_of(
      run({{"signal", "chirp"}, {"count", 20}, {"chunk", 1600}, {"frequency", 200.0}, {"sample_rate", 16000}}));
  REQUIRE(x.size() == 32000);
  // Mean frequency over a window = crossings / 2 / duration; the sweep is linear from 200 Hz to 4000 Hz.
  auto mean_hz = [&](std::size_t begin) { return static_cast<double>(zero_crossings(x, begin, begin + 1600)) / 0.2; };
  CHECK(mean_hz(0) == Approx(200.0 + 3800.0 * 0.05).margin(15));
  CHECK(mean_hz(14400) == Approx(200.0 + 3800.0 * 0.95).margin(15));
  CHECK(mean_hz(16000) == Approx(mean_hz(0)).margin(15));
  // Continuous phase: no jump between neighbouring samples beyond what 4 kHz allows.
  for (std::size_t n = 1; n < x.size(); ++n)
    REQUIRE(std::abs(x[n] - x[n - 1]) <= 0.5 * kTwoPi * 4000.0 / 16000.0 + 1e-4);
}

TEST_CASE("synthetic: noise stays within the amplitude and averages to zero") {
  const auto x = samples_of(run({{"signal", "noise"}, {"count", 10}, {"amplitude", 0.3}}));
  REQUIRE(x.size() == 16000);
  double sum = 0;
  for (float v : x) {
    REQUIRE(std::abs(v) <= 0.3f);
    sum += v;
  }
  CHECK(sum / static_cast<double>(x.size()) == Approx(0.0).margin(0.01));
}

TEST_CASE("synthetic: silence is zeros, with the added noise when there is some") {
  const auto quiet = samples_of(run({{"signal", "silence"}, {"count", 3}, {"chunk", 100}}));
  REQUIRE(quiet.size() == 300);
  CHECK(std::all_of(quiet.begin(), quiet.end(), [](float v) { return v == 0.0f; }));
  const auto hiss = samples_of(run({{"signal", "silence"}, {"count", 3}, {"chunk", 100}, {"noise", 0.1}}));
  REQUIRE(hiss.size() == 300);
  CHECK(std::any_of(hiss.begin(), hiss.end(), [](float v) { return v != 0.0f; }));
}

TEST_CASE("synthetic: the same seed gives bit-identical output, another seed different output") {
  for (const char* signal : {"noise", "sine", "blobs"}) {
    INFO(signal);
    const std::vector<TableEntry> base = {{"signal", signal}, {"count", 20}, {"noise", 0.1}, {"seed", 7}};
    auto other = base;
    other.back().value = 8;
    const auto a = run(base);
    const auto b = run(base);
    const auto c = run(other);
    CHECK(bit_identical(a, b));
    CHECK_FALSE(bit_identical(a, c));
  }
}

TEST_CASE("synthetic: blobs are labelled points around separable class centres") {
  for (std::int64_t dims : {2, 64}) {
    INFO("dims " << dims);
    const auto packets = run({{"signal", "blobs"}, {"count", 6000}, {"classes", 4}, {"dims", dims}, {"seed", 3}});
    REQUIRE(packets.size() == 6000);
    const auto d = static_cast<std::size_t>(dims);
    std::map<Split, std::size_t> splits;
    std::vector<std::vector<double>> means(4, std::vector<double>(d, 0.0));
    std::vector<std::size_t> counts(4, 0);
    for (const auto& p : packets) {
      REQUIRE(p->kind == PayloadKind::example);
      REQUIRE(p->tensors.at(0).shape() == Shape{dims});
      REQUIRE(p->label.has_value());
      REQUIRE(*p->label >= 0);
      REQUIRE(*p->label < 4);
      CHECK(p->attribute("classes")->as_int() == 4);
      ++splits[p->split];
      const auto k = static_cast<std::size_t>(*p->label);
      ++counts[k];
      for (std::size_t i = 0; i < d; ++i) means[k][i] += p->tensors[0].at(static_cast<std::int64_t>(i));
    }
    for (std::size_t k = 0; k < 4; ++k) {
      CHECK(counts[k] > 1200);
      for (auto& m : means[k]) m /= static_cast<double>(counts[k]);
    }
    CHECK(splits[Split::train] / 6000.0 == Approx(0.8).margin(0.03));
    CHECK(splits[Split::val] / 6000.0 == Approx(0.1).margin(0.03));
    CHECK(splits[Split::test] / 6000.0 == Approx(0.1).margin(0.03));

    // Nearest class mean: mostly right (separable) but not always (the blobs overlap a little).
    std::size_t right = 0;
    for (const auto& p : packets) {
      std::size_t best = 0;
      double best_distance = 1e300;
      for (std::size_t k = 0; k < 4; ++k) {
        double distance = 0;
        for (std::size_t i = 0; i < d; ++i) {
          const double delta = p->tensors[0].at(static_cast<std::int64_t>(i)) - means[k][i];
          distance += delta * delta;
        }
        if (distance < best_distance) {
          best_distance = distance;
          best = k;
        }
      }
      right += best == static_cast<std::size_t>(*p->label) ? 1 : 0;
    }
    const double accuracy = static_cast<double>(right) / 6000.0;
    CHECK(accuracy > 0.85);
    CHECK(accuracy < 0.9999);
  }
}

TEST_CASE("synthetic: count = 0 is endless") {
  auto h = NodeHarness::of<Synthetic>({{"count", 0}, {"chunk", 16}});
  h.start();
  CHECK(h.drain(250) == 250);
  CHECK(h.output().size() == 250);
}

TEST_CASE("synthetic: rate_hz sets the runtime's timer, and each tick emits one packet") {
  auto h = NodeHarness::of<Synthetic>({{"count", 3}, {"chunk", 16}, {"rate_hz", 100.0}});
  CHECK(h.timer() == std::chrono::milliseconds(10));
  h.start();
  CHECK(h.tick());
  CHECK(h.output().size() == 1);
  CHECK(h.tick());
  CHECK(h.tick());
  CHECK(h.output().size() == 3);
  CHECK_FALSE(h.tick());  // count reached: the stream ends
  CHECK(h.output().size() == 3);
  auto unpaced = NodeHarness::of<Synthetic>({{"count", 3}});
  CHECK(unpaced.timer() == std::chrono::nanoseconds(0));
}

TEST_CASE("synthetic: its output kind follows the signal, so a mismatched link fails validation") {
  auto tone = NodeHarness::of<Synthetic>({});
  const OutputPort& out = *tone.spec().outputs().front();
  CHECK(tone.node().output_kinds(out) == PayloadKinds(PayloadKind::audio));
  auto blobs = NodeHarness::of<Synthetic>({{"signal", "blobs"}});
  CHECK(blobs.node().output_kinds(out) == PayloadKinds(PayloadKind::example));
}

TEST_CASE("synthetic: live mode makes the source a live one") {
  auto pulled = NodeHarness::of<Synthetic>({});
  CHECK(pulled.node().source_mode(SourceMode::pull) == SourceMode::pull);
  auto live = NodeHarness::of<Synthetic>({{"live", true}, {"rate_hz", 10.0}});
  CHECK(live.node().source_mode(SourceMode::pull) == SourceMode::live);
}

TEST_CASE("synthetic: inconsistent parameters are refused naming the parameter") {
  auto param_of = [](const std::vector<TableEntry>& params) {
    try {
      NodeHarness::of<Synthetic>(params);
    } catch (const ParamError& e) {
      return e.param();
    }
    return std::string("(accepted)");
  };
  CHECK(param_of({{"live", true}}) == "rate_hz");
  CHECK(param_of({{"frequency", 8000.0}}) == "frequency");
  CHECK(param_of({{"frequency", 0.0}}) == "frequency");
  CHECK(param_of({{"signal", "blobs"}, {"frequency", 9000.0}}) == "(accepted)");
  CHECK(param_of({{"split", list({0.5, 0.5, 0.5})}}) == "split");
  CHECK(param_of({{"split", list({0.5, 0.5})}}) == "split");
  CHECK_THAT(param_of({{"split", list({1.5, -0.5, 0.0})}}), Catch::StartsWith("split"));
  CHECK(param_of({{"split", list({1, 0, 0})}}) == "(accepted)");
  CHECK(param_of({{"classes", 1}}) == "classes");
  CHECK(param_of({{"signal", "sawtooth"}}) == "signal");
  CHECK(param_of({{"sample_rate", 0}}) == "sample_rate");
}
TEST_CASE("synthetic: sizes and paces have bounds a person would not reach by accident") {
  auto refusal = [](const std::vector<TableEntry>& params) {
    try {
      NodeHarness::of<Synthetic>(params);
    } catch (const ParamError& e) {
      return e.param() + ": " + e.what();
    }
    return std::string("(accepted)");
  };
  CHECK(refusal({{"chunk", 2000000000}}) ==
        "chunk: 'chunk' is 2000000000, out of range: it must be between 1 and 1048576");
  CHECK(refusal({{"chunk", 1 << 20}}) == "(accepted)");
  CHECK_THAT(refusal({{"rate_hz", 1e-11}}), Catch::StartsWith("rate_hz: 'rate_hz' is 1e-11, below the slowest pace"));
  CHECK(refusal({{"rate_hz", 0.001}}) == "(accepted)");
  CHECK(refusal({{"split", list({0.5, 0.5, 0.2})}}) ==
        "split: the 'split' fractions sum to 1.2; they must sum to 1, e.g. [0.8, 0.1, 0.1]");
  CHECK(refusal({{"rate_hz", 1e9}}) ==
        "rate_hz: 'rate_hz' is 1000000000, out of range: it must be between 0 and 1000000");
}

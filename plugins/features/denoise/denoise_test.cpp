#include "denoise/denoise.hpp"

#include <catch2/catch.hpp>
#include <cmath>

#include "tests/reference.hpp"
#include "tributary/testing.hpp"

using namespace tributary;
using namespace tributary::features::testing;
using tributary::features::Denoise;

namespace {
double rms(const std::vector<float>& v, std::size_t begin, std::size_t end) {
  double sum = 0.0;
  for (std::size_t i = begin; i < end; ++i) sum += static_cast<double>(v[i]) * v[i];
  return std::sqrt(sum / static_cast<double>(end - begin));
}
}  // namespace

// The reference is noisereduce's algorithm written in numpy and torch (tests/reference.py);
// measured 3e-7. A bin whose level lay within rounding of its threshold could gate differently.
TEST_CASE("denoise matches the numpy spectral-gating reference, stationary and non-stationary") {
  check_cases_against_torchaudio("denoise", 1e-5);
}

TEST_CASE("denoise removes most of the noise before the speech starts") {
  const auto& noisy = references().signals.at("noisy_speech");
  auto h = NodeHarness::of<Denoise>({{"noise_ms", 400.0}});
  h.start();
  h.push("in", clip_packet(noisy));
  const auto clean = values_of(h.output().at(0)->tensors.at(0));
  // 0.1 s to 0.4 s is noise only: at least 20 dB quieter after.
  CHECK(rms(clean, 1600, 6400) < 0.1 * rms(noisy.samples, 1600, 6400));
  // The speech stays: its level changes by less than 3 dB.
  const double before = rms(noisy.samples, 8000, noisy.samples.size());
  const double after = rms(clean, 8000, clean.size());
  CHECK(after > 0.7 * before);
}

TEST_CASE("denoise on a stream gives the clip's samples, in packets that tile time") {
  for (const auto& c : references().cases) {
    if (c.node != "denoise") continue;
    bool streamable = false;
    for (const auto& p : c.params) {
      streamable =
          streamable || p.key == "noise_ms" || p.key == "noise_path" || (p.key == "stationary" && !p.value.as_bool());
    }
    if (!streamable) continue;
    INFO("case " << c.id);
    const auto& signal = references().signals.at(c.signal);
    auto clip = harness_for("denoise", c.params);
    clip.start();
    clip.push("in", clip_packet(signal));
    const auto expected = values_of(clip.output().at(0)->tensors.at(0));

    auto h = harness_for("denoise", c.params);
    h.start();
    for (const auto& p : stream_packets(signal, {1, 37, 160, 1000, 4097, 3})) h.push("in", p);
    h.flush();
    std::vector<float> streamed;
    for (const auto& out : h.output()) {
      CHECK(out->kind == PayloadKind::audio);
      const auto at = static_cast<double>(streamed.size() / signal.channels);
      CHECK(out->timestamp_ns == std::llround(at * 1e9 / signal.sample_rate));
      const auto v = values_of(out->tensors.at(0));
      streamed.insert(streamed.end(), v.begin(), v.end());
    }
    REQUIRE(streamed.size() == expected.size());
    CHECK(compare(streamed, expected).absolute == 0.0);
  }
}

TEST_CASE("denoise refuses a noise_path that is not a WAV file, or given with noise_ms") {
  try {
    NodeHarness::of<Denoise>({{"noise_path", "/etc/hostname"}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "noise_path");
    CHECK_THAT(e.what(), Catch::Contains("not a RIFF/WAVE file"));
  }
  try {
    NodeHarness::of<Denoise>({{"noise_path", "/etc/hostname"}, {"noise_ms", 100.0}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "noise_path");
  }
}

TEST_CASE("denoise refuses an odd n_fft, a hop above n_fft / 2, and a stationary stream without noise_ms") {
  try {
    NodeHarness::of<Denoise>({{"n_fft", 1023}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "n_fft");
  }
  try {
    NodeHarness::of<Denoise>({{"n_fft", 512}, {"hop_length", 300}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "hop_length");
  }
  auto h = NodeHarness::of<Denoise>();
  h.start();
  auto p = make_packet(PayloadKind::audio);
  p->set_attribute("sample_rate", 16000);
  p->tensors.push_back(Tensor::from_vector(std::vector<float>(1600, 0.1f)));
  CHECK_THROWS_WITH(h.push("in", p), Catch::Contains("denoise") && Catch::Contains("noise_ms"));
}

#include "spectral/spectral.hpp"

#include <catch2/catch.hpp>
#include <cstdio>
#include <cstdlib>

#include "tests/reference.hpp"
#include "tributary/testing.hpp"

using namespace tributary;
using namespace tributary::features::testing;
using tributary::features::Spectral;

// Each statistic's max |ours - reference| / max |reference| over the clip (the columns differ in
// scale: Hz for centroid, bandwidth and rolloff, ratios for flatness and zcr). Rolloff is a bin
// frequency: a cumulative sum that meets the threshold within rounding may pick the next bin,
// so it is compared within one bin instead.
TEST_CASE("spectral matches torchaudio's spectral_centroid and numpy's statistics per column") {
  for (const auto& c : references().cases) {
    if (c.node != "spectral") continue;
    INFO("case " << c.id);
    auto h = harness_for("spectral", c.params);
    h.start();
    h.push("in", clip_packet(references().signals.at(c.signal)));
    REQUIRE(h.output().size() == 1);
    const Tensor& t = h.output()[0]->tensors.at(0);
    REQUIRE(to_string(t.shape()) == to_string(c.shape));
    const auto ours = values_of(t);
    std::vector<std::string> names{"centroid", "bandwidth", "rolloff", "flatness", "flux", "zcr", "rms"};
    for (const auto& p : c.params) {
      if (p.key != "features") continue;
      names.clear();
      for (const auto& v : p.value.as_list()) names.push_back(v.as_string());
    }
    const auto frames = static_cast<std::size_t>(c.shape[0]);
    const std::size_t columns = names.size();
    for (std::size_t col = 0; col < columns; ++col) {
      std::vector<float> a, b;
      for (std::size_t f = 0; f < frames; ++f) {
        a.push_back(ours[f * columns + col]);
        b.push_back(c.expected[f * columns + col]);
      }
      const auto d = compare(a, b);
      INFO("statistic " << names[col] << ": max |diff| " << d.absolute << " at frame " << d.index << " (ours "
                        << a[d.index] << ", reference " << b[d.index] << "), relative " << d.relative);
      if (std::getenv("TRIBUTARY_FEATURES_REPORT") != nullptr) {
        std::printf("%-26s %-10s max|diff|/max|ref| %.2e\n", c.id.c_str(), names[col].c_str(), d.relative);
      }
      if (names[col] == "rolloff") {
        std::int64_t n_fft = 400;
        for (const auto& p : c.params) {
          if (p.key == "n_fft") n_fft = p.value.as_int();
        }
        const double bin_hz = 8000.0 / static_cast<double>(n_fft / 2);
        CHECK(d.absolute <= bin_hz + 1e-3);
      } else {
        CHECK(d.relative <= 1e-4);
      }
    }
  }
}

TEST_CASE("spectral on a stream of chunks gives the frames of the whole signal, flux included") {
  check_stream_matches_clip("spectral");
}

TEST_CASE("spectral refuses an unknown statistic, naming features") {
  try {
    NodeHarness::of<Spectral>({{"features", std::vector<Value>{"centroid", "brightness"}}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param().rfind("features", 0) == 0);
  }
}

TEST_CASE("spectral gives 0, not NaN, for the statistics of a silent frame") {
  auto h = NodeHarness::of<Spectral>({{"n_fft", 64}, {"center", false}});
  h.start();
  auto p = make_packet(PayloadKind::example);
  p->set_attribute("sample_rate", 16000);
  p->tensors.push_back(Tensor::from_vector(std::vector<float>(64, 0.0f)));
  h.push("in", p);
  const auto v = values_of(h.output().at(0)->tensors.at(0));
  REQUIRE(v.size() == 7);
  CHECK(v[0] == 0.0f);          // centroid
  CHECK(v[1] == 0.0f);          // bandwidth
  CHECK(v[2] == 0.0f);          // rolloff
  CHECK(v[3] == Approx(1.0f));  // flatness of a flat (floored) spectrum
  CHECK(v[6] == 0.0f);          // rms
}

#include "mfcc/mfcc.hpp"

#include <catch2/catch.hpp>

#include "tests/reference.hpp"
#include "tributary/testing.hpp"

using namespace tributary;
using namespace tributary::features::testing;
using tributary::features::Mfcc;

// The goal for MFCC in f32: max |ours - torchaudio| / max |torchaudio|.
constexpr double kTolerance = 1e-4;

TEST_CASE("mfcc matches torchaudio in each convention (torchaudio, librosa, kaldi), with lifter and deltas") {
  check_cases_against_torchaudio("mfcc", kTolerance);
}

TEST_CASE("mfcc on a stream of chunks gives the frames of the whole signal, deltas included") {
  check_stream_matches_clip("mfcc");
}

TEST_CASE("mfcc conventions bring their own defaults") {
  const auto& speech = references().signals.at("speech");
  const auto shape_of = [&](std::vector<TableEntry> params) {
    auto h = NodeHarness::of<Mfcc>(params);
    h.start();
    h.push("in", clip_packet(speech));
    return h.output().at(0)->tensors.at(0).shape();
  };
  const auto n = static_cast<std::int64_t>(speech.samples.size());
  CHECK(shape_of({}) == Shape{n / 200 + 1, 40});
  CHECK(shape_of({{"convention", "librosa"}}) == Shape{n / 512 + 1, 20});
  CHECK(shape_of({{"convention", "kaldi"}}) == Shape{(n - 400) / 160 + 1, 13});
  CHECK(shape_of({{"convention", "kaldi"}, {"n_mfcc", 20}, {"deltas", 2}}) == Shape{(n - 400) / 160 + 1, 60});
}

TEST_CASE("mfcc refuses more coefficients than mel bins, an even delta window, and kaldi with power 1") {
  try {
    NodeHarness::of<Mfcc>({{"n_mels", 20}, {"n_mfcc", 30}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "n_mfcc");
  }
  try {
    NodeHarness::of<Mfcc>({{"deltas", 1}, {"delta_win_length", 4}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "delta_win_length");
  }
  try {
    NodeHarness::of<Mfcc>({{"convention", "kaldi"}, {"power", 1.0}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "power");
  }
  try {
    NodeHarness::of<Mfcc>({{"convention", "nemo"}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "convention");
  }
}

TEST_CASE("mfcc with kaldi's defaults checks win_length against n_fft once the rate is known") {
  try {
    NodeHarness::of<Mfcc>({{"convention", "kaldi"}, {"sample_rate", 16000}, {"n_fft", 256}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "win_length");
    CHECK_THAT(e.what(), Catch::Contains("400") && Catch::Contains("256"));
  }
}

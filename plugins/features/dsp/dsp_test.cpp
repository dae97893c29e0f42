// The building blocks of the spectral nodes, against their definitions.
#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <complex>
#include <random>
#include <vector>

#include "dsp/frame_cutter.hpp"
#include "dsp/mel_filterbank.hpp"
#include "dsp/real_fft.hpp"
#include "dsp/window.hpp"
#include "mfcc/deltas.hpp"

using namespace tributary::features;

namespace {
std::vector<std::vector<float>> frames_of(FrameCutter& cutter) {
  std::vector<std::vector<float>> frames;
  std::vector<float> f(cutter.length());
  while (cutter.next(f.data())) frames.push_back(f);
  return frames;
}
}  // namespace

TEST_CASE("RealFft matches a direct DFT for even and odd lengths") {
  std::mt19937 rng(3);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (std::size_t n : {8u, 400u, 512u, 401u, 15u}) {
    std::vector<float> x(n);
    for (auto& v : x) v = u(rng);
    RealFft fft(n);
    std::copy(x.begin(), x.end(), fft.input());
    fft.forward();
    const std::complex<float>* y = fft.output();
    const double pi = std::acos(-1.0);
    for (std::size_t k = 0; k < fft.bins(); ++k) {
      std::complex<double> sum = 0.0;
      for (std::size_t i = 0; i < n; ++i) sum += static_cast<double>(x[i]) * std::polar(1.0, -2.0 * pi * k * i / n);
      CHECK(std::abs(std::complex<double>(y[k]) - sum) < 1e-4 * std::sqrt(static_cast<double>(n)));
    }
  }
}

TEST_CASE("FrameCutter pads like torch.stft and gives the same frames however the signal is chunked") {
  std::vector<float> x(50);
  for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i);
  FrameCutter whole(8, 3, 4, PadMode::reflect);
  whole.push(x.data(), x.size());
  whole.finish();
  const auto expected = frames_of(whole);
  REQUIRE(expected.size() == (50 + 8 - 8) / 3 + 1);
  CHECK(expected[0] == std::vector<float>{4, 3, 2, 1, 0, 1, 2, 3});
  CHECK(expected.back() == std::vector<float>{44, 45, 46, 47, 48, 49, 48, 47});
  for (std::size_t chunk : {1u, 2u, 5u, 7u, 13u}) {
    FrameCutter cutter(8, 3, 4, PadMode::reflect);
    std::vector<std::vector<float>> got;
    for (std::size_t at = 0; at < x.size(); at += chunk) {
      cutter.push(x.data() + at, std::min(chunk, x.size() - at));
      for (auto& f : frames_of(cutter)) got.push_back(f);
    }
    cutter.finish();
    for (auto& f : frames_of(cutter)) got.push_back(f);
    CHECK(got == expected);
  }
  FrameCutter zeros(8, 3, 4, PadMode::constant);
  zeros.push(x.data(), x.size());
  zeros.finish();
  CHECK(frames_of(zeros)[0] == std::vector<float>{0, 0, 0, 0, 0, 1, 2, 3});
  FrameCutter skipping(4, 10, 0, PadMode::reflect);
  skipping.push(x.data(), x.size());
  const auto skipped = frames_of(skipping);
  REQUIRE(skipped.size() == 5);
  CHECK(skipped[4] == std::vector<float>{40, 41, 42, 43});
}

TEST_CASE("FrameCutter refuses reflect padding longer than the signal") {
  FrameCutter cutter(16, 4, 8, PadMode::reflect);
  std::vector<float> x(8, 1.0f);
  cutter.push(x.data(), x.size());
  CHECK_THROWS_AS(cutter.finish(), std::invalid_argument);
}

TEST_CASE("windows follow torch's periodic definitions and Kaldi's povey") {
  const auto hann = make_window(WindowKind::hann, 4, true);
  CHECK(hann[0] == Approx(0.0).margin(1e-12));
  CHECK(hann[1] == Approx(0.5));
  CHECK(hann[2] == Approx(1.0));
  const auto hamming = make_window(WindowKind::hamming, 4, true);
  CHECK(hamming[0] == Approx(0.08));
  const auto povey = make_window(WindowKind::povey, 5, true);
  CHECK(povey[0] == Approx(0.0).margin(1e-12));
  CHECK(povey[2] == Approx(1.0));
  CHECK(povey[1] == Approx(std::pow(0.5, 0.85)));
  CHECK_FALSE(parse_window("blackman").has_value());
}

TEST_CASE("mel scales convert both ways and the Slaney scale is linear below 1 kHz") {
  for (double hz : {0.0, 200.0, 999.0, 1000.0, 4000.0, 11025.0}) {
    CHECK(mel_to_hz(hz_to_mel(hz, MelScale::htk), MelScale::htk) == Approx(hz).margin(1e-9));
    CHECK(mel_to_hz(hz_to_mel(hz, MelScale::slaney), MelScale::slaney) == Approx(hz).margin(1e-9));
  }
  CHECK(hz_to_mel(500.0, MelScale::slaney) == Approx(7.5));
  CHECK(hz_to_mel(1000.0, MelScale::htk) == Approx(1000.0).epsilon(1e-3));
}

TEST_CASE("MelFilterbank keeps only each triangle's non-zero bins and applies them") {
  const auto fb = MelFilterbank::torchaudio(257, 16000, 0.0, 8000.0, 40, MelScale::htk, MelNorm::none);
  REQUIRE(fb.filters() == 40);
  CHECK(fb.empty_filters().empty());
  std::vector<float> ones(257, 1.0f);
  std::vector<float> out(40);
  fb.apply(ones.data(), out.data());
  for (std::size_t m = 0; m < 40; ++m) {
    double sum = 0.0;
    for (std::size_t k = 0; k < 257; ++k) sum += fb.weight(m, k);
    CHECK(out[m] == Approx(sum).epsilon(1e-5));
  }
  const auto sparse = MelFilterbank::torchaudio(201, 16000, 0.0, 8000.0, 128, MelScale::htk, MelNorm::none);
  CHECK(sparse.empty_filters().size() == 4);  // as torchaudio's own warning counts them
}

TEST_CASE("deltas over a stream of blocks equal the deltas of the whole sequence") {
  const std::size_t frames = 23;
  FrameBlock whole;
  whole.channels = 1;
  whole.frames = frames;
  whole.width = 2;
  for (std::size_t t = 0; t < frames; ++t) {
    whole.values.push_back(static_cast<float>(t * t % 7));
    whole.values.push_back(static_cast<float>(t) * 0.5f);
  }
  const auto input = whole.values;
  BlockState clip_state;
  append_deltas(whole, clip_state, 2, 5, true);
  REQUIRE(whole.frames == frames);
  REQUIRE(whole.width == 6);
  // Replicated edges: the first delta of a ramp is (1*1 + 2*2) * 0.5 / 10 per frame step.
  CHECK(whole.values[3] == Approx(0.25));
  for (std::size_t block : {1u, 2u, 3u, 6u}) {
    BlockState state;
    std::vector<float> got;
    for (std::size_t at = 0; at <= frames; at += block) {
      FrameBlock b;
      b.channels = 1;
      b.width = 2;
      b.frames = std::min(block, frames - std::min(at, frames));
      b.values.assign(input.begin() + static_cast<std::ptrdiff_t>(std::min(at, frames) * 2),
                      input.begin() + static_cast<std::ptrdiff_t>(std::min(at + b.frames, frames) * 2));
      append_deltas(b, state, 2, 5, at + block > frames);
      got.insert(got.end(), b.values.begin(), b.values.end());
      if (at + block > frames) break;
    }
    CHECK(got == whole.values);
  }
}

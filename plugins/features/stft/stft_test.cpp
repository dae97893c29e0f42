#include "stft/stft.hpp"

#include <catch2/catch.hpp>
#include <cmath>

#include "tests/reference.hpp"
#include "tributary/testing.hpp"

using namespace tributary;
using namespace tributary::features::testing;
using tributary::features::Stft;

// torchaudio computes in f32 with its own FFT, ours with KissFFT in f32: measured up to 2e-6.
constexpr double kTolerance = 1e-5;

TEST_CASE("stft matches torchaudio.transforms.Spectrogram on speech, chirp, noise, tone and stereo") {
  check_cases_against_torchaudio("stft", kTolerance);
}

TEST_CASE("stft on a stream of chunks gives the frames of the whole signal") { check_stream_matches_clip("stft"); }

TEST_CASE("stft carries stream, label, split and attributes and adds the frame layout") {
  auto h = NodeHarness::of<Stft>({{"n_fft", 64}, {"hop_length", 16}});
  h.start();
  auto in = make_packet(PayloadKind::audio);
  in->stream = "mic";
  in->timestamp_ns = 5'000'000'000;
  in->label = 2;
  in->split = Split::val;
  in->set_attribute("sample_rate", 8000);
  in->set_attribute("device", "hw:0");
  in->tensors.push_back(Tensor::from_vector(std::vector<float>(256, 0.25f)));
  h.push("in", in);
  REQUIRE(h.output().size() == 1);
  const auto& out = *h.output()[0];
  CHECK(out.kind == PayloadKind::features);
  CHECK(out.stream == "mic");
  CHECK(out.label == 2);
  CHECK(out.split == Split::val);
  CHECK(out.timestamp_ns == 5'000'000'000);
  CHECK(out.attribute("device")->as_string() == "hw:0");
  CHECK(out.attribute("sample_rate")->as_int() == 8000);
  CHECK(out.attribute("hop_length")->as_int() == 16);
  CHECK(out.attribute("frame_rate")->as_number() == Approx(500.0));
  // Frames whose window lies within what has arrived: (256 + 32 - 64) / 16 + 1.
  CHECK(out.tensors[0].shape() == Shape{15, 33});
  h.flush();
  REQUIRE(h.output().size() == 2);
  CHECK(h.output()[1]->tensors[0].shape() == Shape{2, 33});
  CHECK(h.output()[1]->timestamp_ns == 5'000'000'000 + 15 * 16 * 125'000);
}

TEST_CASE("stft warns when a stream's chunks leave a gap in time") {
  auto h = NodeHarness::of<Stft>({{"n_fft", 64}});
  h.start();
  for (std::int64_t i : {0, 1, 3}) {  // chunk 2 never came
    auto p = make_packet(PayloadKind::audio);
    p->stream = "mic";
    p->sequence = static_cast<std::uint64_t>(i);
    p->timestamp_ns = i * 100'000'000;  // 1600 samples at 16 kHz
    p->set_attribute("sample_rate", 16000);
    p->tensors.push_back(Tensor::from_vector(std::vector<float>(1600, 0.1f)));
    h.push("in", p);
  }
  std::size_t warnings = 0;
  for (const auto& record : h.logs()) {
    if (record.level == LogLevel::warn && record.message.find("gap of 100 ms before chunk 3") != std::string::npos) {
      ++warnings;
    }
  }
  CHECK(warnings == 1);
}

TEST_CASE("stft reads i16 and f64 samples as torchaudio loads them") {
  auto run = [](Tensor samples) {
    auto h = NodeHarness::of<Stft>({{"n_fft", 32}, {"center", false}});
    h.start();
    auto p = make_packet(PayloadKind::example);
    p->set_attribute("sample_rate", 16000);
    p->tensors.push_back(std::move(samples));
    h.push("in", p);
    return values_of(h.output().at(0)->tensors.at(0));
  };
  std::vector<std::int16_t> ints(64);
  std::vector<double> doubles(64);
  for (std::size_t i = 0; i < 64; ++i) {
    ints[i] = static_cast<std::int16_t>((static_cast<int>(i) * 997) % 20000 - 10000);
    doubles[i] = ints[i] / 32768.0;
  }
  CHECK(run(Tensor::from_vector(ints)) == run(Tensor::from_vector(doubles)));
}

TEST_CASE("stft refuses a window longer than n_fft, naming win_length") {
  try {
    NodeHarness::of<Stft>({{"n_fft", 256}, {"win_length", 400}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "win_length");
    CHECK_THAT(e.what(), Catch::Contains("400") && Catch::Contains("256"));
  }
}

TEST_CASE("stft refuses an unknown window and a hop of 0, naming the parameter") {
  try {
    NodeHarness::of<Stft>({{"window", "blackman"}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "window");
  }
  try {
    NodeHarness::of<Stft>({{"hop_length", 0}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "hop_length");
  }
}

TEST_CASE("stft names itself when a clip is too short for reflect padding or has no sample rate") {
  auto h = NodeHarness::of<Stft>({{"n_fft", 512}});
  h.start();
  auto p = make_packet(PayloadKind::example);
  p->set_attribute("sample_rate", 16000);
  p->tensors.push_back(Tensor::from_vector(std::vector<float>(100, 0.1f)));
  CHECK_THROWS_WITH(h.push("in", p), Catch::Contains("stft") && Catch::Contains("reflect") &&
                                         Catch::Contains("pad_mode = \"constant\""));
  auto q = make_packet(PayloadKind::example);
  q->tensors.push_back(Tensor::from_vector(std::vector<float>(1000, 0.1f)));
  CHECK_THROWS_WITH(h.push("in", q), Catch::Contains("sample_rate"));
}

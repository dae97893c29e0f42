#include "mel/mel.hpp"

#include <catch2/catch.hpp>

#include "stft/stft.hpp"
#include "tests/reference.hpp"
#include "tributary/testing.hpp"

using namespace tributary;
using namespace tributary::features::testing;
using tributary::features::Mel;
using tributary::features::Stft;

// The goal for mel and log-mel in f32: max |ours - torchaudio| / max |torchaudio|.
constexpr double kTolerance = 1e-4;

TEST_CASE("mel matches torchaudio.transforms.MelSpectrogram: both scales and norms, log, dB, top_db, power 1") {
  check_cases_against_torchaudio("mel", kTolerance);
}

TEST_CASE("mel on a stream of chunks gives the frames of the whole signal") { check_stream_matches_clip("mel"); }

TEST_CASE("mel from an stft node's spectra equals mel from the audio") {
  const auto& speech = references().signals.at("speech");
  const std::vector<TableEntry> spectrum{{"n_fft", 512}, {"hop_length", 160}};
  auto direct = NodeHarness::of<Mel>({{"n_fft", 512}, {"hop_length", 160}, {"n_mels", 40}, {"log", "natural"}});
  direct.start();
  direct.push("in", clip_packet(speech));
  auto stft = NodeHarness::of<Stft>(spectrum);
  stft.start();
  stft.push("in", clip_packet(speech));
  auto mel = NodeHarness::of<Mel>({{"n_fft", 512}, {"n_mels", 40}, {"log", "natural"}});
  mel.start();
  mel.push("spectra", stft.output().at(0));
  REQUIRE(mel.output().size() == 1);
  CHECK(mel.output()[0]->tensors[0].shape() == direct.output().at(0)->tensors[0].shape());
  CHECK(values_of(mel.output()[0]->tensors[0]) == values_of(direct.output()[0]->tensors[0]));
}

TEST_CASE("mel with a known sample_rate refuses f_max above Nyquist at configure, naming f_max") {
  try {
    NodeHarness::of<Mel>({{"sample_rate", 16000}, {"f_max", 9000.0}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "f_max");
    CHECK_THAT(e.what(), Catch::Contains("9000 Hz") && Catch::Contains("8000 Hz"));
  }
}

TEST_CASE("mel without a sample_rate refuses f_max above the packets' Nyquist at the first packet") {
  auto h = NodeHarness::of<Mel>({{"f_max", 6000.0}});
  h.start();
  auto p = make_packet(PayloadKind::example);
  p->set_attribute("sample_rate", 8000);
  p->tensors.push_back(Tensor::from_vector(std::vector<float>(4000, 0.1f)));
  CHECK_THROWS_WITH(h.push("in", p),
                    Catch::Contains("mel: f_max") && Catch::Contains("4000 Hz") && Catch::Contains("from the packet"));
}

TEST_CASE("mel refuses more filters than FFT bins, f_min above f_max, and top_db without dB") {
  try {
    NodeHarness::of<Mel>({{"sample_rate", 16000}, {"n_fft", 64}, {"n_mels", 40}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "n_mels");
    CHECK_THAT(e.what(), Catch::Contains("33 bins"));
  }
  try {
    NodeHarness::of<Mel>({{"sample_rate", 16000}, {"f_min", 5000.0}, {"f_max", 4000.0}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "f_min");
  }
  try {
    NodeHarness::of<Mel>({{"top_db", 80.0}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "top_db");
  }
}

TEST_CASE("mel warns, as torchaudio does, when its default 128 filters leave some empty at n_fft 400") {
  auto h = NodeHarness::of<Mel>({{"sample_rate", 16000}});
  bool warned = false;
  for (const auto& record : h.logs()) warned = warned || record.message.find("no FFT bin") != std::string::npos;
  CHECK(warned);
}

TEST_CASE("mel refuses a packet at another sample rate than the first") {
  auto h = NodeHarness::of<Mel>({{"n_mels", 40}});
  h.start();
  auto a = make_packet(PayloadKind::example);
  a->set_attribute("sample_rate", 16000);
  a->tensors.push_back(Tensor::from_vector(std::vector<float>(4000, 0.1f)));
  h.push("in", a);
  auto b = make_packet(PayloadKind::example);
  b->set_attribute("sample_rate", 22050);
  b->tensors.push_back(Tensor::from_vector(std::vector<float>(4000, 0.1f)));
  CHECK_THROWS_WITH(h.push("in", b), Catch::Contains("22050 Hz") && Catch::Contains("resample"));
}

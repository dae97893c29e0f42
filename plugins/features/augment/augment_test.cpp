#include "augment/augment.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "augment/wav_file.hpp"
#include "tributary/testing.hpp"

using namespace tributary;
using tributary::features::Augment;

namespace {

PacketPtr tone(Split split, std::uint64_t sequence = 0, std::size_t n = 16000) {
  auto p = make_packet(PayloadKind::example);
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i)
    v[i] = 0.5f * static_cast<float>(std::sin(2.0 * 3.14159265358979 * 440.0 * i / 16000.0));
  p->tensors.push_back(Tensor::from_vector(std::move(v)));
  p->set_attribute("sample_rate", 16000);
  p->split = split;
  p->label = 1;
  p->sequence = sequence;
  p->stream = "clips";
  return p;
}

PacketPtr mel_like(Split split, std::uint64_t sequence = 0) {
  auto p = make_packet(PayloadKind::example);
  p->tensors.push_back(Tensor::from_vector(std::vector<float>(100 * 40, 1.0f), {100, 40}));
  p->set_attribute("sample_rate", 16000);
  p->set_attribute("hop_length", 160);
  p->split = split;
  p->sequence = sequence;
  return p;
}

std::vector<float> values(const PacketPtr& p) {
  const float* v = p->tensors.at(0).data<float>();
  return {v, v + p->tensors.at(0).numel()};
}

double power(const std::vector<float>& v) {
  double s = 0.0;
  for (float x : v) s += static_cast<double>(x) * x;
  return s / static_cast<double>(v.size());
}

// A folder with one second of white noise, written by sox as 16-bit PCM.
std::string noise_folder() {
  static const std::string dir = [] {
    const auto path = std::filesystem::temp_directory_path() / "tributary-augment-noise";
    std::filesystem::create_directories(path);
    const std::string wav = (path / "white.wav").string();
    const std::string command = "sox -n -r 16000 -c 1 -b 16 " + wav + " synth 1 whitenoise vol 0.3 2>/dev/null";
    if (std::system(command.c_str()) != 0) throw std::runtime_error("sox is missing: scripts/setup.sh installs it");
    return path.string();
  }();
  return dir;
}

}  // namespace

TEST_CASE("augment reads 16-bit WAV files as torchaudio does") {
  const auto audio = features::read_wav(noise_folder() + "/white.wav");
  CHECK(audio.sample_rate == 16000);
  CHECK(audio.samples.size() == 16000);
  CHECK(power(audio.samples) > 0.001);
  CHECK_THROWS_WITH(features::read_wav("/etc/hostname"), Catch::Contains("not a RIFF/WAVE file"));
}

TEST_CASE("augment mixes background noise at an SNR within snr_db, only into train packets") {
  auto h = NodeHarness::of<Augment>({{"noise_dir", noise_folder()}, {"snr_db", std::vector<Value>{10.0, 15.0}}});
  h.start();
  for (std::uint64_t s = 0; s < 20; ++s) h.push("in", tone(Split::train, s));
  h.push("in", tone(Split::val, 99));
  REQUIRE(h.output().size() == 21);
  const auto clean = values(tone(Split::train));
  for (std::size_t i = 0; i < 20; ++i) {
    const auto mixed = values(h.output()[i]);
    std::vector<float> noise(mixed.size());
    for (std::size_t k = 0; k < mixed.size(); ++k) noise[k] = mixed[k] - clean[k];
    const double snr = 10.0 * std::log10(power(clean) / power(noise));
    CHECK(snr >= 10.0 - 1e-3);
    CHECK(snr <= 15.0 + 1e-3);
    CHECK(h.output()[i]->label == 1);
  }
  CHECK(values(h.output()[20]) == clean);  // a val packet passes unchanged
}

TEST_CASE("augment is reproducible from its seed and varies with the packet's sequence") {
  const std::vector<TableEntry> params{
      {"noise_dir", noise_folder()}, {"gain_db", std::vector<Value>{-6.0, 6.0}}, {"shift_ms", 50.0}, {"seed", 7}};
  auto a = NodeHarness::of<Augment>(params);
  auto b = NodeHarness::of<Augment>(params);
  a.start();
  b.start();
  a.push("in", tone(Split::train, 3));
  a.push("in", tone(Split::train, 4));
  b.push("in", tone(Split::train, 4));  // another order: the same result per packet
  b.push("in", tone(Split::train, 3));
  CHECK(values(a.output()[0]) == values(b.output()[1]));
  CHECK(values(a.output()[1]) == values(b.output()[0]));
  CHECK(values(a.output()[0]) != values(a.output()[1]));
}

TEST_CASE("augment shifts audio by at most shift_ms, filling with zeros") {
  auto h = NodeHarness::of<Augment>({{"shift_ms", 10.0}, {"seed", 1}});
  h.start();
  auto p = make_packet(PayloadKind::example);
  p->tensors.push_back(Tensor::from_vector(std::vector<float>(1000, 1.0f)));
  p->set_attribute("sample_rate", 16000);
  p->split = Split::train;
  for (std::uint64_t s = 0; s < 10; ++s) {
    auto q = std::make_shared<Packet>(*p);
    q->sequence = s;
    h.push("in", q);
  }
  for (const auto& out : h.output()) {
    const auto v = values(out);
    std::size_t zeros = 0;
    for (float x : v) zeros += x == 0.0f;
    CHECK(zeros <= 160);
    CHECK((v.front() == 0.0f || v.back() == 0.0f || zeros == 0));
  }
}

TEST_CASE("augment masks features as SpecAugment, within the widths asked for") {
  auto h = NodeHarness::of<Augment>(
      {{"freq_masks", 2}, {"freq_mask_width", 8}, {"time_masks", 1}, {"time_mask_width", 20}, {"seed", 3}});
  h.start();
  for (std::uint64_t s = 0; s < 10; ++s) h.push("in", mel_like(Split::train, s));
  h.push("in", mel_like(Split::test, 10));
  for (std::size_t i = 0; i < 10; ++i) {
    const auto v = values(h.output()[i]);
    std::size_t masked_bins = 0;
    for (std::size_t f = 0; f < 40; ++f) {
      bool all_zero = true;
      for (std::size_t t = 0; t < 100; ++t) all_zero = all_zero && v[t * 40 + f] == 0.0f;
      masked_bins += all_zero;
    }
    std::size_t masked_frames = 0;
    for (std::size_t t = 0; t < 100; ++t) {
      bool all_zero = true;
      for (std::size_t f = 0; f < 40; ++f) all_zero = all_zero && v[t * 40 + f] == 0.0f;
      masked_frames += all_zero;
    }
    CHECK(masked_bins <= 14);  // two masks narrower than 8 each (unless a time mask covers all)
    CHECK(masked_frames <= 19);
  }
  CHECK(values(h.output()[10]) == std::vector<float>(4000, 1.0f));  // test packets are left alone
}

TEST_CASE("augment refuses a missing noise folder, an inverted range and masks without a width") {
  try {
    NodeHarness::of<Augment>({{"noise_dir", "/no/such/folder"}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "noise_dir");
  }
  try {
    NodeHarness::of<Augment>({{"snr_db", std::vector<Value>{20.0, 5.0}}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "snr_db");
  }
  try {
    NodeHarness::of<Augment>({{"time_masks", 2}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "time_mask_width");
  }
}

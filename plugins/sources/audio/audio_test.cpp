#include "audio/audio.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <fstream>
#include <iostream>
#include <thread>

#include "testing/real_parts.hpp"
#include "tributary/testing.hpp"

using namespace tributary;
using namespace tributary::sources::testing;
using tributary::sources::Audio;

namespace {

std::vector<PacketPtr> decode_all(const std::vector<TableEntry>& params) { return run_to_end<Audio>(params); }

std::string error_of(const std::vector<TableEntry>& params) { return sources::testing::error_of<Audio>(params); }

double rms(const Tensor& t) {
  double sum = 0.0;
  for (std::int64_t i = 0; i < t.numel(); ++i) sum += t.at(i) * t.at(i);
  return t.numel() > 0 ? std::sqrt(sum / static_cast<double>(t.numel())) : 0.0;
}

// The dominant frequency of a mono signal from its rate of zero crossings.
double zero_crossing_hz(const std::vector<float>& samples, int rate) {
  std::int64_t crossings = 0;
  for (std::size_t i = 1; i < samples.size(); ++i) {
    if ((samples[i - 1] < 0.0f) != (samples[i] < 0.0f)) ++crossings;
  }
  return static_cast<double>(crossings) / 2.0 / (static_cast<double>(samples.size()) / rate);
}

// The samples of the chunks louder than silence.
std::vector<float> loud_samples(const std::vector<PacketPtr>& packets) {
  std::vector<float> heard;
  for (const auto& p : packets) {
    const Tensor& t = p->tensors[0];
    if (rms(t) > 0.1) heard.insert(heard.end(), t.data<float>(), t.data<float>() + t.numel());
  }
  return heard;
}

// Runs a live node's produce() until it has captured `chunks` chunks holding at least `loud`
// samples of the tone (or 30 s pass, and the checks after it fail), then flushes it; returns what
// it emitted. However slow the machine, the capture waits for what it checks, not for a time.
// The tests ask for 40000 loud samples: the 2.5 s the frequency estimate had when this was timed.
std::vector<PacketPtr> capture(NodeHarness& h, std::size_t chunks, std::size_t loud) {
  const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
  while (std::chrono::steady_clock::now() < give_up) {
    REQUIRE(h.produce());
    const auto packets = h.output_so_far("out");
    if (packets.size() >= chunks && loud_samples(packets).size() >= loud) break;
  }
  h.flush();
  return h.output("out");
}

}  // namespace

TEST_CASE("audio decodes a spoken WAV file into 100 ms chunks of f32 samples at 16 kHz with buffer timestamps") {
  ScratchDir dir;
  const std::string wav = spoken_wav(dir, "seven", "seven.wav");  // 22050 Hz
  const double seconds = sox_duration_s(wav);
  const auto packets = decode_all({{"path", wav}});

  REQUIRE(packets.size() == static_cast<std::size_t>(std::ceil(seconds * 10.0 - 1e-6)));
  std::int64_t samples = 0;
  double loudest = 0.0;
  for (std::size_t i = 0; i < packets.size(); ++i) {
    const Packet& p = *packets[i];
    CHECK(p.kind == PayloadKind::audio);
    CHECK(p.sequence == i);
    REQUIRE(p.tensors.size() == 1);
    const Tensor& t = p.tensors[0];
    CHECK(t.dtype() == DType::f32);
    REQUIRE(t.rank() == 2);
    CHECK(t.dim(1) == 1);
    if (i + 1 < packets.size()) CHECK(t.dim(0) == 1600);
    CHECK(p.attribute("sample_rate")->as_int() == 16000);
    CHECK(p.attribute("channels")->as_int() == 1);
    CHECK(std::abs(p.timestamp_ns - static_cast<std::int64_t>(i) * 100'000'000) < 1'000'000);
    samples += t.dim(0);
    loudest = std::max(loudest, rms(t));
  }
  CHECK(std::abs(static_cast<double>(samples) / 16000.0 - seconds) < 0.01);
  CHECK(loudest > 0.05);  // speech, not silence
}

TEST_CASE("audio resamples and mixes: a 44.1 kHz stereo FLAC file becomes 8 kHz stereo or mono chunks") {
  ScratchDir dir;
  const std::string flac = sox_convert(spoken_wav(dir, "left", "left.wav"), dir.file("left.flac"), "-r 44100 -c 2");
  const auto stereo = decode_all({{"path", flac}, {"rate", 8000}, {"channels", 2}, {"chunk_ms", 50}});
  REQUIRE(stereo.size() > 2);
  CHECK(stereo[0]->tensors[0].shape() == Shape{400, 2});
  CHECK(stereo[0]->attribute("channels")->as_int() == 2);
  CHECK(stereo[0]->attribute("sample_rate")->as_int() == 8000);
  const auto mono = decode_all({{"uri", "file://" + flac}, {"rate", 8000}, {"chunk_ms", 50}});
  REQUIRE(mono.size() == stereo.size());
  CHECK(mono[1]->tensors[0].shape() == Shape{400, 1});
}

TEST_CASE("audio without exactly one of device, path and uri is refused before the run") {
  CHECK_THROWS_WITH(NodeHarness::of<Audio>({}), Catch::Contains("set one of 'device'"));
  CHECK_THROWS_WITH(NodeHarness::of<Audio>({{"path", "a.wav"}, {"device", "default"}}), Catch::Contains("only one of"));
  CHECK_THROWS_WITH(NodeHarness::of<Audio>({{"path", "a.wav"}, {"reconnect", true}}),
                    Catch::Contains("capture devices"));
}

TEST_CASE("audio names a missing file and a directory given as a file") {
  ScratchDir dir;
  const std::string missing = dir.file("nothing-here.wav");
  const std::string error = error_of({{"path", missing}});
  CHECK_THAT(error, Catch::Contains(missing) && Catch::Contains("does not exist"));
  CHECK_THAT(error_of({{"path", dir.path().string()}}), Catch::Contains("is a directory"));
}

TEST_CASE("audio names a corrupt file and says GStreamer could not decode it") {
  ScratchDir dir;
  const std::string noise = dir.file("noise.wav");
  {
    std::ofstream out(noise, std::ios::binary);
    for (int i = 0; i < 4096; ++i) out.put(static_cast<char>((i * 7919) % 251));
  }
  CHECK_THAT(error_of({{"path", noise}}), Catch::Contains(noise) && Catch::Contains("could not be decoded"));

  // A real WAV header over data cut short: the parser refuses it or the stream ends early, never a crash.
  const std::string wav = spoken_wav(dir, "nine", "nine.wav");
  const std::string cut = dir.file("cut.wav");
  {
    std::ifstream in(wav, std::ios::binary);
    std::vector<char> head(30);
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    std::ofstream(cut, std::ios::binary).write(head.data(), static_cast<std::streamsize>(head.size()));
  }
  CHECK_THAT(error_of({{"path", cut}}), Catch::Contains(cut));
}

TEST_CASE("audio without the GStreamer element it needs names the element and its Debian package") {
  // A GStreamer that sees only the base plugins, in a process of its own (GStreamer reads its plugin
  // path once per process).
  ScratchDir dir;
  const std::string plugins = GSTREAMER_PLUGINS_DIR;
  fs::create_directories(dir.file("plugins"));
  for (const char* name : {"coreelements", "app", "audioconvert", "audioresample", "playback", "typefindfunctions"}) {
    const std::string lib = plugins + "/libgst" + name + ".so";
    REQUIRE(fs::exists(lib));
    fs::create_symlink(lib, dir.file("plugins") + "/libgst" + name + ".so");
  }
  const std::string self = fs::read_symlink("/proc/self/exe").string();
  const std::string out = shell("GST_PLUGIN_SYSTEM_PATH_1_0=" + quote(dir.file("plugins")) +
                                " GST_PLUGIN_PATH_1_0= " + "GST_REGISTRY_1_0=" + quote(dir.file("registry.bin")) + " " +
                                quote(self) + " '[.audio_without_pulsesrc]'");
  CHECK_THAT(out, Catch::Contains("the GStreamer element 'pulsesrc' is not installed") &&
                      Catch::Contains("gstreamer1.0-pulseaudio") && Catch::Contains("gst-inspect-1.0 pulsesrc"));
}

TEST_CASE("(run by the missing element test in a process with few plugins)", "[.audio_without_pulsesrc]") {
  try {
    auto h = NodeHarness::of<Audio>({{"device", "some_microphone"}});
    h.start();
    std::cout << "no error\n";
  } catch (const std::exception& e) {
    std::cout << "error: " << e.what() << "\n";
  }
}

TEST_CASE("audio captures a PulseAudio device live: a tone played into a null sink comes back from its monitor") {
  PulseServer pulse;
  auto tone = pulse.play_tone(1000.0);
  auto h = NodeHarness::of<Audio>({{"device", pulse.monitor()}, {"rate", 16000}, {"chunk_ms", 50}});
  REQUIRE(h.node().source_mode(SourceMode::pull) == SourceMode::live);
  h.start();
  const auto packets = capture(h, 20, 40000);
  h.stop();

  const std::vector<float> heard = loud_samples(packets);
  std::int64_t last_ns = -1;
  for (const auto& p : packets) {
    CHECK(p->tensors[0].dim(1) == 1);
    CHECK(p->timestamp_ns > last_ns);
    last_ns = p->timestamp_ns;
  }
  INFO(packets.size() << " chunks, " << heard.size() << " loud samples");
  REQUIRE(heard.size() >= 8000);  // half a second of the tone
  CHECK(zero_crossing_hz(heard, 16000) == Approx(1000.0).epsilon(0.03));
  CHECK(packets.size() >= 20);
  // Live timestamps are the monotonic time of capture, the clock of monotonic_ns().
  CHECK(std::abs(packets.back()->timestamp_ns - monotonic_ns()) < 2'000'000'000);
  bool latency = false;
  for (const auto& m : h.metrics()) latency = latency || (m.name == "capture/latency_ms" && m.value < 1000.0);
  CHECK(latency);
}

TEST_CASE("audio capture stops within 200 ms of a stop request") {
  PulseServer pulse;
  auto h = NodeHarness::of<Audio>({{"device", pulse.monitor()}});
  h.start();
  for (int i = 0; i < 4; ++i) REQUIRE(h.produce());
  const auto t0 = std::chrono::steady_clock::now();
  REQUIRE(h.produce());  // the runtime checks for a stop between calls
  h.flush();
  h.stop();
  CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(200));
}

TEST_CASE("audio names a capture device that does not exist and says how to list them") {
  PulseServer pulse;
  const std::string error = error_of({{"device", "no_such_microphone"}});
  CHECK_THAT(error, Catch::Contains("no_such_microphone") && Catch::Contains("pactl list short sources"));
  // An ALSA device: the machine's ALSA has no card 9.
  CHECK_THAT(error_of({{"device", "alsa:hw:9"}}), Catch::Contains("'alsa:hw:9'") && Catch::Contains("arecord -L"));
}

TEST_CASE("audio device = \"default\" captures the system's default source") {
  PulseServer pulse;  // its only source, the null sink's monitor, is the default
  auto tone = pulse.play_tone(700.0);
  auto h = NodeHarness::of<Audio>({{"device", "default"}, {"chunk_ms", 50}});
  h.start();
  const auto packets = capture(h, 0, 40000);
  h.stop();
  const std::vector<float> heard = loud_samples(packets);
  REQUIRE(heard.size() >= 8000);
  CHECK(zero_crossing_hz(heard, 16000) == Approx(700.0).epsilon(0.03));
}

TEST_CASE("audio reports a device that disappears mid-run, or reconnects to it with reconnect = true") {
  PulseServer pulse;
  const std::string module = pulse.pactl("load-module module-null-sink sink_name=doomed");
  const std::string index = module.substr(0, module.find_first_of("\r\n"));
  auto reconnects = [](const NodeHarness& h) {
    double count = 0;
    for (const auto& m : h.metrics()) {
      if (m.name == "capture/reconnects") count = m.value;
    }
    return count;
  };
  auto logged = [](const NodeHarness& h, const std::string& text) {
    for (const auto& log : h.logs()) {
      if (log.message.find(text) != std::string::npos) return true;
    }
    return false;
  };
  auto within = [](double seconds, const std::function<bool()>& done) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    while (!done()) {
      if (std::chrono::steady_clock::now() > until) return false;
    }
    return true;
  };

  SECTION("without reconnect the run fails naming the device") {
    auto h = NodeHarness::of<Audio>({{"device", "doomed.monitor"}});
    h.start();
    for (int i = 0; i < 4; ++i) REQUIRE(h.produce());
    pulse.pactl("unload-module " + index);
    std::string error = "(no error)";
    try {
      for (int i = 0; i < 40; ++i) h.produce();
    } catch (const std::exception& e) {
      error = e.what();
    }
    CHECK_THAT(error, Catch::Contains("'doomed.monitor' disappeared") && Catch::Contains("reconnect = true"));
    h.stop();
  }
  SECTION("with reconnect the source retries with backoff, counts the reconnects and comes back") {
    auto h = NodeHarness::of<Audio>({{"device", "doomed.monitor"}, {"reconnect", true}});
    h.start();
    for (int i = 0; i < 4; ++i) REQUIRE(h.produce());
    pulse.pactl("unload-module " + index);
    CHECK(within(5.0, [&] { return h.produce() && reconnects(h) >= 2; }));
    CHECK(logged(h, "capture from doomed.monitor failed"));
    pulse.pactl("load-module module-null-sink sink_name=doomed");
    CHECK(within(10.0, [&] { return h.produce() && logged(h, "the device is back"); }));
    for (int i = 0; i < 10; ++i) REQUIRE(h.produce());
    h.flush();
    h.stop();
    // Time goes on across the gap, which is counted.
    const auto& packets = h.output("out");
    for (std::size_t i = 1; i < packets.size(); ++i) CHECK(packets[i]->timestamp_ns > packets[i - 1]->timestamp_ns);
    double lost = 0;
    for (const auto& m : h.metrics()) {
      if (m.name == "capture/lost_s") lost = m.value;
    }
    CHECK(lost > 0.2);
  }
}

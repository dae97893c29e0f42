// The mel and mfcc nodes against torchaudio 0.13 (/usr/bin/python3) on the same audio, in the
// same run: seconds of 16 kHz audio turned into 40-band log-mel and 40 MFCC per wall second, on
// one thread and on all cores, and the ratio ours / torchaudio.
//
//   bench_features [--seconds 60] [--clip 1] [--repeat 5] [--python /usr/bin/python3]
//
// With --python /bin/false only ours runs (to profile it alone).
// The audio is uniform noise cut into clips of --clip seconds, each an example packet, as an
// audio data set delivers them. Features: n_fft 512, win_length 400 (25 ms), hop 160 (10 ms),
// hann, centred reflect padding, 40 htk mels; log-mel is log(mel + 1e-6), MFCC torchaudio's
// (dB, top_db 80, DCT-II ortho). Ours runs the node classes directly (no runtime): one node per
// thread, the clips split between threads. torchaudio transforms all clips as one batch, its
// fastest way, with torch.set_num_threads(1) and with its default thread count. Best of --repeat.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <random>
#include <sstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "dsp/real_fft.hpp"
#include "mel/mel.hpp"
#include "mfcc/mfcc.hpp"
#include "tributary/testing.hpp"

namespace {

using namespace tributary;
using Clock = std::chrono::steady_clock;

constexpr std::int64_t kRate = 16000;

struct Options {
  double seconds = 60.0;
  double clip = 1.0;
  int repeat = 5;
  std::string python = "/usr/bin/python3";
};

Options parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string key = argv[i];
    const std::string value = argv[i + 1];
    if (key == "--seconds") {
      o.seconds = std::stod(value);
    } else if (key == "--clip") {
      o.clip = std::stod(value);
    } else if (key == "--repeat") {
      o.repeat = std::stoi(value);
    } else if (key == "--python") {
      o.python = value;
    } else {
      throw std::invalid_argument("unknown option " + key);
    }
  }
  return o;
}

std::vector<TableEntry> params_of(const std::string& feature) {
  std::vector<TableEntry> p{{"n_fft", 512}, {"win_length", 400}, {"hop_length", 160}, {"n_mels", 40}};
  if (feature == "logmel") p.push_back({"log", "natural"});
  if (feature == "mfcc") p.push_back({"n_mfcc", 40});
  return p;
}

NodeHarness make_node(const std::string& feature) {
  if (feature == "logmel") return NodeHarness::of<features::Mel>(params_of(feature));
  return NodeHarness::of<features::Mfcc>(params_of(feature));
}

// Best wall time of turning every clip into features with `threads` nodes side by side.
double time_ours(const std::string& feature, const std::vector<PacketPtr>& clips, int threads, int repeat) {
  std::vector<NodeHarness> nodes;
  for (int t = 0; t < threads; ++t) {
    nodes.push_back(make_node(feature));
    nodes.back().start();
    nodes.back().push("in", clips.front());  // warm-up: tables built for the rate
    nodes.back().clear_output();
  }
  double best = 1e300;
  for (int r = 0; r < repeat; ++r) {
    const auto start = Clock::now();
    std::vector<std::thread> workers;
    for (int t = 0; t < threads; ++t) {
      workers.emplace_back([&, t] {
        for (std::size_t i = static_cast<std::size_t>(t); i < clips.size(); i += static_cast<std::size_t>(threads)) {
          nodes[static_cast<std::size_t>(t)].push("in", clips[i]);
        }
      });
    }
    for (auto& w : workers) w.join();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
    for (auto& n : nodes) n.clear_output();
  }
  return best;
}

// The FFT alone: best time per 512-point real transform, over `count` transforms (short runs,
// many of them: on a shared machine the best of short runs is the least disturbed).
double time_fft(std::size_t n, int count, int repeat) {
  features::RealFft fft(n);
  std::mt19937 rng(2);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  for (std::size_t i = 0; i < n; ++i) fft.input()[i] = u(rng);
  double best = 1e300;
  float sink = 0.0f;
  for (int r = 0; r < repeat; ++r) {
    const auto start = Clock::now();
    for (int i = 0; i < count; ++i) {
      fft.forward();
      sink += fft.output()[1].real();
    }
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count());
  }
  if (sink == 12345.0f) std::printf(" ");  // keeps the loop from being optimised away
  return best / count;
}

}  // namespace

int main(int argc, char** argv) {
  try {
    const Options o = parse(argc, argv);
    const auto clip_samples = static_cast<std::size_t>(o.clip * kRate);
    const auto clip_count = static_cast<std::size_t>(o.seconds / o.clip);
    const double audio_seconds = static_cast<double>(clip_count * clip_samples) / kRate;
    std::mt19937 rng(1);
    std::uniform_real_distribution<float> noise(-0.5f, 0.5f);
    std::vector<float> audio(clip_count * clip_samples);
    for (auto& v : audio) v = noise(rng);

    std::vector<PacketPtr> clips;
    for (std::size_t c = 0; c < clip_count; ++c) {
      auto p = make_packet(PayloadKind::example);
      std::vector<float> samples(audio.begin() + static_cast<std::ptrdiff_t>(c * clip_samples),
                                 audio.begin() + static_cast<std::ptrdiff_t>((c + 1) * clip_samples));
      p->tensors.push_back(Tensor::from_vector(std::move(samples)));
      p->set_attribute("sample_rate", kRate);
      clips.push_back(std::move(p));
    }

    // torchaudio first, on the same samples.
    const auto path =
        std::filesystem::temp_directory_path() / ("bench-features-" + std::to_string(::getpid()) + ".f32");
    {
      std::ofstream out(path, std::ios::binary);
      out.write(reinterpret_cast<const char*>(audio.data()),
                static_cast<std::streamsize>(audio.size() * sizeof(float)));
    }
    const std::string script = TRIBUTARY_BENCH_DIR "/features_torchaudio.py";
    const std::string command = o.python + " " + script + " " + path.string() + " " + std::to_string(clip_samples) +
                                " " + std::to_string(o.repeat) + " 2>/dev/null";
    std::map<std::pair<std::string, int>, double> theirs;
    if (FILE* pipe = popen(command.c_str(), "r")) {
      char line[256];
      while (std::fgets(line, sizeof line, pipe) != nullptr) {
        std::istringstream in(line);
        std::string who, feature;
        int threads = 0;
        double seconds = 0.0;
        if (in >> who >> feature >> threads >> seconds) theirs[{feature, threads}] = seconds;
      }
      pclose(pipe);
    }
    std::filesystem::remove(path);
    if (theirs.empty())
      std::fprintf(stderr, "bench_features: torchaudio did not run (%s): no ratios\n", command.c_str());

    std::printf("FFT (%s): %.3f us per 512-point real transform\n", TRIBUTARY_FEATURES_FFT_NAME,
                1e6 * time_fft(512, 5000, 50));
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    std::printf("%.0f s of 16 kHz noise in %zu clips of %.2f s; n_fft 512, win 400, hop 160, 40 mels; best of %d\n",
                audio_seconds, clip_count, o.clip, o.repeat);
    std::printf("%-8s %7s %12s %12s %14s %14s %8s\n", "feature", "threads", "ours s", "torchaudio s", "ours x rt",
                "torchaudio x rt", "ratio");
    for (const std::string feature : {"logmel", "mfcc"}) {
      for (int threads : {1, cores}) {
        const double ours = time_ours(feature, clips, threads, o.repeat);
        const auto it = theirs.find({feature, threads});
        const double peer = it == theirs.end() ? 0.0 : it->second;
        std::printf("%-8s %7d %12.4f %12.4f %13.0fx %13.0fx %7.2fx\n", feature.c_str(), threads, ours, peer,
                    audio_seconds / ours, peer > 0 ? audio_seconds / peer : 0.0, peer > 0 ? peer / ours : 0.0);
        if (cores == 1) break;
      }
    }
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_features: %s\n", e.what());
    return 2;
  }
}

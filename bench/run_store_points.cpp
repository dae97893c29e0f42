// Metric points per second into the run store: a RunRecorder on a fresh SQLite file, fed from
// one or more threads in packets of a few points (as nodes publish them), timed from the first
// point to the last one committed (finish() returns once everything is in the database).
//
//   bench_run_store_points [--points 2000000] [--per-packet 8] [--threads 2] [--repeat 3] [--dir /tmp]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "run_store.hpp"
#include "tributary/packet.hpp"

namespace tc = tributary::core;
using tributary::MetricPoint;

int main(int argc, char** argv) {
  long points = 2'000'000;
  long per_packet = 8;
  int threads = 2;
  int repeat = 3;
  std::string dir = std::filesystem::temp_directory_path().string();
  for (int i = 1; i + 1 < argc; i += 2) {
    std::string a = argv[i];
    if (a == "--points")
      points = std::atol(argv[i + 1]);
    else if (a == "--per-packet")
      per_packet = std::atol(argv[i + 1]);
    else if (a == "--threads")
      threads = std::atoi(argv[i + 1]);
    else if (a == "--repeat")
      repeat = std::atoi(argv[i + 1]);
    else if (a == "--dir")
      dir = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  std::printf("points %ld, %ld per packet, %d feeding threads, store in %s\n", points, per_packet, threads,
              dir.c_str());
  std::vector<double> rates;
  for (int r = 0; r < repeat; ++r) {
    std::string path = dir + "/bench-store-" + std::to_string(getpid()) + ".db";
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
    tc::RunRecorder recorder(path, tc::StoreErrorPolicy::keep_running,
                             [](const std::string& e) { std::fprintf(stderr, "store error: %s\n", e.c_str()); });
    tc::RunRecord record;
    record.id = "bench-" + std::to_string(r);
    record.name = "bench";
    recorder.begin(record);
    auto t0 = std::chrono::steady_clock::now();
    std::vector<std::thread> feeders;
    for (int t = 0; t < threads; ++t) {
      feeders.emplace_back([&, t] {
        std::vector<MetricPoint> packet(static_cast<std::size_t>(per_packet));
        for (std::size_t k = 0; k < packet.size(); ++k) {
          packet[k].node = "train";
          packet[k].name = k == 0 ? "train/loss" : "metric_" + std::to_string(k);
        }
        long mine = points / threads;
        for (long i = 0; i < mine; i += per_packet) {
          for (auto& p : packet) {
            p.time = 1.7e9 + static_cast<double>(i) * 1e-5;
            p.step = i;
            p.epoch = t;
            p.value = 1.0 / static_cast<double>(i + 1);
          }
          recorder.on_metrics(packet);
        }
      });
    }
    for (auto& f : feeders) f.join();
    double fed = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    recorder.finish(tc::RunResult{});
    double total = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    auto written = static_cast<double>(recorder.points_written());
    double size_mb = static_cast<double>(std::filesystem::file_size(path)) / 1e6;
    std::printf("run %d: %.0f points committed in %.3f s = %.0f points/s (fed in %.3f s); dropped %llu; %.1f MB\n", r,
                written, total, written / total, fed, static_cast<unsigned long long>(recorder.points_dropped()),
                size_mb);
    rates.push_back(written / total);
    for (const char* suffix : {"", "-wal", "-shm"}) std::filesystem::remove(path + suffix);
  }
  std::sort(rates.begin(), rates.end());
  std::printf("median: %.0f points/s\n", rates[rates.size() / 2]);
  return 0;
}

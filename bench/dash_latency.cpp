// The plot_server node alone (NodeHarness, port 0): a thread pushes metric packets stamped with the
// wall clock at a steady rate, one WebSocket viewer of /api/live measures each point's arrival
// minus its `time`. Against bench/dashboard.sh (the same measure through a whole pipeline), this
// separates the server's own share of the latency (its 50 ms push tick) from the pipeline's.
//
//   bench_dash_latency [--rate 1000] [--per-packet 5] [--seconds 5]
#include <unistd.h>

#include <algorithm>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>
#include <vector>

#include "export/sink_testing.hpp"
#include "plot_server/plot_server.hpp"
#include "quantile.hpp"
#include "tributary/testing.hpp"

using namespace tributary;
using namespace tributary::sinks;
namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Json = nlohmann::json;

namespace {}  // namespace

int main(int argc, char** argv) {
  double rate = 1000;
  long per_packet = 5;
  double seconds = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--rate")
      rate = std::atof(argv[i + 1]);
    else if (a == "--per-packet")
      per_packet = std::atol(argv[i + 1]);
    else if (a == "--seconds")
      seconds = std::atof(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  const auto dir = std::filesystem::temp_directory_path() / ("bench-dash-latency-" + std::to_string(::getpid()));
  auto harness = NodeHarness::of<PlotServer>({{"port", 0}}, dir.string());
  harness.start();
  const unsigned short port = static_cast<PlotServer&>(harness.node()).port();

  net::io_context io;
  websocket::stream<tcp::socket> ws(io);
  ws.next_layer().connect(tcp::endpoint(net::ip::make_address("127.0.0.1"), port));
  ws.handshake("127.0.0.1:" + std::to_string(port), "/api/live");

  // The viewer reads on a thread of its own until the server closes the connection at stop().
  std::vector<double> ms;
  std::uint64_t messages = 0;
  std::vector<double> gaps_ms;  // between consecutive `points` messages: the push tick as seen here
  std::thread viewer([&] {
    double last = 0;
    for (;;) {
      beast::flat_buffer buffer;
      beast::error_code ec;
      ws.read(buffer, ec);
      if (ec) break;
      const double arrived = wall_time_s();
      ++messages;
      Json m = Json::parse(beast::buffers_to_string(buffer.data()));
      if (m["type"] == "points") {
        if (last > 0) gaps_ms.push_back((arrived - last) * 1e3);
        last = arrived;
        for (const auto& s : m["series"])
          for (const auto& p : s["points"]) ms.push_back((arrived - p[2].get<double>()) * 1e3);
      }
    }
  });

  const auto period = std::chrono::duration<double>(1.0 / rate);
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0;; ++i) {
    const auto at = t0 + std::chrono::duration_cast<std::chrono::steady_clock::duration>(period * i);
    if (at - t0 > std::chrono::duration<double>(seconds)) break;
    std::this_thread::sleep_until(at);
    std::vector<MetricPoint> list;
    const double now = wall_time_s();
    for (long k = 0; k < per_packet; ++k) list.push_back(MetricPoint{now, "train", "m" + std::to_string(k), i, 0, 1.0});
    harness.push("metrics", sinks::testing::metric_packet(std::move(list)));
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(300));  // a few ticks for the last points
  harness.stop();
  viewer.join();
  std::error_code ignored;
  std::filesystem::remove_all(dir, ignored);
  const auto expected = static_cast<std::size_t>(rate * seconds) * static_cast<std::size_t>(per_packet);
  std::printf("dash_latency: plot_server node alone, %.0f packets/s of %ld points for %.1f s, 1 viewer\n", rate,
              per_packet, seconds);
  if (ms.empty()) {
    std::printf("no points received\n");
    return 1;
  }
  std::printf("%zu points received of about %zu pushed, %llu messages\n", ms.size(), expected,
              static_cast<unsigned long long>(messages));
  std::printf("latency node -> viewer: p50 %.1f ms  p99 %.1f ms  max %.1f ms  min %.1f ms\n", quantile(ms, 0.5),
              quantile(ms, 0.99), *std::max_element(ms.begin(), ms.end()), *std::min_element(ms.begin(), ms.end()));
  if (!gaps_ms.empty())
    std::printf("time between points messages: p50 %.1f ms  p99 %.1f ms  max %.1f ms\n", quantile(gaps_ms, 0.5),
                quantile(gaps_ms, 0.99), *std::max_element(gaps_ms.begin(), gaps_ms.end()));
  return 0;
}

// N WebSocket viewers of a running plot_server's /api/live: each reads every message until the
// server closes the connection (the run ended) or --seconds pass, and the latency of every point
// is its arrival wall time minus its `time` (the wall clock when the node emitted it).
//
//   bench_dash_viewers --port PORT [--viewers 1] [--seconds 600] [--host 127.0.0.1] [--parse-all 0]
//
// One thread serves all viewers (asynchronous reads). Only the first viewer parses what it gets
// and measures, the others read and discard (so on a small machine the client takes little CPU
// from the server and the pipeline); --parse-all 1 makes every viewer measure, which then
// includes this client's own queueing.
#include <algorithm>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/websocket.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "quantile.hpp"

namespace beast = boost::beast;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Json = nlohmann::json;

namespace {

double wall_now() { return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count(); }

struct Viewer {
  explicit Viewer(net::io_context& io) : ws(io) {}
  websocket::stream<tcp::socket> ws;
  beast::flat_buffer buffer;
  std::vector<double> latency_ms;
  std::uint64_t messages = 0;
  std::uint64_t bytes = 0;
  bool parse = true;  // the others only read, so this client costs the machine little beside the server
  bool hello = false;
  bool closed = false;
  std::string error;
};

void read_next(Viewer& v) {
  v.ws.async_read(v.buffer, [&v](beast::error_code ec, std::size_t n) {
    if (ec) {
      v.closed = true;
      if (ec != websocket::error::closed && ec != net::error::eof && ec != net::error::operation_aborted)
        v.error = ec.message();
      return;
    }
    const double arrived = wall_now();
    ++v.messages;
    v.bytes += n;
    if (!v.parse) {
      v.buffer.consume(v.buffer.size());
      read_next(v);
      return;
    }
    const std::string text = beast::buffers_to_string(v.buffer.data());
    v.buffer.consume(v.buffer.size());
    Json m = Json::parse(text, nullptr, false);
    if (m.is_object()) {
      const auto type = m.value("type", std::string());
      if (type == "hello") v.hello = true;
      if (type == "points") {
        for (const auto& s : m["series"])
          for (const auto& p : s["points"]) v.latency_ms.push_back((arrived - p[2].get<double>()) * 1e3);
      }
    }
    read_next(v);
  });
}

void print_row(const char* label, const std::vector<double>& ms) {
  if (ms.empty()) {
    std::printf("%-22s no points received\n", label);
    return;
  }
  std::printf("%-22s %9zu points  p50 %7.1f ms  p99 %7.1f ms  max %7.1f ms  min %6.1f ms\n", label, ms.size(),
              quantile(ms, 0.5), quantile(ms, 0.99), *std::max_element(ms.begin(), ms.end()),
              *std::min_element(ms.begin(), ms.end()));
}

}  // namespace

int main(int argc, char** argv) {
  std::string host = "127.0.0.1";
  int port = 0;
  int viewers = 1;
  double seconds = 600;
  bool parse_all = false;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--port")
      port = std::atoi(argv[i + 1]);
    else if (a == "--viewers")
      viewers = std::atoi(argv[i + 1]);
    else if (a == "--seconds")
      seconds = std::atof(argv[i + 1]);
    else if (a == "--parse-all")
      parse_all = std::atoi(argv[i + 1]) != 0;
    else if (a == "--host")
      host = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown option %s\n", a.c_str());
      return 2;
    }
  }
  if (port <= 0 || viewers < 1) {
    std::fprintf(stderr, "usage: bench_dash_viewers --port PORT [--viewers N] [--seconds S]\n");
    return 2;
  }
  net::io_context io;
  std::vector<std::unique_ptr<Viewer>> list;
  const tcp::endpoint endpoint(net::ip::make_address(host), static_cast<unsigned short>(port));
  const auto connect_start = std::chrono::steady_clock::now();
  for (int i = 0; i < viewers; ++i) {
    auto v = std::make_unique<Viewer>(io);
    v->parse = parse_all || i == 0;
    beast::error_code ec;
    v->ws.next_layer().connect(endpoint, ec);
    if (!ec) v->ws.handshake(host + ":" + std::to_string(port), "/api/live", ec);
    if (ec) {
      std::fprintf(stderr, "viewer %d: cannot connect to %s:%d: %s\n", i, host.c_str(), port, ec.message().c_str());
      return 1;
    }
    read_next(*v);
    list.push_back(std::move(v));
  }
  const double connect_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - connect_start).count();
  std::fprintf(stderr, "%d viewers connected in %.3f s\n", viewers, connect_s);
  net::steady_timer limit(
      io, std::chrono::duration_cast<std::chrono::steady_clock::duration>(std::chrono::duration<double>(seconds)));
  limit.async_wait([&](beast::error_code ec) {
    if (ec) return;
    for (auto& v : list) {
      beast::error_code ignored;
      v->ws.next_layer().close(ignored);
    }
  });
  // Returns when every viewer's read failed (the server closed it) or the limit closed them.
  for (;;) {
    io.run_one();
    bool all_closed = true;
    for (auto& v : list) all_closed = all_closed && v->closed;
    if (all_closed) break;
  }
  limit.cancel();

  std::vector<double> all;
  std::uint64_t messages = 0, bytes = 0;
  int without_hello = 0, errors = 0;
  for (auto& v : list) {
    all.insert(all.end(), v->latency_ms.begin(), v->latency_ms.end());
    messages += v->messages;
    bytes += v->bytes;
    without_hello += v->parse && !v->hello ? 1 : 0;
    if (!v->error.empty()) {
      ++errors;
      if (errors == 1) std::fprintf(stderr, "a viewer's read failed: %s\n", v->error.c_str());
    }
  }
  std::printf("viewers %d: %llu messages, %.1f MB received; %d without hello, %d read errors\n", viewers,
              static_cast<unsigned long long>(messages), static_cast<double>(bytes) / 1e6, without_hello, errors);
  print_row("latency, first viewer", list.front()->latency_ms);
  if (viewers > 1 && parse_all) print_row("latency, all viewers", all);
  return 0;
}

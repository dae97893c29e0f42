#pragma once
// The dashboard's HTTP and WebSocket server: one thread of its own running Boost.Beast on Asio.
// Requests go to a handler that may answer later from any thread; WebSocket viewers each have a
// bounded send queue, and a viewer whose queue overflows (it does not read) is closed, so the
// node that broadcasts never waits for a browser.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace tributary::sinks {

struct HttpRequest {
  std::string method;  // GET, POST...
  std::string path;    // the target before '?', as sent (still percent-encoded)
  std::string query;   // after '?'
  std::string body;
  std::string authorization;
};

struct HttpResponse {
  unsigned status = 200;
  std::string content_type = "application/json";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
};

struct HttpServerOptions {
  std::string host = "127.0.0.1";
  unsigned short port = 0;  // 0: a free one
  std::string node;         // the dashboard node's name, for errors that tell what to --set
  std::string live_path = "/api/live";
  std::size_t max_body = 64 * 1024;
  std::size_t max_viewers = 256;
  std::size_t viewer_queue_messages = 1024;
  std::size_t viewer_queue_bytes = 8u << 20;
  std::chrono::milliseconds tick{50};
};

class HttpServer {
 public:
  using Respond = std::function<void(HttpResponse)>;  // callable once, from any thread
  using Handler = std::function<void(HttpRequest request, Respond respond)>;
  using Greeting = std::function<std::string()>;  // the first message to a new viewer
  using Tick = std::function<void()>;             // every options.tick, on the server's thread

  HttpServer(HttpServerOptions options, Handler handler, Greeting greeting, Tick tick);
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and starts the thread; throws std::runtime_error naming host:port when it cannot bind.
  void start();
  // Closes every connection and joins the thread.
  void stop();
  unsigned short port() const noexcept;
  // A text frame for every viewer; thread-safe.
  void broadcast(std::string text);
  std::size_t viewers() const noexcept;
  std::uint64_t dropped_viewers() const noexcept;

  struct State;

 private:
  std::shared_ptr<State> state_;
};

// Whether `host` names a loopback address (127.0.0.0/8, ::1, localhost).
bool is_loopback_host(const std::string& host);

// Throws std::runtime_error when host:port cannot be bound now (in use, or no such address).
void check_port_free(const std::string& host, unsigned short port, const std::string& node);

}  // namespace tributary::sinks

#include "plot_server/http_server.hpp"

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <deque>
#include <optional>
#include <stdexcept>
#include <thread>

namespace tributary::sinks {

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using StringRequest = http::request<http::string_body>;
using StringResponse = http::response<http::string_body>;

tcp::endpoint endpoint_of(const std::string& host, unsigned short port) {
  boost::system::error_code ec;
  const std::string name = host == "localhost" ? "127.0.0.1" : host;
  const auto address = net::ip::make_address(name, ec);
  if (ec) {
    throw std::runtime_error("plot_server cannot listen on " + host + ":" + std::to_string(port) + ": '" + host +
                             "' is not an IP address; use 127.0.0.1 (this machine), 0.0.0.0 (every interface) or "
                             "an address of this machine");
  }
  return tcp::endpoint(address, port);
}

std::string bind_error(const std::string& host, unsigned short port, const boost::system::error_code& ec,
                       const std::string& node) {
  std::string text = "plot_server cannot listen on " + host + ":" + std::to_string(port) + ": " + ec.message();
  if (ec == net::error::address_in_use) {
    text +=
        "; another program (or another run) has that port: stop it, pick another port, or let the system pick a "
        "free one with --set " +
        (node.empty() ? std::string("NAME") : node) + ".port=0";
  }
  return text;
}

void open_acceptor(tcp::acceptor& acceptor, const tcp::endpoint& endpoint, const std::string& host,
                   const std::string& node) {
  boost::system::error_code ec;
  acceptor.open(endpoint.protocol(), ec);
  if (!ec) acceptor.set_option(net::socket_base::reuse_address(true), ec);
  if (!ec) acceptor.bind(endpoint, ec);
  if (!ec) acceptor.listen(net::socket_base::max_listen_connections, ec);
  if (ec) throw std::runtime_error(bind_error(host, endpoint.port(), ec, node));
}

}  // namespace

// What stop() closes: every connection still open.
class Connection {
 public:
  virtual ~Connection() = default;
  virtual void close() = 0;
};
class LiveSession;

struct HttpServer::State : std::enable_shared_from_this<HttpServer::State> {
  HttpServerOptions options;
  Handler handler;
  Greeting greeting;
  Tick tick;
  net::io_context io{1};
  tcp::acceptor acceptor{io};
  net::steady_timer timer{io};
  std::chrono::steady_clock::time_point next_tick{};
  std::thread thread;
  std::atomic<unsigned short> port{0};
  std::atomic<std::size_t> viewer_count{0};
  std::atomic<std::uint64_t> dropped{0};
  std::vector<std::weak_ptr<LiveSession>> viewers;     // the server thread only
  std::vector<std::weak_ptr<Connection>> connections;  // the server thread only
  std::atomic<bool> running{false};

  void track(const std::shared_ptr<Connection>& connection) {
    std::size_t kept = 0;
    for (auto& weak : connections) {
      if (!weak.expired()) connections[kept++] = weak;
    }
    connections.resize(kept);
    connections.push_back(connection);
  }

  void accept();
  void schedule_tick();
};

// One WebSocket viewer: a bounded queue of frames, written one at a time.
class LiveSession final : public Connection, public std::enable_shared_from_this<LiveSession> {
 public:
  LiveSession(tcp::socket socket, std::shared_ptr<HttpServer::State> server)
      : ws_(std::move(socket)), server_(std::move(server)) {}

  void run(StringRequest request) {
    ws_.set_option(websocket::stream_base::timeout::suggested(beast::role_type::server));
    ws_.read_message_max(64 * 1024);
    ws_.async_accept(request, [self = shared_from_this()](beast::error_code ec) { self->on_accept(ec); });
  }

  void send(const std::shared_ptr<const std::string>& message) {
    if (closed_) return;
    auto& o = server_->options;
    if (queue_.size() >= o.viewer_queue_messages || queued_bytes_ + message->size() > o.viewer_queue_bytes) {
      // A viewer that does not read would make us keep everything for it: close it instead.
      ++server_->dropped;
      close();
      return;
    }
    queue_.push_back(message);
    queued_bytes_ += message->size();
    if (!writing_) write_next();
  }

  void close() override {
    if (closed_) return;
    closed_ = true;
    if (accepted_) --server_->viewer_count;
    beast::error_code ignored;
    beast::get_lowest_layer(ws_).socket().shutdown(tcp::socket::shutdown_both, ignored);
    beast::get_lowest_layer(ws_).socket().close(ignored);
    queue_.clear();
    queued_bytes_ = 0;
  }

 private:
  void on_accept(beast::error_code ec) {
    if (ec || !server_->running) return;
    accepted_ = true;
    ++server_->viewer_count;
    server_->viewers.push_back(weak_from_this());
    server_->track(shared_from_this());
    ws_.text(true);
    if (server_->greeting) send(std::make_shared<const std::string>(server_->greeting()));
    read_next();
  }

  // Viewers send nothing we use; reading keeps pings, pongs and the close handshake working.
  void read_next() {
    ws_.async_read(incoming_, [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        self->close();
        return;
      }
      self->incoming_.consume(self->incoming_.size());
      self->read_next();
    });
  }

  void write_next() {
    if (closed_ || queue_.empty()) {
      writing_ = false;
      return;
    }
    writing_ = true;
    ws_.async_write(net::buffer(*queue_.front()), [self = shared_from_this()](beast::error_code ec, std::size_t) {
      if (ec) {
        self->close();
        self->writing_ = false;
        return;
      }
      if (!self->queue_.empty()) {
        self->queued_bytes_ -= self->queue_.front()->size();
        self->queue_.pop_front();
      }
      self->write_next();
    });
  }

  websocket::stream<beast::tcp_stream> ws_;
  std::shared_ptr<HttpServer::State> server_;
  beast::flat_buffer incoming_;
  std::deque<std::shared_ptr<const std::string>> queue_;
  std::size_t queued_bytes_ = 0;
  bool writing_ = false;
  bool accepted_ = false;
  bool closed_ = false;
};

namespace {

// One HTTP connection: reads a request, hands it to the handler, writes its answer, repeats.
class HttpSession final : public Connection, public std::enable_shared_from_this<HttpSession> {
 public:
  HttpSession(tcp::socket socket, std::shared_ptr<HttpServer::State> server)
      : stream_(std::move(socket)), server_(std::move(server)) {}

  void run() {
    server_->track(shared_from_this());
    read_next();
  }
  void close() override { shutdown(); }

 private:
  void read_next() {
    parser_.emplace();
    parser_->header_limit(16 * 1024);
    parser_->body_limit(server_->options.max_body);
    stream_.expires_after(std::chrono::seconds(60));
    http::async_read(stream_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, std::size_t) { self->on_read(ec); });
  }

  void on_read(beast::error_code ec) {
    if (ec == http::error::end_of_stream || ec == net::error::eof || ec == beast::error::timeout ||
        ec == net::error::operation_aborted || ec == net::error::connection_reset) {
      shutdown();
      return;
    }
    if (ec == http::error::body_limit) {
      fail(413, "the request body is larger than " + std::to_string(server_->options.max_body) + " bytes");
      return;
    }
    if (ec == http::error::header_limit) {
      fail(431, "the request headers are too large");
      return;
    }
    if (ec) {
      fail(400, "malformed HTTP request: " + ec.message());
      return;
    }
    StringRequest request = parser_->release();
    const std::string target(request.target());
    const auto q = target.find('?');
    HttpRequest r;
    r.method = std::string(request.method_string());
    r.path = target.substr(0, q);
    r.query = q == std::string::npos ? std::string() : target.substr(q + 1);
    if (websocket::is_upgrade(request)) {
      if (r.path != server_->options.live_path) {
        fail(404, "no WebSocket at " + r.path + "; the live stream is at " + server_->options.live_path);
        return;
      }
      if (server_->viewer_count.load() >= server_->options.max_viewers) {
        fail(503, "too many viewers (" + std::to_string(server_->options.max_viewers) + ")");
        return;
      }
      stream_.expires_never();
      std::make_shared<LiveSession>(stream_.release_socket(), server_)->run(std::move(request));
      return;
    }
    keep_alive_ = request.keep_alive();
    version_ = request.version();
    r.body = std::move(request.body());
    r.authorization = std::string(request[http::field::authorization]);
    auto self = shared_from_this();
    auto executor = stream_.get_executor();
    auto answered = std::make_shared<std::atomic<bool>>(false);
    HttpServer::Respond respond = [self, executor, answered](HttpResponse response) {
      if (answered->exchange(true) || !self->server_->running) return;
      net::dispatch(executor, [self, response = std::move(response)]() mutable { self->write(std::move(response)); });
    };
    try {
      server_->handler(std::move(r), respond);
    } catch (const std::exception&) {
      respond(HttpResponse{500, "application/json", std::string("{\"error\":\"internal error\"}"), {}});
    }
  }

  void fail(unsigned status, const std::string& message) {
    keep_alive_ = false;
    std::string escaped;
    for (char c : message) {
      if (c == '"' || c == '\\') escaped += '\\';
      if (static_cast<unsigned char>(c) >= 0x20) escaped += c;
    }
    write(HttpResponse{status, "application/json", "{\"error\":\"" + escaped + "\"}", {}});
  }

  void write(HttpResponse response) {
    auto res = std::make_shared<StringResponse>(static_cast<http::status>(response.status), version_);
    res->set(http::field::server, "tributary plot_server");
    res->set(http::field::content_type, response.content_type);
    res->set(http::field::cache_control, "no-cache");
    for (const auto& [key, value] : response.headers) res->set(key, value);
    res->keep_alive(keep_alive_);
    res->body() = std::move(response.body);
    res->prepare_payload();
    stream_.expires_after(std::chrono::seconds(30));
    http::async_write(stream_, *res, [self = shared_from_this(), res](beast::error_code ec, std::size_t) {
      if (ec || !self->keep_alive_) {
        self->shutdown();
        return;
      }
      self->read_next();
    });
  }

  void shutdown() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_send, ignored);
    stream_.socket().close(ignored);
  }

  beast::tcp_stream stream_;
  std::shared_ptr<HttpServer::State> server_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  bool keep_alive_ = false;
  unsigned version_ = 11;
};

}  // namespace

void HttpServer::State::accept() {
  acceptor.async_accept([self = shared_from_this()](beast::error_code ec, tcp::socket socket) {
    if (!self->running) return;
    if (!ec) std::make_shared<HttpSession>(std::move(socket), self)->run();
    self->accept();
  });
}

void HttpServer::State::schedule_tick() {
  // A fixed cadence: a tick that runs late does not push the later ones back.
  const auto now = std::chrono::steady_clock::now();
  next_tick = next_tick == std::chrono::steady_clock::time_point{} ? now + options.tick : next_tick + options.tick;
  if (next_tick < now) next_tick = now;
  timer.expires_at(next_tick);
  timer.async_wait([self = shared_from_this()](beast::error_code ec) {
    if (ec || !self->running) return;
    if (self->tick) self->tick();
    self->schedule_tick();
  });
}

HttpServer::HttpServer(HttpServerOptions options, Handler handler, Greeting greeting, Tick tick)
    : state_(std::make_shared<State>()) {
  state_->options = std::move(options);
  state_->handler = std::move(handler);
  state_->greeting = std::move(greeting);
  state_->tick = std::move(tick);
}

HttpServer::~HttpServer() { stop(); }

void HttpServer::start() {
  auto& s = *state_;
  open_acceptor(s.acceptor, endpoint_of(s.options.host, s.options.port), s.options.host, s.options.node);
  s.port = s.acceptor.local_endpoint().port();
  s.running = true;
  s.accept();
  s.schedule_tick();
  s.thread = std::thread([state = state_] { state->io.run(); });
}

void HttpServer::stop() {
  auto& s = *state_;
  if (!s.thread.joinable()) return;
  net::post(s.io, [state = state_] {
    state->running = false;
    beast::error_code ignored;
    state->acceptor.close(ignored);
    state->timer.cancel();
    for (auto& weak : state->connections) {
      if (auto connection = weak.lock()) connection->close();
    }
    state->viewers.clear();
    state->connections.clear();
  });
  // With every connection closed, the aborted operations finish and run() returns.
  s.thread.join();
  s.handler = nullptr;
  s.greeting = nullptr;
  s.tick = nullptr;
}

unsigned short HttpServer::port() const noexcept { return state_->port.load(); }

void HttpServer::broadcast(std::string text) {
  auto message = std::make_shared<const std::string>(std::move(text));
  net::post(state_->io, [state = state_, message] {
    auto& viewers = state->viewers;
    std::size_t kept = 0;
    for (std::size_t i = 0; i < viewers.size(); ++i) {
      if (auto viewer = viewers[i].lock()) {
        viewer->send(message);
        viewers[kept++] = viewers[i];
      }
    }
    viewers.resize(kept);
  });
}

std::size_t HttpServer::viewers() const noexcept { return state_->viewer_count.load(); }
std::uint64_t HttpServer::dropped_viewers() const noexcept { return state_->dropped.load(); }

bool is_loopback_host(const std::string& host) {
  if (host == "localhost") return true;
  boost::system::error_code ec;
  const auto address = net::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

void check_port_free(const std::string& host, unsigned short port, const std::string& node) {
  net::io_context io;
  tcp::acceptor acceptor(io);
  open_acceptor(acceptor, endpoint_of(host, port), host, node);
}

}  // namespace tributary::sinks

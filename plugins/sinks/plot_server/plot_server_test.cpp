#include "plot_server/plot_server.hpp"

#include <sys/socket.h>
#include <sys/time.h>

#include <algorithm>
#include <atomic>
#include <boost/asio/connect.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/websocket.hpp>
#include <catch2/catch.hpp>
#include <chrono>
#include <functional>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "export/sink_testing.hpp"
#include "tributary/testing.hpp"

using namespace tributary;
using namespace tributary::sinks;
using namespace tributary::sinks::testing;
using Json = nlohmann::json;

namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace websocket = beast::websocket;
namespace net = boost::asio;
using tcp = net::ip::tcp;

struct Answer {
  unsigned status = 0;
  std::string body;
  std::string content_type;
  Json json() const { return Json::parse(body); }
};

tcp::endpoint local(unsigned short port) { return tcp::endpoint(net::ip::make_address("127.0.0.1"), port); }

Answer request(unsigned short port, http::verb method, const std::string& target, const std::string& body = {},
               const std::string& authorization = {}) {
  net::io_context io;
  tcp::socket socket(io);
  socket.connect(local(port));
  http::request<http::string_body> req{method, target, 11};
  req.set(http::field::host, "127.0.0.1");
  if (!authorization.empty()) req.set(http::field::authorization, authorization);
  if (method == http::verb::post) req.set(http::field::content_type, "application/json");
  req.body() = body;
  req.prepare_payload();
  http::write(socket, req);
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  http::read(socket, buffer, res);
  return Answer{res.result_int(), res.body(), std::string(res[http::field::content_type])};
}

Answer get(unsigned short port, const std::string& target) { return request(port, http::verb::get, target); }
Answer post(unsigned short port, const std::string& target, const std::string& body, const std::string& auth = {}) {
  return request(port, http::verb::post, target, body, auth);
}

// Bytes as they are, for requests no well-behaved client sends; the status of the answer.
unsigned raw(unsigned short port, const std::string& bytes) {
  net::io_context io;
  tcp::socket socket(io);
  socket.connect(local(port));
  net::write(socket, net::buffer(bytes));
  beast::flat_buffer buffer;
  http::response<http::string_body> res;
  beast::error_code ec;
  http::read(socket, buffer, res, ec);
  return ec ? 0 : res.result_int();
}

class Viewer {
 public:
  explicit Viewer(unsigned short port, int receive_buffer = 0) : ws_(io_) {
    auto& socket = ws_.next_layer();
    socket.open(tcp::v4());
    if (receive_buffer > 0) socket.set_option(net::socket_base::receive_buffer_size(receive_buffer));
    timeval timeout{5, 0};  // a read that gets nothing fails instead of hanging the test
    ::setsockopt(socket.native_handle(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
    socket.connect(local(port));
    ws_.handshake("127.0.0.1:" + std::to_string(port), "/api/live");
  }
  std::string read_text() {
    beast::flat_buffer buffer;
    ws_.read(buffer);
    return beast::buffers_to_string(buffer.data());
  }
  Json read() { return Json::parse(read_text()); }
  // Reads until a message of `type` comes; its JSON.
  Json read_until(const std::string& type) {
    for (;;) {
      Json m = read();
      if (m["type"] == type) return m;
    }
  }

 private:
  net::io_context io_;
  websocket::stream<tcp::socket> ws_;
};

PacketPtr points(const std::string& metric, std::int64_t first_step, std::size_t count, double value = 1.0) {
  std::vector<MetricPoint> list;
  for (std::size_t i = 0; i < count; ++i) {
    const auto step = first_step + static_cast<std::int64_t>(i);
    list.push_back(MetricPoint{1000.0 + static_cast<double>(step), "train", metric, step, 0, value});
  }
  return metric_packet(std::move(list));
}

PacketPtr telemetry(const std::string& node, const std::string& name, double value) {
  return metric_packet({{wall_time_s(), node, name, -1, -1, value}}, PayloadKind::telemetry);
}

struct Dashboard {
  explicit Dashboard(std::vector<TableEntry> params = {}) : harness(make(std::move(params), dir)) {
    harness.start();
    node = &static_cast<PlotServer&>(harness.node());
    port = node->port();
  }
  ~Dashboard() { harness.stop(); }
  static NodeHarness make(std::vector<TableEntry> params, const ScratchDir& dir) {
    params.push_back({"port", 0});
    return NodeHarness::of<PlotServer>(params, dir.file("run"));
  }
  ScratchDir dir;
  NodeHarness harness;
  PlotServer* node = nullptr;
  unsigned short port = 0;
};

template <typename Condition>
bool eventually(Condition condition, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  return condition();
}

}  // namespace

TEST_CASE("plot_server: binds a free port with port = 0 and logs its URL") {
  Dashboard d;
  CHECK(d.port != 0);
  CHECK(d.node->url() == "http://127.0.0.1:" + std::to_string(d.port) + "/");
  bool logged = false;
  for (const auto& l : d.harness.logs()) logged = logged || l.message.find(d.node->url()) != std::string::npos;
  CHECK(logged);
}

TEST_CASE("plot_server: the page and its assets come from the bundle, nothing else does") {
  Dashboard d;
  auto page = get(d.port, "/");
  CHECK(page.status == 200);
  CHECK(page.content_type.find("text/html") == 0);
  CHECK(page.body.find("<html") != std::string::npos);
  auto script = get(d.port, "/assets/app.js");
  CHECK(script.status == 200);
  CHECK(script.content_type.find("text/javascript") == 0);
  CHECK(get(d.port, "/assets/missing.js").status == 404);
  CHECK(get(d.port, "/assets/../plot_server.cpp").status == 404);
  CHECK(get(d.port, "/assets/%2e%2e/%2e%2e/etc/passwd").status == 404);
  CHECK(get(d.port, "/etc/passwd").status == 404);
  CHECK(get(d.port, "/index.html/").status == 404);
  CHECK(post(d.port, "/", "{}").status == 405);
}

TEST_CASE("plot_server: /api/run tracks the state, the trainer's progress, checkpoints and controls") {
  Dashboard d(std::vector<TableEntry>{{"title", "Digits"}});
  auto run = get(d.port, "/api/run");
  REQUIRE(run.status == 200);
  Json s = run.json();
  CHECK(s["state"] == "starting");
  CHECK(s["title"] == "Digits");
  CHECK(s["id"] == "test");
  CHECK(s["token_required"] == false);
  CHECK(s["best"].is_null());
  CHECK(s["checkpoints"]["newest"].is_null());
  CHECK(s["process"]["rss_bytes"].get<double>() > 0);

  d.harness.push("control", control_packet(RunState{"running", "", "", wall_time_s()}));
  d.harness.push("metrics", metric_packet({{1.0, "train", "train/loss", 40, 2, 0.5},
                                           {1.0, "train", "samples_per_s", 40, 2, 1234.0},
                                           {1.0, "train", "epoch", 40, 2, 2.0},
                                           {1.0, "train", "progress", 40, 2, 0.2},
                                           {1.0, "train", "epochs", 40, 2, 10.0},
                                           {1.0, "train", "eta_s", 40, 2, 80.0},
                                           {1.0, "train", "best/val/accuracy", 40, 2, 0.93}}));
  ArtifactNote note;
  note.node = "ckpt";
  note.kind = "checkpoint";
  note.path = "/tmp/step-40.pt";
  note.step = 40;
  note.epoch = 2;
  note.best = true;
  note.time = 5.0;
  d.harness.push("control", control_packet(note));
  ControlMessage pause(ControlVerb::pause);
  pause.id = 7;
  pause.sender = "signal";
  d.harness.push("control", control_packet(pause));
  s = get(d.port, "/api/run").json();
  CHECK(s["state"] == "paused");
  CHECK(s["step"] == 40);
  CHECK(s["epoch"] == 2);
  CHECK(s["epochs"] == 10);
  CHECK(s["progress"] == 0.2);
  CHECK(s["eta_s"] == 80.0);
  CHECK(s["samples_per_s"] == 1234.0);
  CHECK(s["best"]["name"] == "val/accuracy");
  CHECK(s["best"]["value"] == 0.93);
  CHECK(s["checkpoints"]["newest"]["path"] == "/tmp/step-40.pt");
  CHECK(s["checkpoints"]["best"]["step"] == 40);
  REQUIRE(s["controls"].size() == 1);
  CHECK(s["controls"][0]["verb"] == "pause");
  CHECK(s["controls"][0]["sender"] == "signal");
  ControlMessage resume(ControlVerb::resume);
  resume.id = 8;
  d.harness.push("control", control_packet(resume));
  CHECK(get(d.port, "/api/run").json()["state"] == "running");
  d.harness.push("control", control_packet(RunState{"finished", "", "", wall_time_s()}));
  CHECK(get(d.port, "/api/run").json()["state"] == "finished");
}

TEST_CASE("plot_server: /api/graph gives the nodes, links and the latest telemetry per node") {
  Dashboard d;
  d.harness.push("telemetry", telemetry("train", "telemetry/packets_in", 12));
  d.harness.push("telemetry", telemetry("train", "telemetry/queue_depth", 3));
  d.harness.push("telemetry", telemetry("train", "telemetry/packets_in", 15));
  d.harness.push("telemetry", telemetry("mic", "capture/dropped", 2));  // a node's own metric: a series
  auto graph = get(d.port, "/api/graph");
  REQUIRE(graph.status == 200);
  Json g = graph.json();
  CHECK(g["nodes"].is_array());
  CHECK(g["links"].is_array());
  CHECK(g["telemetry"]["train"]["packets_in"] == 15);
  CHECK(g["telemetry"]["train"]["queue_depth"] == 3);
  CHECK(g["telemetry"]["train"]["drops"] == 0);
  CHECK_FALSE(g["telemetry"].contains("mic"));
  CHECK(get(d.port, "/api/series").json()["series"][0]["name"] == "mic:capture/dropped");
}

TEST_CASE("plot_server: /api/series lists the series and /api/series/NAME serves ranges that keep spikes") {
  Dashboard d;
  d.harness.push("metrics", points("train/loss", 0, 100000, 1.0));
  d.harness.push("metrics", points("train/loss", 100000, 1, 500.0));  // the spike
  d.harness.push("metrics", points("train/loss", 100001, 10000, 1.0));
  d.harness.push("model_stats", points("layer0/weight_norm", 0, 10, 2.0));
  Json list = get(d.port, "/api/series").json()["series"];
  REQUIRE(list.size() == 2);
  CHECK(list[1]["name"] == "train:train/loss");
  CHECK(list[1]["node"] == "train");
  CHECK(list[1]["metric"] == "train/loss");
  CHECK(list[1]["length"] == 110001);
  CHECK(list[1]["first_step"] == 0);
  CHECK(list[1]["last_step"] == 110000);
  CHECK(list[1]["last_value"] == 1.0);

  auto view = get(d.port, "/api/series/train%3Atrain%2Floss?points=400");
  REQUIRE(view.status == 200);
  Json v = view.json();
  CHECK(v["name"] == "train:train/loss");
  CHECK(v["x"] == "step");
  CHECK(v["length"] == 110001);
  CHECK(v["decimated"] == true);
  CHECK(v["points"].size() <= 400);
  bool spike = false;
  for (const auto& p : v["points"]) spike = spike || (p[0] == 100000 && p[1] == 500.0);
  CHECK(spike);
  v = get(d.port, "/api/series/train%3Atrain%2Floss?from=99998&to=100002").json();
  CHECK(v["decimated"] == false);
  CHECK(v["points"] == Json::parse("[[99998,1.0],[99999,1.0],[100000,500.0],[100001,1.0],[100002,1.0]]"));
  v = get(d.port, "/api/series/train%3Atrain%2Floss?x=time&from=1000&to=1001").json();
  CHECK(v["x"] == "time");
  CHECK(v["points"].size() == 2);
  CHECK(get(d.port, "/api/series/train%3Anothing").status == 404);
}

TEST_CASE("plot_server: /api/logs filters by level, sequence and text") {
  Dashboard d;
  d.harness.push("logs", log_packet({{1.0, "train", LogLevel::debug, "step 1"},
                                     {2.0, "train", LogLevel::info, "epoch 1 done"},
                                     {3.0, "rows", LogLevel::warn, "short row skipped"},
                                     {4.0, "train", LogLevel::error, "epoch 2 failed"}}));
  Json all = get(d.port, "/api/logs").json();
  REQUIRE(all["lines"].size() == 4);
  CHECK(all["lines"][0]["seq"] == 1);
  CHECK(all["lines"][0]["level"] == "debug");
  CHECK(all["lines"][2]["node"] == "rows");
  CHECK(all["next"] == 4);
  Json warn = get(d.port, "/api/logs?level=warn").json();
  CHECK(warn["lines"].size() == 2);
  Json after = get(d.port, "/api/logs?after=2&search=epoch").json();
  REQUIRE(after["lines"].size() == 1);
  CHECK(after["lines"][0]["message"] == "epoch 2 failed");
  Json limited = get(d.port, "/api/logs?limit=1").json();
  CHECK(limited["lines"].size() == 1);
  CHECK(limited["next"] == 1);
}

TEST_CASE("plot_server: bad requests get a 4xx with a JSON error, and the server keeps serving") {
  Dashboard d;
  d.harness.push("metrics", points("train/loss", 0, 10));
  auto bad = [&](const Answer& a, unsigned status) {
    CHECK(a.status == status);
    CHECK(a.json().contains("error"));
  };
  bad(post(d.port, "/api/control", "{not json"), 400);
  bad(post(d.port, "/api/control", "[1, 2]"), 400);
  bad(post(d.port, "/api/control", R"({"verb": "explode"})"), 400);
  bad(post(d.port, "/api/control", R"({"verb": 3})"), 400);
  bad(post(d.port, "/api/control", R"({"verb": "set", "target": "train", "key": "lr"})"), 400);
  bad(get(d.port, "/api/control"), 405);
  bad(post(d.port, "/api/run", "{}"), 405);
  bad(get(d.port, "/api/series/train%3Atrain%2Floss?points=abc"), 400);
  bad(get(d.port, "/api/series/train%3Atrain%2Floss?points=0"), 400);
  bad(get(d.port, "/api/series/train%3Atrain%2Floss?x=epoch"), 400);
  bad(get(d.port, "/api/series/train%3Atrain%2Floss?from=zz"), 400);
  bad(get(d.port, "/api/series/train%3Atrain%2Floss?from=5&to=1"), 400);
  bad(get(d.port, "/api/series/train%ZZloss"), 400);
  bad(get(d.port, "/api/logs?level=loud"), 400);
  bad(get(d.port, "/api/logs?after=-1"), 400);
  bad(get(d.port, "/api/nothing"), 404);
  bad(get(d.port, "/api/live"), 426);
  bad(post(d.port, "/api/control", std::string(200 * 1024, 'x')), 413);
  CHECK(raw(d.port, "POST /api/control HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n") == 413);
  CHECK(raw(d.port, "HELLO THERE\r\n\r\n") == 400);
  CHECK(raw(d.port, "GET / HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n") == 400);
  CHECK(get(d.port, "/api/run").status == 200);
  CHECK(get(d.port, "/api/series/train%3Atrain%2Floss").json()["length"] == 10);
}

TEST_CASE("plot_server: POST /api/control sends the message and answers with its replies") {
  Dashboard d;
  // The harness numbers messages from 1; the reply may arrive before the request is registered.
  d.harness.push("control", control_packet(ControlReply{1, "tributary", true, -1, "sources hold", true}));
  auto answer = post(d.port, "/api/control", R"({"verb": "pause", "target": ""})");
  REQUIRE(answer.status == 200);
  Json a = answer.json();
  CHECK(a["id"] == 1);
  REQUIRE(a["replies"].size() == 1);
  CHECK(a["replies"][0]["node"] == "tributary");
  CHECK(a["replies"][0]["accepted"] == true);
  CHECK(a["replies"][0]["text"] == "sources hold");

  Viewer viewer(d.port);
  CHECK(viewer.read()["type"] == "hello");
  Answer later;
  std::thread client([&] {
    later = post(d.port, "/api/control", R"({"verb": "set", "target": "train", "key": "lr", "value": 0.01})");
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  d.harness.push("control", control_packet(ControlReply{2, "train", true, 120, "lr 0.01", true}));
  client.join();
  REQUIRE(later.status == 200);
  a = later.json();
  CHECK(a["id"] == 2);
  REQUIRE(a["replies"].size() == 1);
  CHECK(a["replies"][0]["step"] == 120);
  REQUIRE(d.harness.sent_control().size() == 2);
  const ControlMessage& sent = d.harness.sent_control()[1];
  CHECK(sent.verb == ControlVerb::set);
  CHECK(sent.target == "train");
  CHECK(sent.key == "lr");
  CHECK(sent.value == Value(0.01));
  Json control = viewer.read_until("control");
  while (control["reply"]["id"] != 2) control = viewer.read_until("control");  // the pause's may come first
  CHECK(control["request"]["verb"] == "set");
  CHECK(control["reply"]["node"] == "train");
  Json controls = get(d.port, "/api/run").json()["controls"];
  REQUIRE(controls.size() == 2);
  CHECK(controls[1]["replies"][0]["text"] == "lr 0.01");
}

TEST_CASE("plot_server: with a token, control needs it (401 without, 403 wrong) and the URL carries it") {
  Dashboard d(std::vector<TableEntry>{{"token", "s3cret"}});
  CHECK(d.node->url() == "http://127.0.0.1:" + std::to_string(d.port) + "/?token=s3cret");
  CHECK(get(d.port, "/api/run").json()["token_required"] == true);
  CHECK(post(d.port, "/api/control", R"({"verb": "stop"})").status == 401);
  CHECK(post(d.port, "/api/control", R"({"verb": "stop"})", "Bearer nope").status == 403);
  CHECK(post(d.port, "/api/control?token=nope", R"({"verb": "stop"})").status == 403);
  d.harness.push("control", control_packet(ControlReply{1, "tributary", true, -1, "the run is stopping", true}));
  d.harness.push("control", control_packet(ControlReply{2, "tributary", true, -1, "the run is stopping", true}));
  CHECK(post(d.port, "/api/control", R"({"verb": "stop"})", "Bearer s3cret").status == 200);
  CHECK(post(d.port, "/api/control?token=s3cret", R"({"verb": "stop"})").status == 200);
  CHECK(d.harness.sent_control().size() == 2);
}

TEST_CASE("plot_server: bound beyond loopback without a token, it makes one") {
  Dashboard d(std::vector<TableEntry>{{"host", "0.0.0.0"}});
  CHECK(d.node->token().size() == 32);
  CHECK(d.node->url().find("?token=" + d.node->token()) != std::string::npos);
  CHECK(post(d.port, "/api/control", R"({"verb": "stop"})").status == 401);
}

TEST_CASE("plot_server: a port in use is an error naming host:port and how to pick a free one") {
  net::io_context io;
  tcp::acceptor taken(io, local(0));
  const auto port = taken.local_endpoint().port();
  ScratchDir dir;
  try {
    NodeHarness::of<PlotServer>({{"port", static_cast<std::int64_t>(port)}}, dir.file("run"));
    FAIL("no error for a port in use");
  } catch (const ParamError& e) {
    const std::string what = e.what();
    CHECK(what.find("127.0.0.1:" + std::to_string(port)) != std::string::npos);
    CHECK(what.find("--set plot_server.port=0") != std::string::npos);
  }
}

TEST_CASE("plot_server: a viewer gets hello, then points, logs, telemetry and run changes live") {
  Dashboard d;
  d.harness.push("metrics", points("train/loss", 0, 3));
  Viewer viewer(d.port);
  Json hello = viewer.read();
  CHECK(hello["type"] == "hello");
  CHECK(hello["run"]["state"] == "starting");
  CHECK(hello["graph"].contains("nodes"));
  REQUIRE(hello["series"].size() == 1);
  CHECK(hello["series"][0]["length"] == 3);

  const auto sent = std::chrono::steady_clock::now();
  d.harness.push("metrics", points("train/loss", 3, 2, 0.25));
  Json batch = viewer.read_until("points");
  CHECK(std::chrono::steady_clock::now() - sent < std::chrono::seconds(1));
  REQUIRE(batch["series"].size() == 1);
  CHECK(batch["series"][0]["name"] == "train:train/loss");
  // [step, epoch, time, value, seq]
  CHECK(batch["series"][0]["points"].back() == Json::parse("[4, 0, 1004.0, 0.25, 5]"));

  d.harness.push("logs", log_packet({{1.0, "train", LogLevel::info, "hello from train"}}));
  CHECK(viewer.read_until("logs")["lines"][0]["message"] == "hello from train");
  d.harness.push("telemetry", telemetry("train", "telemetry/packets_out", 9));
  CHECK(viewer.read_until("telemetry")["nodes"]["train"]["packets_out"] == 9);
  d.harness.push("control", control_packet(RunState{"running", "", "", wall_time_s()}));
  CHECK(viewer.read_until("run")["run"]["state"] == "running");
}

TEST_CASE("plot_server: 50 viewers at once each receive the points") {
  Dashboard d;
  std::vector<std::unique_ptr<Viewer>> viewers;
  for (int i = 0; i < 50; ++i) {
    viewers.push_back(std::make_unique<Viewer>(d.port));
    REQUIRE(viewers.back()->read()["type"] == "hello");
  }
  d.harness.push("metrics", points("val/accuracy", 0, 100, 0.5));
  for (auto& v : viewers) {
    Json batch = v->read_until("points");
    REQUIRE(batch["series"].size() == 1);
    CHECK(batch["series"][0]["points"].size() == 100);
  }
}

TEST_CASE("plot_server: a viewer that never reads is dropped while the node keeps taking points") {
  Dashboard d(std::vector<TableEntry>{{"history", 2000}});
  Viewer stuck(d.port, 4096);  // connects, then never reads
  Viewer reader(d.port);
  REQUIRE(reader.read()["type"] == "hello");
  // The viewer that reads says how far it got: the newest step of train:m7 it received.
  std::atomic<std::int64_t> seen{-1};
  std::atomic<bool> fresh{false};
  std::thread reading([&] {
    try {
      while (!fresh) {
        const std::string text = reader.read_text();
        if (text.find("\"train:fresh\"") != std::string::npos) fresh = true;
        const Json message = Json::parse(text);
        if (message.value("type", "") != "points") continue;
        for (const auto& series : message["series"]) {
          if (series["name"] == "train:m7" && !series["points"].empty())
            seen = std::max<std::int64_t>(seen, series["points"].back()[0].get<std::int64_t>());
        }
      }
    } catch (const std::exception&) {
    }
  });
  std::int64_t step = 0;
  const auto begin = std::chrono::steady_clock::now();
  while (d.node->dropped_viewers() == 0 && std::chrono::steady_clock::now() - begin < std::chrono::seconds(60)) {
    // 4,000 points (about 250 kB of JSON) a batch, the next once the reading viewer has this one:
    // the stuck viewer's queue and socket fill after a few dozen batches, however slow the
    // machine, while the one that reads never falls behind.
    for (int s = 0; s < 8; ++s) d.harness.push("metrics", points("m" + std::to_string(s), step, 500, 1.5));
    step += 500;
    const auto wait_until = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (seen < step - 1 && std::chrono::steady_clock::now() < wait_until)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  CHECK(d.node->dropped_viewers() == 1);
  CHECK(d.node->store().points_in_memory() <= 8 * 2000);
  // The one that reads still gets what is new, and the server still answers.
  d.harness.push("metrics", points("fresh", 0, 1));
  reading.join();
  CHECK(fresh);
  CHECK(d.node->dropped_viewers() == 1);
  CHECK(get(d.port, "/api/series").json()["series"].size() == 9);
}

// ---- the model views --------------------------------------------------------------------------
namespace {

// A model_stats packet as the trainer sends it: per parameter the model/P/... points, and a
// weight and a gradient histogram of `bins` counts.
std::shared_ptr<Packet> model_stats(std::int64_t step, const std::vector<std::string>& parameters,
                                    std::size_t bins = 8) {
  auto packet = make_packet(PayloadKind::metrics);
  packet->stream = "train";
  std::vector<Value> list;
  for (const auto& p : parameters) {
    for (const char* of : {"weight", "grad"}) {
      std::vector<double> counts(bins);
      for (std::size_t i = 0; i < bins; ++i) counts[i] = static_cast<double>(i + static_cast<std::size_t>(step) % 3);
      list.push_back(Value::table({{"parameter", p},
                                   {"of", of},
                                   {"lo", -0.5},
                                   {"hi", 0.25},
                                   {"tensor", static_cast<std::int64_t>(packet->tensors.size())}}));
      packet->tensors.push_back(Tensor::from_vector(std::move(counts)));
    }
    for (const char* stat :
         {"weight/mean", "weight/std", "weight/norm", "grad/mean", "grad/std", "grad/norm", "grad/abs_mean"}) {
      packet->metrics.push_back(
          MetricPoint{1000.0 + static_cast<double>(step), "train", "model/" + p + "/" + stat, step, 0, 0.125});
    }
  }
  packet->set_attribute("histograms", Value(list));
  packet->set_attribute("step", step);
  packet->set_attribute("epoch", std::int64_t{0});
  return packet;
}

// A boundary packet as the trainer sends it: a g x g grid of 3 classes and n points.
std::shared_ptr<Packet> boundary(std::int64_t step, std::int64_t g = 4, std::int64_t n = 6) {
  auto packet = make_packet(PayloadKind::features);
  packet->stream = "train";
  std::vector<std::int64_t> cells(static_cast<std::size_t>(g * g));
  std::vector<float> probability(cells.size());
  for (std::size_t i = 0; i < cells.size(); ++i) {
    cells[i] = static_cast<std::int64_t>(i % 3);
    probability[i] = 0.5f + 0.5f * static_cast<float>(i) / static_cast<float>(cells.size());
  }
  std::vector<float> points;
  std::vector<std::int64_t> labels;
  std::vector<std::int64_t> predictions;
  for (std::int64_t i = 0; i < n; ++i) {
    points.push_back(0.1f * static_cast<float>(i));
    points.push_back(-0.2f * static_cast<float>(i));
    labels.push_back(i % 3);
    predictions.push_back(i == 0 ? 1 : i % 3);
  }
  packet->tensors.push_back(Tensor::from_vector(std::move(cells), {g, g}));
  packet->tensors.push_back(Tensor::from_vector(std::move(probability), {g, g}));
  packet->tensors.push_back(Tensor::from_vector(std::move(points), {n, 2}));
  packet->tensors.push_back(Tensor::from_vector(std::move(labels)));
  packet->tensors.push_back(Tensor::from_vector(std::move(predictions)));
  packet->set_attribute("x0", -1.0);
  packet->set_attribute("x1", 1.0);
  packet->set_attribute("y0", -2.0);
  packet->set_attribute("y1", 2.0);
  packet->set_attribute("projection", "pca");
  packet->set_attribute("explained", Value(std::vector<Value>{0.43, 0.21}));
  packet->set_attribute("classes", Value(std::vector<Value>{"zero", "one", "two"}));
  packet->set_attribute("step", step);
  packet->set_attribute("epoch", step / 10);
  return packet;
}

std::size_t warnings_with(const NodeHarness& h, const std::string& text) {
  std::size_t n = 0;
  for (const auto& l : h.logs()) n += l.level == LogLevel::warn && l.message.find(text) != std::string::npos;
  return n;
}

}  // namespace

TEST_CASE("plot_server: model_stats histograms are served per parameter, and their points stay series") {
  Dashboard d;
  CHECK(get(d.port, "/api/model").json()["parameters"].empty());
  CHECK(get(d.port, "/api/model").json()["boundary"].is_null());
  for (std::int64_t step = 0; step < 30; step += 10)
    d.harness.push("model_stats", model_stats(step, {"fc1.weight", "fc1.bias"}));
  Json model = get(d.port, "/api/model").json();
  REQUIRE(model["parameters"].size() == 2);
  CHECK(model["parameters"][0]["name"] == "fc1.weight");  // in the trainer's order
  CHECK(model["parameters"][1]["name"] == "fc1.bias");
  CHECK(model["parameters"][0]["weight"]["snapshots"] == 3);
  CHECK(model["parameters"][0]["grad"]["bins"] == 8);
  CHECK(model["parameters"][0]["grad"]["first_step"] == 0);
  CHECK(model["parameters"][0]["grad"]["last_step"] == 20);
  CHECK(model["capacity"] == 300);
  CHECK(model["refused"].empty());

  auto answer = get(d.port, "/api/model/histograms?parameter=fc1.weight&of=grad");
  REQUIRE(answer.status == 200);
  Json h = answer.json();
  CHECK(h["parameter"] == "fc1.weight");
  CHECK(h["of"] == "grad");
  REQUIRE(h["snapshots"].size() == 3);
  CHECK(h["snapshots"][1]["step"] == 10);
  CHECK(h["snapshots"][1]["lo"] == -0.5);
  CHECK(h["snapshots"][1]["hi"] == 0.25);
  CHECK(h["snapshots"][1]["counts"] == Json::parse("[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0]"));

  Json series = get(d.port, "/api/series").json()["series"];
  CHECK(series.size() == 14);
  bool abs_mean = false;
  for (const auto& s : series) abs_mean = abs_mean || s["name"] == "train:model/fc1.bias/grad/abs_mean";
  CHECK(abs_mean);

  CHECK(get(d.port, "/api/model/histograms?parameter=fc2.weight&of=grad").status == 404);
  CHECK(get(d.port, "/api/model/histograms?parameter=fc1.weight&of=bias").status == 400);
  CHECK(get(d.port, "/api/model/histograms?of=grad").status == 400);
  CHECK(post(d.port, "/api/model", "{}").status == 405);
  CHECK(get(d.port, "/api/model/boundary").status == 404);
}

TEST_CASE("plot_server: at most 300 histograms per parameter are kept, spread over the run, the newest too") {
  Dashboard d;
  for (std::int64_t step = 0; step < 1001; ++step) d.harness.push("model_stats", model_stats(step, {"w"}, 16));
  Json h = get(d.port, "/api/model/histograms?parameter=w&of=weight").json();
  const auto& snapshots = h["snapshots"];
  REQUIRE(snapshots.size() <= 300);
  CHECK(snapshots.size() >= 150);
  CHECK(snapshots.front()["step"] == 0);
  CHECK(snapshots.back()["step"] == 1000);
  // Evenly thinned: the gaps between kept steps are one stride, bar the newest.
  std::set<std::int64_t> gaps;
  for (std::size_t i = 1; i + 1 < snapshots.size(); ++i)
    gaps.insert(snapshots[i]["step"].get<std::int64_t>() - snapshots[i - 1]["step"].get<std::int64_t>());
  CHECK(gaps.size() == 1);
  Json model = get(d.port, "/api/model").json();
  CHECK(model["parameters"][0]["weight"]["received"] == 1001);
  CHECK(model["parameters"][0]["weight"]["snapshots"] == snapshots.size());
  CHECK(d.node->model().values_in_memory() == 2 * snapshots.size() * 16);
}

TEST_CASE("plot_server: many large histograms share a bounded memory") {
  Dashboard d;
  std::vector<std::string> parameters;
  for (int i = 0; i < 64; ++i) parameters.push_back("layer" + std::to_string(i) + ".weight");
  for (std::int64_t step = 0; step < 80; ++step) d.harness.push("model_stats", model_stats(step, parameters, 1024));
  CHECK(d.node->model().capacity() == ModelStore::kMaxValues / (128 * 1024));
  CHECK(d.node->model().values_in_memory() <= ModelStore::kMaxValues);
  Json h = get(d.port, "/api/model/histograms?parameter=layer63.weight&of=grad").json();
  CHECK(h["snapshots"].size() <= d.node->model().capacity());
  CHECK(h["snapshots"].back()["step"] == 79);
}

TEST_CASE("plot_server: the newest boundaries are served with their grid, points and classes") {
  Dashboard d;
  d.harness.push("boundary", boundary(100));
  auto answer = get(d.port, "/api/model/boundary");
  REQUIRE(answer.status == 200);
  Json b = answer.json();
  CHECK(b["step"] == 100);
  CHECK(b["epoch"] == 10);
  CHECK(b["grid"] == 4);
  CHECK(b["projection"] == "pca");
  CHECK(b["explained"] == Json::parse("[0.43, 0.21]"));
  CHECK(b["classes"] == Json::parse(R"(["zero", "one", "two"])"));
  CHECK(b["x0"] == -1.0);
  CHECK(b["y1"] == 2.0);
  REQUIRE(b["cells"].size() == 16);
  CHECK(b["cells"][4] == 1);
  REQUIRE(b["probability"].size() == 16);
  CHECK(b["probability"][0] == 0.5);
  CHECK(b["probability"][8] == 0.75);
  CHECK(b["x"] == Json::parse("[0.0, 0.1, 0.2, 0.3, 0.4, 0.5]"));
  CHECK(b["y"][5] == -1.0);
  CHECK(b["labels"] == Json::parse("[0, 1, 2, 0, 1, 2]"));
  CHECK(b["predictions"] == Json::parse("[1, 1, 2, 0, 1, 2]"));
  CHECK(b["points"] == 6);

  for (std::int64_t step = 200; step <= 600; step += 100) d.harness.push("boundary", boundary(step, 64, 2000));
  Json model = get(d.port, "/api/model").json();
  CHECK(model["boundary"]["step"] == 600);
  CHECK(model["boundary"]["grid"] == 64);
  CHECK(model["boundaries"].size() == ModelStore::kBoundaries);
  CHECK(model["boundaries"][0]["step"] == 300);
  CHECK(get(d.port, "/api/model/boundary?step=300").json()["step"] == 300);
  CHECK(get(d.port, "/api/model/boundary?step=100").status == 404);
  CHECK(get(d.port, "/api/model/boundary?step=x").status == 400);
  CHECK(get(d.port, "/api/model/boundary").json()["cells"].size() == 64 * 64);
}

TEST_CASE("plot_server: a malformed model packet is logged once with what is wrong and ignored") {
  struct Case {
    const char* port;
    const char* what;  // in the log line
    std::function<void(Packet&)> spoil;
  };
  auto attribute = [](const char* key, Value v) { return [=](Packet& p) { p.set_attribute(key, v); }; };
  auto drop = [](const char* key) {
    return [=](Packet& p) {
      p.attributes.erase(
          std::remove_if(p.attributes.begin(), p.attributes.end(), [&](const Attribute& a) { return a.key == key; }),
          p.attributes.end());
    };
  };
  auto tensor = [](std::size_t i, Tensor t) { return [=](Packet& p) { p.tensors[i] = t; }; };
  auto entry = [](const char* key, Value v) {
    return [=](Packet& p) {
      auto list = p.attribute("histograms")->as_list();
      std::vector<TableEntry> table = list[0].as_table();
      for (auto& e : table) {
        if (e.key == key) e.value = v;
      }
      list[0] = Value::table(table);
      p.set_attribute("histograms", Value(list));
    };
  };
  const std::vector<Case> cases = {
      {"model_stats", "no 'histograms' attribute", drop("histograms")},
      {"model_stats", "'histograms' is not a list", attribute("histograms", "all of them")},
      {"model_stats", "'step' is missing", drop("step")},
      {"model_stats", "'epoch' is missing", attribute("epoch", "first")},
      {"model_stats", "histograms[0]: 'of' must be", entry("of", "bias")},
      {"model_stats", "histograms[0]: 'parameter' is missing", entry("parameter", 3)},
      {"model_stats", "'lo' is above 'hi'", entry("lo", 2.0)},
      {"model_stats", "'lo' and 'hi' must be finite", entry("hi", "far")},
      {"model_stats", "'tensor' must be the index", entry("tensor", std::int64_t{9})},
      {"model_stats", "tensor 0 is f64 [2, 4], not counts", tensor(0, Tensor::zeros(DType::f64, {2, 4}))},
      {"model_stats", "tensor 0 is f64 [2000], not counts", tensor(0, Tensor::zeros(DType::f64, {2000}))},
      {"model_stats", "negative or non-finite count", tensor(0, Tensor::from_vector(std::vector<double>{1, -2}))},
      {"boundary", "5 tensors expected", [](Packet& p) { p.tensors.pop_back(); }},
      {"boundary", "tensor 0 is i64 [4, 5], not the classes of a square grid",
       tensor(0, Tensor::zeros(DType::i64, {4, 5}))},
      {"boundary", "tensor 0 is f32 [4, 4], not the classes", tensor(0, Tensor::zeros(DType::f32, {4, 4}))},
      {"boundary", "tensor 1 is f32 [3, 3], not probabilities", tensor(1, Tensor::zeros(DType::f32, {3, 3}))},
      {"boundary", "tensor 2 is f32 [6, 3], not points", tensor(2, Tensor::zeros(DType::f32, {6, 3}))},
      {"boundary", "tensor 3 is i64 [5], not labels", tensor(3, Tensor::zeros(DType::i64, {5}))},
      {"boundary", "tensor 4 is f32 [6], not predictions", tensor(4, Tensor::zeros(DType::f32, {6}))},
      {"boundary", "tensor 3 holds the class 7, outside 0 to 2",
       tensor(3, Tensor::from_vector(std::vector<std::int64_t>{0, 1, 2, 7, 1, 0}))},
      {"boundary", "x0, x1, y0 and y1 must be finite", drop("y0")},
      {"boundary", "the extent is empty", attribute("x1", -3.0)},
      {"boundary", "'projection' must be", attribute("projection", "tsne")},
      {"boundary", "'explained' must be a list of two", attribute("explained", 0.5)},
      {"boundary", "'classes' (a list of class names) is missing", drop("classes")},
      {"boundary", "'step' is missing", attribute("step", 1.5)},
  };
  for (const Case& c : cases) {
    INFO(c.port << ": " << c.what);
    Dashboard d;
    const bool stats = std::string(c.port) == "model_stats";
    auto packet = stats ? model_stats(10, {"fc1.weight"}) : boundary(10);
    c.spoil(*packet);
    d.harness.push(c.port, packet);
    d.harness.push(c.port, packet);  // the same fault again: counted, not logged
    CHECK(warnings_with(d.harness, c.what) == 1);
    CHECK(warnings_with(d.harness, "ignored a " + std::string(c.port) + " packet") == 1);
    Json model = get(d.port, "/api/model").json();
    REQUIRE(model["refused"].size() == 1);
    CHECK(model["refused"][0]["input"] == c.port);
    CHECK(model["refused"][0]["count"] == 2);
    CHECK(model["boundary"].is_null());
    CHECK(get(d.port, "/api/model/histograms?parameter=fc1.weight&of=weight").status == 404);
    // The run goes on: a good packet after is taken.
    d.harness.push(c.port, stats ? model_stats(20, {"fc1.weight"}) : boundary(20));
    if (stats) {
      CHECK(get(d.port, "/api/model/histograms?parameter=fc1.weight&of=weight").json()["snapshots"].size() == 1);
    } else {
      CHECK(get(d.port, "/api/model/boundary").json()["step"] == 20);
    }
  }
}

TEST_CASE("plot_server: a model_stats packet of points only is taken without a complaint") {
  Dashboard d;
  auto packet = model_stats(5, {"fc1.weight"});
  packet->tensors.clear();
  packet->attributes.clear();
  d.harness.push("model_stats", packet);
  Json model = get(d.port, "/api/model").json();
  CHECK(model["refused"].empty());
  REQUIRE(model["parameters"].size() == 1);
  CHECK(model["parameters"][0]["name"] == "fc1.weight");
  CHECK(model["parameters"][0]["weight"].is_null());
}

TEST_CASE("plot_server: a viewer gets the newest histograms and a boundary's arrival live") {
  Dashboard d;
  Viewer viewer(d.port);
  CHECK(viewer.read()["type"] == "hello");
  d.harness.push("model_stats", model_stats(10, {"fc1.weight"}));
  d.harness.push("model_stats", model_stats(20, {"fc1.weight"}));
  Json m = viewer.read_until("model");
  CHECK(m["parameters_changed"] == true);
  REQUIRE(m["histograms"].size() == 2);  // the newest of each (parameter, of)
  CHECK(m["histograms"][0]["parameter"] == "fc1.weight");
  CHECK(m["histograms"][0]["step"] == 20);
  CHECK(m["histograms"][0]["counts"].size() == 8);
  d.harness.push("boundary", boundary(30));
  Json b = viewer.read_until("boundary");
  CHECK(b["boundary"]["step"] == 30);
  CHECK(b["boundary"]["grid"] == 4);
  CHECK_FALSE(b["boundary"].contains("cells"));  // fetched with GET /api/model/boundary
}

TEST_CASE("plot_server: live histograms come in messages of a bounded size, every histogram in turn") {
  Dashboard d;
  Viewer viewer(d.port);
  CHECK(viewer.read()["type"] == "hello");
  std::vector<std::string> parameters;
  for (int i = 0; i < 64; ++i) parameters.push_back("layer" + std::to_string(i) + ".weight");
  d.harness.push("model_stats", model_stats(10, parameters, 1024));  // 128 histograms of 1024 bins
  std::set<std::string> seen;
  while (seen.size() < 128) {
    Json m = viewer.read_until("model");
    std::size_t bins = 0;
    for (const auto& h : m["histograms"]) {
      bins += h["counts"].size();
      seen.insert(h["parameter"].get<std::string>() + "/" + h["of"].get<std::string>());
    }
    CHECK(bins <= ModelStore::kLiveValues);
  }
  CHECK(seen.size() == 128);
}

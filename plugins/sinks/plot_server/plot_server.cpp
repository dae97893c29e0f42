#include "plot_server/plot_server.hpp"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <thread>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <stdexcept>

#include "export/value_json.hpp"
#include "plot_server/bundle.hpp"
#include "plot_server/http_server.hpp"
#include "plot_server/http_util.hpp"

namespace tributary::sinks {

namespace {

using Clock = std::chrono::steady_clock;

constexpr std::size_t kMaxLogLines = 10000;
constexpr std::size_t kMaxLogMessage = 4096;
constexpr std::size_t kMaxControls = 200;
constexpr std::size_t kLivePointsPerSeries = 5000;
constexpr std::size_t kLiveLogLines = 1000;
constexpr auto kControlWait = std::chrono::seconds(5);
// A request for every node is answered once no more replies came for this long.
constexpr auto kControlSettle = std::chrono::milliseconds(300);

Json json_of(const Value& v) { return value_json<Json>(v); }

std::string random_token() {
  std::random_device device;
  std::string token;
  const char* digits = "0123456789abcdef";
  for (int i = 0; i < 32; ++i) token += digits[device() % 16];
  return token;
}

// CPU time of this process (seconds) and its resident memory (bytes), from /proc/self.
std::pair<double, double> process_usage() {
  double cpu = 0.0;
  double rss = 0.0;
  std::ifstream stat("/proc/self/stat");
  std::string text((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
  const auto paren = text.rfind(')');
  if (paren != std::string::npos) {
    std::istringstream fields(text.substr(paren + 2));
    std::string field;
    double utime = 0;
    double stime = 0;
    for (int i = 3; i <= 15 && fields >> field; ++i) {
      if (i == 14) utime = std::atof(field.c_str());
      if (i == 15) stime = std::atof(field.c_str());
    }
    cpu = (utime + stime) / static_cast<double>(::sysconf(_SC_CLK_TCK));
  }
  std::ifstream statm("/proc/self/statm");
  double pages = 0;
  double resident = 0;
  if (statm >> pages >> resident) rss = resident * static_cast<double>(::sysconf(_SC_PAGESIZE));
  return {cpu, rss};
}

std::optional<LogLevel> parse_level(const std::string& text) {
  for (LogLevel l : {LogLevel::trace, LogLevel::debug, LogLevel::info, LogLevel::warn, LogLevel::error}) {
    if (text == to_string(l)) return l;
  }
  return std::nullopt;
}

}  // namespace

struct PlotServer::Status {
  std::string state = "starting";
  std::string reason;
  double start_time = 0.0;
  std::int64_t epoch = -1;
  std::int64_t epochs = -1;
  std::int64_t step = -1;
  std::optional<double> progress;
  std::optional<double> eta_s;
  std::optional<double> samples_per_s;
  struct Best {
    std::string name;
    double value = 0.0;
    std::int64_t step = -1;
    std::int64_t epoch = -1;
  };
  std::optional<Best> best;
  struct Checkpoint {
    std::string path;
    std::int64_t step = -1;
    std::int64_t epoch = -1;
    double time = 0.0;
  };
  std::optional<Checkpoint> newest_checkpoint;
  std::optional<Checkpoint> best_checkpoint;
  std::map<std::string, std::map<std::string, double>> telemetry;  // node -> field -> value
  double cpu_s = 0.0;
  double cpu_percent = 0.0;
  double rss_bytes = 0.0;
  Clock::time_point sampled{};
  Json graph;  // nodes and links, from the run as declared
};

struct PlotServer::ControlEntry {
  std::uint64_t id = 0;
  double time = 0.0;
  std::string verb;
  std::string target;
  std::string key;
  Json value;
  std::string sender;
  std::vector<ControlReply> replies;
};

struct PlotServer::PendingControl {
  std::uint64_t id = 0;
  std::function<void(HttpResponse)> respond;
  Clock::time_point deadline;
  bool one_reply = true;  // aimed at one node, or answered by the runtime: the first reply is all
  std::size_t replies_seen = 0;
  Clock::time_point last_reply;
};

struct PlotServer::LogLine {
  std::uint64_t seq = 0;
  double time = 0.0;
  std::string node;
  LogLevel level = LogLevel::info;
  std::string message;
};

namespace {

Json reply_json(const ControlReply& r) {
  return Json{{"id", r.id}, {"node", r.node}, {"accepted", r.accepted}, {"step", r.step}, {"text", r.text}};
}

Json request_json(const PlotServer::ControlEntry& e) {
  return Json{{"id", e.id},   {"verb", e.verb},   {"target", e.target},
              {"key", e.key}, {"value", e.value}, {"sender", e.sender}};
}

Json log_json(const PlotServer::LogLine& l) {
  return Json{
      {"seq", l.seq}, {"time", l.time}, {"node", l.node}, {"level", to_string(l.level)}, {"message", l.message}};
}

Json telemetry_json(const std::map<std::string, std::map<std::string, double>>& telemetry) {
  Json nodes = Json::object();
  for (const auto& [node, fields] : telemetry) {
    Json n = Json::object();
    for (const char* key : {"packets_in", "packets_out", "drops", "queue_depth", "busy_s", "bus_drops"}) {
      auto it = fields.find(key);
      n[key] = it == fields.end() ? Json(0) : number_or_null(it->second);
    }
    for (const auto& [key, value] : fields) {
      if (!n.contains(key)) n[key] = number_or_null(value);
    }
    nodes[node] = std::move(n);
  }
  return nodes;
}

}  // namespace

void PlotServer::declare(NodeSpec& spec) {
  spec.summary(
      "serves a live dashboard of the run (curves, status, graph, logs, controls) over HTTP and WebSocket; "
      "the API is public (see API.md)");
  spec.input(kMetrics);
  spec.input(kModelStats);
  spec.input(kBoundary);
  spec.input(kTelemetry);
  spec.input(kLogs);
  spec.input(kControl);
  spec.param<std::string>("host", "127.0.0.1",
                          "the address to listen on; anything but loopback needs a token for control");
  spec.param<std::int64_t>("port", 8080, "the TCP port; 0 picks a free one (the URL is logged at start)")
      .range(0, 65535);
  spec.param<std::string>("token", "",
                          "what POST /api/control needs (Bearer or ?token=); empty: none on loopback, a random "
                          "one (logged) elsewhere");
  spec.param<std::int64_t>("history", 100000,
                           "points kept in memory per series; older ones go to a file in the run directory and "
                           "are still served")
      .min(16);
  spec.param<std::string>("title", "", "the page's title; empty: the pipeline's name");
  spec.param<bool>("linger", false,
                   "once the run's data is done, keep the dashboard up until the run is asked to stop (Ctrl-C); "
                   "the run still counts as finished");
  spec.example(R"([pipeline]
name  = "digits"
links = [ "rows -> train", "train.metrics -> dash.metrics" ]

[nodes.dash]
plugin = "plot_server"
port   = 8080   # --set dash.port=0 picks a free one)");
}

PlotServer::PlotServer() : model_(std::make_unique<ModelStore>()), status_(std::make_unique<Status>()) {}
PlotServer::~PlotServer() { stop(); }

void PlotServer::configure(const Params& params) {
  host_ = params.get<std::string>("host");
  port_param_ = params.get<std::int64_t>("port");
  token_ = params.get<std::string>("token");
  history_ = params.get<std::int64_t>("history");
  title_ = params.get<std::string>("title");
  linger_ = params.get<bool>("linger");
  if (host_.empty()) throw ParamError("host", "must name an address, e.g. 127.0.0.1");
  // A port in use is reported before anything starts; start() reports it again if taken since.
  if (port_param_ != 0) {
    try {
      check_port_free(host_, static_cast<unsigned short>(port_param_), context().node_name());
    } catch (const std::exception& e) {
      throw ParamError("port", e.what());
    }
  }
}

void PlotServer::start() {
  const RunView& run = context().run();
  if (title_.empty()) title_ = run.name;
  if (token_.empty() && !is_loopback_host(host_)) token_ = random_token();
  token_required_ = !token_.empty();
  store_ = std::make_unique<SeriesStore>(static_cast<std::size_t>(history_),
                                         context().run_dir() + "/" + context().node_name() + "-series");
  {
    std::lock_guard<std::mutex> lock(mutex_);
    status_->start_time = run.start_time > 0.0 ? run.start_time : wall_time_s();
    Json nodes = Json::array();
    for (const auto& n : run.nodes) {
      nodes.push_back(Json{{"name", n.name},
                           {"type", n.type},
                           {"family", n.family},
                           {"inputs", n.inputs},
                           {"outputs", n.outputs},
                           {"concurrency", n.concurrency},
                           {"source", n.source},
                           {"line", n.line}});
    }
    Json links = Json::array();
    for (const auto& l : run.links) {
      links.push_back(Json{{"from", l.from},
                           {"from_port", l.from_port},
                           {"to", l.to},
                           {"to_port", l.to_port},
                           {"policy", l.policy},
                           {"capacity", l.capacity},
                           {"text", l.text}});
    }
    status_->graph = Json{{"nodes", std::move(nodes)}, {"links", std::move(links)}};
  }
  past_runs_ = std::make_unique<PastRuns>(
      static_cast<RunHistory*>(context().extension(RunHistory::kName, RunHistory::kVersion)));
  HttpServerOptions options;
  options.host = host_;
  options.port = static_cast<unsigned short>(port_param_);
  options.node = context().node_name();
  server_ = std::make_unique<HttpServer>(
      options, [this](HttpRequest request, HttpServer::Respond respond) { handle(std::move(request), respond); },
      [this] { return hello(); }, [this] { on_tick(); });
  server_->start();
  url_ = "http://" + host_ + ":" + std::to_string(server_->port()) + "/" +
         (token_required_ ? "?token=" + token_ : std::string());
  log().info("dashboard at ", url_);
}

void PlotServer::stop() {
  if (server_) {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      answer_ready_controls(true);
    }
    past_runs_->stop();
    server_->stop();
    server_.reset();
  }
  std::lock_guard<std::mutex> lock(mutex_);
  pending_.clear();
}

void PlotServer::flush(Emitter&) {
  if (!linger_ || !server_) return;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    status_->state = "finished";
    status_->reason = "the dashboard stays up until Ctrl-C";
    ++status_version_;
  }
  log().info("the run's data is done; the dashboard stays up at ", url_, " until Ctrl-C");
  while (!context().stop_requested()) std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

unsigned short PlotServer::port() const noexcept { return server_ ? server_->port() : 0; }
std::uint64_t PlotServer::dropped_viewers() const noexcept { return server_ ? server_->dropped_viewers() : 0; }

// ---- what comes in ------------------------------------------------------------------------
void PlotServer::process(const InputPort& port, const PacketPtr& packet, Emitter&) {
  if (!packet || !store_) return;
  if (&port == &kMetrics) {
    add_metrics(*packet);
  } else if (&port == &kModelStats || &port == &kBoundary) {
    add_model(port, *packet);
  } else if (&port == &kTelemetry) {
    add_telemetry(*packet);
  } else if (&port == &kLogs) {
    add_logs(*packet);
  } else if (&port == &kControl) {
    add_control(*packet);
  }
}

void PlotServer::add_metrics(const Packet& packet) {
  store_->add(packet.stream, packet.metrics);
  std::lock_guard<std::mutex> lock(mutex_);
  Status& s = *status_;
  for (const MetricPoint& p : packet.metrics) {
    if (p.step > s.step) s.step = p.step;
    if (p.name == metric::kEpoch) {
      const auto epoch = static_cast<std::int64_t>(std::llround(p.value));
      if (epoch != s.epoch) ++status_version_;
      s.epoch = epoch;
    } else if (p.epoch > s.epoch) {
      s.epoch = p.epoch;
      ++status_version_;
    }
    if (p.name == metric::kProgress) {
      s.progress = p.value;
    } else if (p.name == metric::kEpochs) {
      s.epochs = std::llround(p.value);
      ++status_version_;
    } else if (p.name == metric::kEtaSeconds) {
      s.eta_s = p.value;
    } else if (p.name == metric::kSamplesPerSecond) {
      s.samples_per_s = p.value;
    } else if (p.name.rfind("best/", 0) == 0) {
      s.best = Status::Best{p.name.substr(5), p.value, p.step, p.epoch};
      ++status_version_;
    }
  }
}

void PlotServer::add_telemetry(const Packet& packet) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const MetricPoint& p : packet.metrics) {
    const std::string& node = p.node.empty() ? packet.stream : p.node;
    if (p.name.rfind("telemetry/", 0) == 0) {
      status_->telemetry[node][p.name.substr(10)] = p.value;
      telemetry_changed_ = true;
    } else {
      store_->add(node, p.name, SeriesPoint{p.step, p.epoch, p.time, p.value, 0});
    }
  }
}

void PlotServer::add_logs(const Packet& packet) {
  std::lock_guard<std::mutex> lock(mutex_);
  for (const LogRecord& r : packet.logs) {
    LogLine line{++log_seq_, r.time, r.node, r.level, r.message};
    if (line.message.size() > kMaxLogMessage) line.message.resize(kMaxLogMessage);
    logs_.push_back(std::move(line));
    if (logs_.size() > kMaxLogLines) logs_.pop_front();
  }
}

void PlotServer::add_control(const Packet& packet) {
  std::lock_guard<std::mutex> lock(mutex_);
  Status& s = *status_;
  auto entry_for = [&](std::uint64_t id) -> ControlEntry& {
    for (auto& e : controls_) {
      if (e.id == id) return e;
    }
    controls_.push_back(ControlEntry{});
    controls_.back().id = id;
    controls_.back().time = wall_time_s();
    if (controls_.size() > kMaxControls) controls_.pop_front();
    return controls_.back();
  };
  if (auto request = control_request(packet)) {
    ControlEntry& e = entry_for(request->id);
    e.verb = to_string(request->verb);
    e.target = request->target;
    e.key = request->key;
    e.value = json_of(request->value);
    e.sender = request->sender;
    if (request->target.empty()) {
      if (request->verb == ControlVerb::pause) s.state = "paused";
      if (request->verb == ControlVerb::resume) s.state = "running";
      if (request->verb == ControlVerb::stop) s.state = "stopping";
    }
    ++status_version_;
  } else if (auto reply = control_reply(packet)) {
    ControlEntry& e = entry_for(reply->id);
    e.replies.push_back(*reply);
    outbox_.push_back(dump(Json{{"type", "control"}, {"request", request_json(e)}, {"reply", reply_json(*reply)}}));
    ++status_version_;
    answer_ready_controls(false);
  } else if (auto state = run_state(packet)) {
    s.state = state->state;
    s.reason = state->reason;
    ++status_version_;
  } else if (auto note = artifact_note(packet)) {
    if (note->kind == "checkpoint") {
      Status::Checkpoint c{note->path, note->step, note->epoch, note->time};
      s.newest_checkpoint = c;
      if (note->best) s.best_checkpoint = c;
      ++status_version_;
    }
  }
}

// ---- model views --------------------------------------------------------------------------
void PlotServer::add_model(const InputPort& port, const Packet& packet) {
  ModelStore::Verdict verdict;
  if (&port == &kModelStats) {
    add_metrics(packet);
    model_->note_points(packet.metrics);
    verdict = model_->add_stats(packet);
  } else {
    verdict = model_->add_boundary(packet);
  }
  // Logged once per kind of fault, so a trainer that sends the same wrong packet every step does
  // not flood the log; /api/model counts them all.
  if (verdict.first) {
    log().warn("ignored a ", port.name, " packet from '", packet.stream, "': ", verdict.what,
               " (later ones like it are counted in GET /api/model, not logged)");
  }
}

// GET /api/model, /api/model/histograms, /api/model/boundary; false for any other path.
bool PlotServer::handle_model(const HttpRequest& request, std::function<void(HttpResponse)>& respond) {
  const std::string& path = request.path;
  if (path != "/api/model" && path != "/api/model/histograms" && path != "/api/model/boundary") return false;
  if (request.method != "GET" && request.method != "HEAD") {
    HttpResponse r = error_response(405, "use GET on " + path);
    r.headers.emplace_back("Allow", "GET");
    respond(std::move(r));
    return true;
  }
  const auto query = parse_query(request.query);
  if (path == "/api/model") {
    respond(HttpResponse{200, "application/json", model_json(*model_), {}});
  } else if (path == "/api/model/histograms") {
    const auto parameter = query.find("parameter");
    const auto of = query.find("of");
    if (parameter == query.end() || parameter->second.empty())
      throw std::invalid_argument("'parameter' is needed: a parameter's name, as GET /api/model lists them");
    if (of == query.end() || (of->second != "weight" && of->second != "grad"))
      throw std::invalid_argument("'of' must be weight or grad");
    auto body = histograms_json(*model_, parameter->second, of->second);
    if (!body) {
      respond(error_response(404, "no " + of->second + " histograms of '" + parameter->second +
                                      "'; GET /api/model lists what there is (link train.model_stats -> " +
                                      context().node_name() + ".model_stats)"));
      return true;
    }
    respond(HttpResponse{200, "application/json", std::move(*body), {}});
  } else {
    std::optional<std::int64_t> step;
    if (auto it = query.find("step"); it != query.end() && !it->second.empty())
      step = parse_integer("step", it->second, -1, INT64_MAX);
    const auto boundary = model_->boundary(step);
    if (!boundary) {
      const std::string node = context().node_name();
      respond(error_response(
          404, step ? "no boundary of step " + std::to_string(*step) + " is kept; GET /api/model lists those that are"
                    : "no boundary yet (link train.boundary -> " + node + ".boundary)"));
      return true;
    }
    respond(HttpResponse{200, "application/json", boundary_json(*boundary), {}});
  }
  return true;
}

// ---- control ------------------------------------------------------------------------------
void PlotServer::answer_ready_controls(bool all) {
  const auto now = Clock::now();
  std::size_t kept = 0;
  for (std::size_t i = 0; i < pending_.size(); ++i) {
    PendingControl& p = pending_[i];
    const ControlEntry* entry = nullptr;
    for (const auto& e : controls_) {
      if (e.id == p.id) entry = &e;
    }
    const std::size_t replies = entry == nullptr ? 0 : entry->replies.size();
    if (replies != p.replies_seen) {
      p.replies_seen = replies;
      p.last_reply = now;
    }
    const bool ready =
        all || now >= p.deadline || (replies > 0 && (p.one_reply || now - p.last_reply >= kControlSettle));
    if (!ready) {
      if (kept != i) pending_[kept] = std::move(p);
      ++kept;
      continue;
    }
    Json list = Json::array();
    if (entry != nullptr) {
      for (const auto& r : entry->replies)
        list.push_back(Json{{"node", r.node}, {"accepted", r.accepted}, {"step", r.step}, {"text", r.text}});
    }
    p.respond(json_response(200, Json{{"id", p.id}, {"replies", std::move(list)}}));
  }
  pending_.resize(kept);
}

void PlotServer::handle_control(const HttpRequest& request, std::function<void(HttpResponse)>& respond) {
  if (token_required_) {
    std::string given;
    const std::string bearer = "Bearer ";
    if (request.authorization.rfind(bearer, 0) == 0) given = request.authorization.substr(bearer.size());
    if (given.empty()) {
      try {
        auto query = parse_query(request.query);
        if (auto it = query.find("token"); it != query.end()) given = it->second;
      } catch (const std::exception&) {
      }
    }
    if (given.empty()) {
      respond(error_response(401, "control needs the token: Authorization: Bearer TOKEN, or ?token=TOKEN"));
      return;
    }
    if (given != token_) {
      respond(error_response(403, "wrong token"));
      return;
    }
  }
  Json body;
  try {
    body = Json::parse(request.body);
  } catch (const std::exception& e) {
    respond(error_response(400, std::string("the body is not JSON: ") + e.what()));
    return;
  }
  if (!body.is_object()) {
    respond(error_response(400, "the body must be a JSON object {\"verb\", \"target\", \"key\", \"value\"}"));
    return;
  }
  auto text_field = [&](const char* key) -> std::optional<std::string> {
    if (!body.contains(key) || body[key].is_null()) return std::string();
    if (!body[key].is_string()) return std::nullopt;
    return body[key].get<std::string>();
  };
  const auto verb_text = text_field("verb");
  const auto target = text_field("target");
  const auto key = text_field("key");
  if (!verb_text || !target || !key) {
    respond(error_response(400, "verb, target and key must be strings"));
    return;
  }
  const auto verb = parse_control_verb(*verb_text);
  if (!verb) {
    respond(error_response(400, "unknown verb '" + *verb_text + "'; use stop, pause, resume, set or checkpoint"));
    return;
  }
  Value value;
  if (body.contains("value")) {
    const Json& v = body["value"];
    if (v.is_boolean()) {
      value = Value(v.get<bool>());
    } else if (v.is_number_integer()) {
      value = Value(v.get<std::int64_t>());
    } else if (v.is_number()) {
      value = Value(v.get<double>());
    } else if (v.is_string()) {
      value = Value(v.get<std::string>());
    } else if (!v.is_null()) {
      respond(error_response(400, "value must be a number, a boolean or a string"));
      return;
    }
  }
  if (*verb == ControlVerb::set && (key->empty() || value.is_none())) {
    respond(error_response(400,
                           "set needs a key and a value, e.g. {\"verb\": \"set\", \"target\": \"train\", "
                           "\"key\": \"lr\", \"value\": 0.001}"));
    return;
  }
  ControlMessage message(*verb, *target, *key, value);
  const std::uint64_t id = context().send_control(message);
  if (id == 0) {
    respond(error_response(503, "the control bus is not available"));
    return;
  }
  std::lock_guard<std::mutex> lock(mutex_);
  ControlEntry* entry = nullptr;
  for (auto& e : controls_) {
    if (e.id == id) entry = &e;
  }
  if (entry == nullptr) {
    controls_.push_back(ControlEntry{});
    entry = &controls_.back();
    entry->id = id;
    entry->time = wall_time_s();
  }
  if (entry->verb.empty()) {  // its replies came before the request did
    entry->verb = *verb_text;
    entry->target = *target;
    entry->key = *key;
    entry->value = json_of(value);
    entry->sender = context().node_name();
  }
  if (controls_.size() > kMaxControls) controls_.pop_front();
  PendingControl p;
  p.id = id;
  p.respond = std::move(respond);
  p.deadline = Clock::now() + kControlWait;
  p.one_reply = !(*verb == ControlVerb::checkpoint && target->empty());
  p.last_reply = Clock::now();
  pending_.push_back(std::move(p));
  answer_ready_controls(false);
}

// ---- routes -------------------------------------------------------------------------------
void PlotServer::handle(HttpRequest request, std::function<void(HttpResponse)> respond) {
  const std::string& path = request.path;
  const bool get = request.method == "GET" || request.method == "HEAD";
  auto only = [&](const char* method) {
    HttpResponse r = error_response(405, "use " + std::string(method) + " on " + path);
    r.headers.emplace_back("Allow", method);
    respond(std::move(r));
  };
  try {
    if (path == "/api/control") {
      if (request.method != "POST") return only("POST");
      handle_control(request, respond);
      return;
    }
    const bool api = path.rfind("/api/", 0) == 0;
    if (!api) {
      std::string file = path == "/" ? "index.html" : path.substr(1);
      const BundleFile* f = (path == "/" || path.rfind("/assets/", 0) == 0) ? find_bundle_file(file) : nullptr;
      if (f == nullptr) {
        respond(error_response(404, "no page or file at " + path));
        return;
      }
      if (!get) return only("GET");
      respond(HttpResponse{200, f->content_type, std::string(reinterpret_cast<const char*>(f->data), f->size), {}});
      return;
    }
    if (handle_model(request, respond)) return;
    if (past_runs_->handle(request, respond)) return;
    const bool series_one = path.rfind("/api/series/", 0) == 0;
    if (path != "/api/run" && path != "/api/graph" && path != "/api/series" && path != "/api/logs" &&
        path != "/api/live" && !series_one) {
      respond(error_response(404, "no route " + path +
                                      "; see API.md: /api/run, /api/graph, /api/series, "
                                      "/api/series/NAME, /api/logs, /api/control, /api/live, /api/model, /api/runs"));
      return;
    }
    if (!get) return only("GET");
    const auto query = parse_query(request.query);
    if (path == "/api/live") {
      respond(error_response(426, "/api/live is a WebSocket: connect with Upgrade: websocket"));
    } else if (path == "/api/run") {
      std::lock_guard<std::mutex> lock(mutex_);
      respond(HttpResponse{200, "application/json", status_json(), {}});
    } else if (path == "/api/graph") {
      respond(HttpResponse{200, "application/json", graph_json(), {}});
    } else if (path == "/api/series") {
      respond(HttpResponse{200, "application/json", series_json(), {}});
    } else if (series_one) {
      const auto name = percent_decode(path.substr(std::string("/api/series/").size()), false);
      if (!name || name->empty()) {
        respond(error_response(400, "a series name, percent-encoded, follows /api/series/"));
        return;
      }
      SeriesQuery q;
      if (auto it = query.find("from"); it != query.end() && !it->second.empty())
        q.from = parse_number("from", it->second);
      if (auto it = query.find("to"); it != query.end() && !it->second.empty()) q.to = parse_number("to", it->second);
      if (auto it = query.find("points"); it != query.end())
        q.points = static_cast<std::size_t>(parse_integer("points", it->second, 1, 1000000));
      if (auto it = query.find("x"); it != query.end()) {
        if (it->second == "step") {
          q.x = SeriesAxis::step;
        } else if (it->second == "time") {
          q.x = SeriesAxis::time;
        } else {
          throw std::invalid_argument("'x' must be step or time, not '" + it->second + "'");
        }
      }
      if (q.from && q.to && *q.from > *q.to) throw std::invalid_argument("'from' is after 'to'");
      const auto view = store_->query(*name, q);
      if (!view) {
        respond(error_response(404, "no series '" + *name + "'; GET /api/series lists them"));
        return;
      }
      Json points = Json::array();
      for (const auto& [x, y] : view->points) points.push_back(Json::array({x, number_or_null(y)}));
      respond(json_response(200, Json{{"name", *name},
                                      {"x", q.x == SeriesAxis::step ? "step" : "time"},
                                      {"length", view->length},
                                      {"last_seq", view->last_seq},
                                      {"decimated", view->decimated},
                                      {"points", std::move(points)}}));
    } else {  // /api/logs
      LogLevel level = LogLevel::trace;
      std::uint64_t after = 0;
      std::size_t limit = 1000;
      std::string search;
      if (auto it = query.find("level"); it != query.end() && !it->second.empty()) {
        auto l = parse_level(it->second);
        if (!l)
          throw std::invalid_argument("'level' must be trace, debug, info, warn or error, not '" + it->second + "'");
        level = *l;
      }
      if (auto it = query.find("after"); it != query.end() && !it->second.empty())
        after = static_cast<std::uint64_t>(parse_integer("after", it->second, 0, INT64_MAX));
      if (auto it = query.find("limit"); it != query.end())
        limit =
            static_cast<std::size_t>(parse_integer("limit", it->second, 1, static_cast<std::int64_t>(kMaxLogLines)));
      if (auto it = query.find("search"); it != query.end()) search = it->second;
      std::lock_guard<std::mutex> lock(mutex_);
      Json lines = Json::array();
      std::uint64_t next = std::max(after, log_seq_);
      for (const LogLine& l : logs_) {
        if (l.seq <= after || l.level < level) continue;
        if (!search.empty() && l.message.find(search) == std::string::npos && l.node.find(search) == std::string::npos)
          continue;
        if (lines.size() >= limit) {
          next = l.seq - 1;
          break;
        }
        lines.push_back(log_json(l));
      }
      respond(json_response(200, Json{{"lines", std::move(lines)}, {"next", next}}));
    }
  } catch (const std::invalid_argument& e) {
    respond(error_response(400, e.what()));
  }
}

// ---- what goes out ------------------------------------------------------------------------
// The caller holds mutex_.
std::string PlotServer::status_json() const {
  Status& s = *status_;
  const auto now = Clock::now();
  if (s.sampled == Clock::time_point{} || now - s.sampled >= std::chrono::milliseconds(500)) {
    const auto [cpu, rss] = process_usage();
    if (s.sampled != Clock::time_point{}) {
      const double wall = std::chrono::duration<double>(now - s.sampled).count();
      s.cpu_percent = wall > 0.0 ? 100.0 * (cpu - s.cpu_s) / wall : 0.0;
    }
    s.cpu_s = cpu;
    s.rss_bytes = rss;
    s.sampled = now;
  }
  const RunView& run = context().run();
  auto optional_number = [](const std::optional<double>& v) { return v ? number_or_null(*v) : Json(nullptr); };
  auto checkpoint = [](const std::optional<Status::Checkpoint>& c) {
    if (!c) return Json(nullptr);
    return Json{{"path", c->path}, {"step", c->step}, {"epoch", c->epoch}, {"time", c->time}};
  };
  Json best = nullptr;
  if (s.best)
    best = Json{{"name", s.best->name},
                {"value", number_or_null(s.best->value)},
                {"step", s.best->step},
                {"epoch", s.best->epoch}};
  Json controls = Json::array();
  const std::size_t first = controls_.size() > 50 ? controls_.size() - 50 : 0;
  for (std::size_t i = first; i < controls_.size(); ++i) {
    const ControlEntry& e = controls_[i];
    Json replies = Json::array();
    for (const auto& r : e.replies) replies.push_back(reply_json(r));
    controls.push_back(Json{{"id", e.id},
                            {"time", e.time},
                            {"verb", e.verb},
                            {"target", e.target},
                            {"key", e.key},
                            {"value", e.value},
                            {"sender", e.sender},
                            {"replies", std::move(replies)}});
  }
  Json j{{"id", run.id},
         {"name", run.name},
         {"title", title_},
         {"pipeline", run.pipeline_path},
         {"dir", run.dir},
         {"state", s.state},
         {"reason", s.reason},
         {"start_time", s.start_time},
         {"elapsed_s", std::max(0.0, wall_time_s() - s.start_time)},
         {"epoch", s.epoch},
         {"epochs", s.epochs >= 0 ? Json(s.epochs) : Json(nullptr)},
         {"step", s.step},
         {"progress", optional_number(s.progress)},
         {"eta_s", optional_number(s.eta_s)},
         {"samples_per_s", optional_number(s.samples_per_s)},
         {"best", std::move(best)},
         {"checkpoints", Json{{"newest", checkpoint(s.newest_checkpoint)}, {"best", checkpoint(s.best_checkpoint)}}},
         {"process", Json{{"cpu_percent", s.cpu_percent}, {"rss_bytes", s.rss_bytes}}},
         {"token_required", token_required_},
         {"controls", std::move(controls)}};
  return dump(j);
}

std::string PlotServer::graph_json() const {
  std::lock_guard<std::mutex> lock(mutex_);
  Json j = status_->graph;
  j["telemetry"] = telemetry_json(status_->telemetry);
  return dump(j);
}

std::string PlotServer::series_json() const {
  Json list = Json::array();
  for (const SeriesInfo& s : store_->list()) {
    list.push_back(Json{{"name", s.name},
                        {"node", s.node},
                        {"metric", s.metric},
                        {"length", s.length},
                        {"first_step", s.first_step},
                        {"last_step", s.last_step},
                        {"last_value", number_or_null(s.last_value)},
                        {"last_time", s.last_time}});
  }
  return dump(Json{{"series", std::move(list)}});
}

std::string PlotServer::hello() const {
  Json j{{"type", "hello"}};
  {
    std::lock_guard<std::mutex> lock(mutex_);
    j["run"] = Json::parse(status_json());
  }
  j["graph"] = Json::parse(graph_json());
  j["series"] = Json::parse(series_json())["series"];
  return dump(j);
}

// Every 50 ms on the server's thread: what is new goes to every viewer.
void PlotServer::on_tick() {
  std::vector<std::string> messages;
  const bool viewers = server_ && server_->viewers() > 0;
  auto fresh = store_->take_new(kLivePointsPerSeries);
  if (viewers && !fresh.empty()) {
    Json series = Json::array();
    for (const auto& [name, points] : fresh) {
      Json list = Json::array();
      for (const SeriesPoint& p : points)
        list.push_back(Json::array({p.step, p.epoch, p.time, number_or_null(p.value), p.seq}));
      series.push_back(Json{{"name", name}, {"points", std::move(list)}});
    }
    messages.push_back(dump(Json{{"type", "points"}, {"series", std::move(series)}}));
  }
  auto model = model_->take_new();
  if (viewers) {
    for (auto& m : model_live_messages(model)) messages.push_back(std::move(m));
  }
  std::lock_guard<std::mutex> lock(mutex_);
  answer_ready_controls(false);
  if (log_seq_ > logs_sent_) {
    if (viewers) {
      Json lines = Json::array();
      const std::uint64_t from = std::max(logs_sent_, log_seq_ > kLiveLogLines ? log_seq_ - kLiveLogLines : 0);
      for (const LogLine& l : logs_) {
        if (l.seq > from) lines.push_back(log_json(l));
      }
      if (!lines.empty()) messages.push_back(dump(Json{{"type", "logs"}, {"lines", std::move(lines)}}));
    }
    logs_sent_ = log_seq_;
  }
  if (viewers) {
    for (auto& m : outbox_) messages.push_back(std::move(m));
  }
  outbox_.clear();
  ++ticks_;
  const bool second = ticks_ % 20 == 0;
  if (second && telemetry_changed_) {
    if (viewers) messages.push_back(dump(Json{{"type", "telemetry"}, {"nodes", telemetry_json(status_->telemetry)}}));
    telemetry_changed_ = false;
  }
  if (status_version_ != status_sent_ || (second && status_->step != step_sent_)) {
    if (viewers) messages.push_back("{\"type\":\"run\",\"run\":" + status_json() + "}");
    status_sent_ = status_version_;
    step_sent_ = status_->step;
  }
  for (auto& m : messages) server_->broadcast(std::move(m));
}

}  // namespace tributary::sinks

#pragma once
// plot_server: a live dashboard of the run, served over HTTP and WebSocket from inside the
// process, with control over the run (stop, pause, resume, set, checkpoint).
//
//   [nodes.dash]
//   plugin = "plot_server"
//   port   = 8080          # 0 picks a free one; the URL is logged at start
//
//   links = [ "train.metrics -> dash.metrics" ]
//
// It keeps every metric series (the newest `history` points of each in memory, older ones in a
// file under the run directory), the log lines, the latest telemetry of every node and the run's
// status, and pushes what is new to each viewer at most every 50 ms. The pipeline never waits for
// a browser: process() only appends under a short lock; a viewer that does not read is dropped.
// The routes and messages are in API.md beside this file.
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "plot_server/model_store.hpp"
#include "plot_server/past_runs.hpp"
#include "plot_server/series_store.hpp"
#include "tributary/node.hpp"

namespace tributary::sinks {

class HttpServer;
struct HttpRequest;
struct HttpResponse;

class PlotServer final : public Node {
 public:
  static constexpr const char* kType = "plot_server";
  static constexpr InputPort kMetrics{"metrics", PayloadKind::metrics,
                                      "metric points to plot (a trainer's metrics), as series NODE:METRIC", Feed::links,
                                      true};
  static constexpr InputPort kModelStats{"model_stats", PayloadKind::metrics,
                                         "per-layer statistics (weights, gradients) as model/P/... series, and "
                                         "their histograms (tensors), for the model views",
                                         Feed::links, true};
  static constexpr InputPort kBoundary{"boundary", PayloadKind::features,
                                       "the decision boundary on a grid with the points projected on it, for the "
                                       "model views",
                                       Feed::links, true};
  static constexpr InputPort kTelemetry{"telemetry", PayloadKind::telemetry,
                                        "every node's telemetry, from the runtime's bus", Feed::telemetry};
  static constexpr InputPort kLogs{"logs", PayloadKind::log, "every log line, from the runtime's bus", Feed::logs};
  static constexpr InputPort kControl{"control", PayloadKind::control,
                                      "control requests, replies, run states and artifacts, from the bus",
                                      Feed::control};
  static void declare(NodeSpec& spec);

  PlotServer();
  ~PlotServer() override;

  void configure(const Params& params) override;
  void start() override;
  void process(const InputPort& port, const PacketPtr& packet, Emitter& out) override;
  // With linger: waits until the run is asked to stop, serving the finished run meanwhile.
  void flush(Emitter& out) override;
  void stop() override;

  // For tests: the port bound, the URL logged, the store, the viewers dropped for not reading.
  unsigned short port() const noexcept;
  const std::string& url() const noexcept { return url_; }
  const std::string& token() const noexcept { return token_; }
  const SeriesStore& store() const { return *store_; }
  const ModelStore& model() const { return *model_; }
  std::uint64_t dropped_viewers() const noexcept;

  struct Status;
  struct ControlEntry;
  struct PendingControl;
  struct LogLine;

 private:
  void handle(HttpRequest request, std::function<void(HttpResponse)> respond);
  void handle_control(const HttpRequest& request, std::function<void(HttpResponse)>& respond);
  void on_tick();
  std::string hello() const;
  std::string status_json() const;
  std::string graph_json() const;
  std::string series_json() const;
  void add_metrics(const Packet& packet);
  void add_model(const InputPort& port, const Packet& packet);
  bool handle_model(const HttpRequest& request, std::function<void(HttpResponse)>& respond);
  void add_telemetry(const Packet& packet);
  void add_logs(const Packet& packet);
  void add_control(const Packet& packet);
  void answer_ready_controls(bool all);

  std::string host_;
  std::int64_t port_param_ = 8080;
  std::string token_;
  std::int64_t history_ = 100000;
  std::string title_;
  std::string url_;
  bool token_required_ = false;
  bool linger_ = false;

  std::unique_ptr<SeriesStore> store_;
  std::unique_ptr<ModelStore> model_;
  std::unique_ptr<PastRuns> past_runs_;
  std::unique_ptr<HttpServer> server_;

  // Everything below is guarded by mutex_ (the node's callbacks and the server thread).
  mutable std::mutex mutex_;
  std::unique_ptr<Status> status_;
  std::deque<LogLine> logs_;
  std::uint64_t log_seq_ = 0;
  std::uint64_t logs_sent_ = 0;
  std::deque<ControlEntry> controls_;
  std::vector<PendingControl> pending_;
  std::vector<std::string> outbox_;  // live messages to send at the next tick (control replies)
  std::uint64_t status_version_ = 0;
  std::uint64_t status_sent_ = 0;
  std::int64_t step_sent_ = -1;
  int ticks_ = 0;
  bool telemetry_changed_ = false;
};

}  // namespace tributary::sinks

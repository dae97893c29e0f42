#pragma once
// Runs a Plan on a oneTBB flow graph: one flow-graph node per pipeline node, a bounded queue
// per link with its drop policy, sources on their own threads, end of stream flowing through,
// telemetry and log buses, and a control bus.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "plan.hpp"

namespace tributary::core {

struct NodeStats {
  std::string name;
  std::string plugin;
  std::uint64_t packets_in = 0;
  std::uint64_t packets_out = 0;
  std::uint64_t drops = 0;      // dropped from the node's input queues by policy, or emitted after its end
  std::uint64_t bus_drops = 0;  // telemetry and log packets dropped because the node fell behind
  double busy_s = 0.0;
  std::int64_t queue_depth = 0;
};

struct RunResult {
  enum class Status { finished, stopped, failed };
  Status status = Status::finished;
  std::string failed_node;  // when failed
  std::string error;        // when failed: the node's message
  std::string stop_reason;  // when stopped
  std::vector<NodeStats> nodes;
  double wall_s = 0.0;
};

// Sees a run's metric points, log lines and control traffic on the thread that makes them (a
// node's, the runtime's): it copies what it keeps and returns at once. A run store is one.
class RunObserver {
 public:
  virtual ~RunObserver();
  // Every metric point of the run once: the telemetry bus (context().metric(), the runtime's
  // per-node telemetry) and metric packets emitted on output ports by the node they name.
  virtual void on_metrics(const std::vector<MetricPoint>& points) = 0;
  // Every line that reaches the log bus.
  virtual void on_log(const LogRecord& record) = 0;
  // Control-bus packets: requests, replies and the run's states (tributary/control.hpp).
  virtual void on_control(const Packet& packet) = 0;
};

class Runtime {
 public:
  Runtime(Plan& plan, Logging& logging);
  ~Runtime();
  Runtime(const Runtime&) = delete;
  Runtime& operator=(const Runtime&) = delete;

  // Starts every node, runs until every sink has flushed, stops every node. Call once.
  RunResult run();

  // Thread-safe, from any thread (signal handlers' threads, servers, tests).
  void request_stop(std::string reason);
  // Sends a control message; every reply to it ({id, node, accepted, step, text}) goes on the
  // control bus and to on_reply (on whatever thread answers). Returns an empty string when the
  // message went out, else why not (unknown node, parameter not settable...).
  using ReplyHandler = std::function<void(const ControlReply&)>;
  std::string control(ControlMessage message, ReplyHandler on_reply = {});
  // Messages sent with a handler whose replies are not all in: a handler is let go once every
  // node the message reached has answered it, passed it over, or ended.
  std::size_t awaited_replies() const;
  std::vector<NodeStats> stats() const;
  // Before run(); the observer outlives the run.
  void observe(RunObserver* observer);

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace tributary::core

#pragma once
// A validated pipeline: node instances configured from their parameters, links resolved to
// ports, queue policies decided. Built before anything starts; the runtime runs it.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "pipeline_file.hpp"
#include "plugin_registry.hpp"
#include "tributary/downstream_room.hpp"
#include "tributary/node.hpp"
#include "tributary/run_history.hpp"

namespace tributary::core {

class Logging;

struct RunInfo {
  std::string id;
  std::string dir;
};

// What the runtime lends a node's context while it runs.
class RuntimeHooks {
 public:
  virtual ~RuntimeHooks();
  virtual void publish_metric(MetricPoint point) = 0;
  virtual void request_stop(std::string reason) = 0;
  virtual bool stop_requested() const = 0;
  virtual std::uint64_t send_control(ControlMessage message) = 0;
  virtual void timer_changed() = 0;
  // A packet for the control bus from a node (an artifact it announces).
  virtual void publish_control(PacketPtr packet) = 0;
  // Waits until the blocking links below `node` have room; false when the run is stopping.
  virtual bool wait_for_room(const std::string& node) = 0;
};

class NodeContext final : public Context, private ArtifactAnnouncer {
 public:
  NodeContext(std::string name, RunInfo run, const RunView* view, std::unique_ptr<Logger> logger);
  ~NodeContext() override;
  void attach(RuntimeHooks* hooks, Emitter* emitter) noexcept {
    hooks_.store(hooks);
    emitter_.store(emitter);
  }

  const std::string& node_name() const override { return name_; }
  const std::string& run_id() const override { return run_.id; }
  const std::string& run_dir() const override { return run_.dir; }
  Logger& log() override { return *logger_; }
  void metric(std::string_view name, double value, std::int64_t step, std::int64_t epoch) override;
  void request_stop(std::string_view reason) override;
  bool stop_requested() const override;
  std::uint64_t send_control(ControlMessage message) override;
  Emitter& emitter() override;
  void set_timer(std::chrono::nanoseconds period) override;
  const RunView& run() const override { return *view_; }
  void* extension(std::string_view name, std::uint32_t version) override;

  std::int64_t timer_ns() const noexcept { return timer_ns_.load(); }
  // The run store's history, when the run is recorded; set before start().
  void offer_history(RunHistory* history) noexcept { history_.store(history); }

 private:
  void announce(ArtifactNote note) override;

  class Room final : public DownstreamRoom {
   public:
    explicit Room(NodeContext& context) : context_(&context) {}
    bool wait() override;

   private:
    NodeContext* context_;
  };
  Room room_{*this};
  std::string name_;
  RunInfo run_;
  const RunView* view_ = nullptr;
  std::atomic<std::int64_t> timer_ns_{0};
  std::unique_ptr<Logger> logger_;
  std::atomic<RuntimeHooks*> hooks_{nullptr};
  std::atomic<Emitter*> emitter_{nullptr};
  std::atomic<RunHistory*> history_{nullptr};
};

struct NodePlan {
  std::string name;
  const NodeType* type = nullptr;
  Location where;
  Params params;
  std::unique_ptr<NodeContext> context;
  std::unique_ptr<Node> node;
  bool is_source = false;
  SourceMode mode = SourceMode::pull;
  Concurrency concurrency = Concurrency::serial;  // the declared one, or concurrency_for's
  std::vector<std::size_t> bus_inputs;            // indices into type->spec.inputs() of subscribed bus ports

  NodePlan();
  ~NodePlan();
  NodePlan(NodePlan&&) noexcept;
  NodePlan& operator=(NodePlan&&) noexcept;
};

struct LinkPlan {
  std::size_t from = 0;
  std::size_t from_port = 0;  // index into the producer's outputs
  std::size_t to = 0;
  std::size_t to_port = 0;  // index into the consumer's inputs
  std::int64_t capacity = 64;
  QueuePolicy policy = QueuePolicy::block;
  bool live_edge = false;  // from a live source: its drops also keep lossless links downstream within bounds
  Location where;
  std::string text;
};

struct Plan {
  PipelineDecl decl;
  RunInfo run;
  std::unique_ptr<RunView> view;  // what nodes read through Context::run(); filled by build_plan
  std::vector<NodePlan> nodes;
  std::vector<LinkPlan> links;
  std::vector<std::size_t> order;  // topological: producers before consumers
  std::vector<Diagnostic> notes;   // what validation changed or noticed, for the user to read

  Plan();
  ~Plan();
  Plan(Plan&&) noexcept;
  Plan& operator=(Plan&&) noexcept;
};

// Checks every node, parameter and link; configures the nodes. Throws PipelineError with every
// problem found, each located in the pipeline file.
Plan build_plan(PipelineDecl decl, const PluginRegistry& registry, RunInfo run, Logging& logging);

}  // namespace tributary::core

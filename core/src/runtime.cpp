#include "runtime.hpp"

#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/global_control.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <thread>

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "logging.hpp"

namespace tributary::core {

namespace flow = oneapi::tbb::flow;
using Clock = std::chrono::steady_clock;

namespace {

enum class EnvelopeType : std::uint8_t { none, data, eos, bus, control, resume, post, tick, close };

// Markers travel the data path as packets of a kind of their own, which no port declares and no
// node's process() sees.
constexpr auto kMarkerKind = static_cast<PayloadKind>(std::uint64_t{1} << 63);

PacketPtr marker_packet(const Marker& marker) {
  auto packet = make_packet(kMarkerKind);
  packet->stream = marker.stream;
  packet->split = marker.split;
  packet->sequence = static_cast<std::uint64_t>(marker.kind);
  packet->timestamp_ns = marker.epoch;
  return packet;
}

Marker marker_of(const Packet& packet) {
  Marker marker;
  marker.kind = static_cast<MarkerKind>(packet.sequence);
  marker.epoch = packet.timestamp_ns;
  marker.split = packet.split;
  marker.stream = packet.stream;
  return marker;
}

bool is_marker(const PacketPtr& packet) noexcept { return packet->kind == kMarkerKind; }

enum Bus : std::size_t { kTelemetryBus, kLogBus, kControlBus, kBuses };

struct Envelope {
  PacketPtr packet;
  std::uint64_t sequence = 0;  // data, eos: position on the link; data into an ordered node: its ordinal
  std::uint32_t index = 0;     // data, eos: the link; bus: the input port; post: the output port
  EnvelopeType type = EnvelopeType::none;
};

struct Emitted {
  std::size_t port = 0;
  PacketPtr packet;
};

using FlowNode = oneapi::tbb::flow::function_node<Envelope, Envelope, oneapi::tbb::flow::queueing>;

// What one body puts on its node's edge link (the first link of its first output, joined to the
// consumer by a flow-graph edge) is held here, and the last of it is returned from the body: the
// flow graph then runs the consumer next on the same thread instead of queueing a task for it.
struct Outbox {
  const void* node = nullptr;
  Envelope held;
  Outbox* previous = nullptr;
  std::vector<Emitted>* capture = nullptr;  // an ordered node's body: what it emits waits its turn
};
thread_local Outbox* t_outbox = nullptr;

// A counter written by one thread at a time (a serial node, a source) needs no atomic
// read-modify-write on the hot path; one written from parallel bodies does.
class Tally {
 public:
  void add(std::int64_t delta, bool shared) noexcept {
    if (shared) {
      value_.fetch_add(delta, std::memory_order_relaxed);
    } else {
      value_.store(value_.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
    }
  }
  std::int64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Busy time is read twice per packet per node: the time-stamp counter where there is one,
// converted to seconds against the steady clock when telemetry asks.
std::uint64_t busy_clock() noexcept {
#if defined(__x86_64__) || defined(__i386__)
  return __rdtsc();
#else
  return static_cast<std::uint64_t>(Clock::now().time_since_epoch().count());
#endif
}

// Reading the clock twice costs about as much as a light node's whole body, so a node whose
// packets take under about a microsecond has its busy time sampled: one packet in eight, chosen at
// random (so no rhythm in the data can bias it), counted eight times. Slower nodes are timed on
// every packet.
class BusySampler {
 public:
  static constexpr std::uint32_t kStride = 8;
  // How many packets this measurement stands for: 0 when this packet is not to be timed.
  std::uint32_t weight() noexcept {
    if (exact_.load(std::memory_order_relaxed)) return 1;
    return (next_random() & (kStride - 1)) == 0 ? kStride : 0;
  }
  void observe(std::uint64_t elapsed_ns) noexcept {
    bool exact = exact_.load(std::memory_order_relaxed);
    if (!exact && elapsed_ns > 1500) exact_.store(true, std::memory_order_relaxed);
    if (exact && elapsed_ns < 500) exact_.store(false, std::memory_order_relaxed);
  }

 private:
  static std::uint32_t next_random() noexcept {
    thread_local std::uint32_t state =
        0x9e3779b9u ^ static_cast<std::uint32_t>(std::hash<std::thread::id>{}(std::this_thread::get_id()));
    state ^= state << 13;
    state ^= state >> 17;
    state ^= state << 5;
    return state;
  }
  std::atomic<bool> exact_{false};
};

struct LinkState {
  const LinkPlan* plan = nullptr;
  std::uint32_t id = 0;
  bool shared_puts = false;   // the producer runs parallel bodies
  bool shared_takes = false;  // the consumer runs parallel bodies
  // Written on every packet by the producer and the consumer: each on a cache line of its own.
  alignas(64) Tally puts;   // envelopes put by the producer
  alignas(64) Tally takes;  // envelopes taken by the consumer
  alignas(64) std::int64_t padding_ = 0;
  Tally drops;
  // A dropping link keeps its packets here rather than in the flow graph's queue, so a packet
  // dropped by drop_oldest is freed at once. Envelopes on such a link carry no packet: each one
  // takes the oldest packet queued. There are as many envelopes on the way as packets queued.
  bool buffered = false;
  std::mutex queue_mutex;
  std::deque<PacketPtr> queue;
  std::atomic<std::int64_t> queued{0};
  std::atomic<bool> awaited{false};  // a pull source waits for this link to drain to half
  bool edge = false;                 // joined by a flow-graph edge: see Outbox
  // A serial producer numbers what it puts on a link to a serial consumer; the consumer takes
  // the envelopes in that order, holding back the few that overtake another (a returned
  // envelope travels the edge after the producer's next body may already have started).
  bool ordered = false;
  std::atomic<std::uint64_t> sent{0};  // producer side; numbered atomically when live threads share it
  std::uint64_t next_take = 0;         // consumer side
  std::vector<Envelope> early;         // consumer side: arrived before their turn
  std::vector<void*> pull_sources;     // the pull sources upstream (their NodeState)
  // A live source's link: the blocking (lossless) links downstream of it. While one is full, this
  // link drops as if it were full itself, so they stay within their capacity.
  std::vector<LinkState*> lossless_below;
  std::int64_t depth() const noexcept {
    return buffered ? queued.load(std::memory_order_relaxed) : puts.get() - takes.get();
  }
};

constexpr std::uint32_t kBusEos = 0xffffffffu;
// Bus packets waiting at one node at most; past it, new ones are dropped for that node and counted.
constexpr std::int64_t kBusBacklog = 1024;

// Lets the bodies of a parallel node run together and a control message run alone: on_control
// waits for the bodies under way, and new bodies wait for it. Bodies pay two atomic operations
// when no control message is waiting; a waiting message is never starved by a busy stream.
class ControlGate {
 public:
  void enter_shared() {
    for (;;) {
      active_.fetch_add(1);
      if (!wanted_.load()) return;
      leave_shared();
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return !wanted_.load(); });
    }
  }
  void leave_shared() {
    if (active_.fetch_sub(1) == 1 && wanted_.load()) {
      std::lock_guard<std::mutex> lock(mutex_);
      cv_.notify_all();
    }
  }
  template <typename Call>
  void exclusive(Call&& call) {
    std::lock_guard<std::mutex> one_at_a_time(exclusive_mutex_);
    wanted_.store(true);
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return active_.load() == 0; });
    }
    call();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      wanted_.store(false);
    }
    cv_.notify_all();
  }

 private:
  std::atomic<int> active_{0};
  std::atomic<bool> wanted_{false};
  std::mutex mutex_;
  std::mutex exclusive_mutex_;
  std::condition_variable cv_;
};

}  // namespace

class Runtime::Impl final : public RuntimeHooks {
 public:
  struct NodeState;

  class NodeEmitter final : public Emitter {
   public:
    NodeEmitter(Impl& rt, NodeState& node) : rt_(rt), node_(node) {}
    void emit(const OutputPort& port, PacketPtr packet) override {
      const auto& outs = node_.plan->type->spec.outputs();
      for (std::size_t i = 0; i < outs.size(); ++i) {
        if (outs[i] == &port) return send(i, std::move(packet));
      }
      for (std::size_t i = 0; i < outs.size(); ++i) {
        if (std::string_view(outs[i]->name) == port.name) return send(i, std::move(packet));
      }
      throw std::logic_error("emitted on output port '" + std::string(port.name) +
                             "', which the node type does not declare");
    }
    void emit(PacketPtr packet) override {
      if (node_.plan->type->spec.outputs().empty())
        throw std::logic_error("emitted, but the node type declares no output port");
      send(0, std::move(packet));
    }
    void mark(const Marker& marker) override {
      if (marker.kind == MarkerKind::end_of_stream)
        throw std::logic_error("end_of_stream markers come from the runtime; a node ends its stream by finishing");
      Marker m = marker;
      if (m.stream.empty()) m.stream = node_.plan->name;
      PacketPtr packet = marker_packet(m);
      for (std::size_t i = 0; i < node_.out_links.size(); ++i) send(i, packet);
    }

   private:
    void send(std::size_t port, PacketPtr packet) {
      if (!packet) throw std::logic_error("emitted an empty packet");
      Outbox* box = t_outbox;
      if (box != nullptr && box->node == &node_) {
        // Inside one of the node's own callbacks.
        if (box->capture != nullptr) return box->capture->push_back(Emitted{port, std::move(packet)});
        return rt_.emit_now(node_, port, std::move(packet));
      }
      // From a thread of the node's own: a live source's outputs take it as they are; any other
      // node's packet goes out from inside the node's own turn, never beside its callbacks.
      if (node_.live) return rt_.emit_live(node_, port, std::move(packet));
      rt_.post(node_, port, std::move(packet));
    }
    Impl& rt_;
    NodeState& node_;
  };

  struct NodeState {
    NodePlan* plan = nullptr;
    std::unique_ptr<FlowNode> fn;
    std::vector<std::vector<LinkState*>> out_links;  // by output port
    std::vector<LinkState*> in_links;
    std::vector<LinkState*> throttle;              // block-policy links downstream (pull sources wait on them)
    std::int64_t bus_port[kBuses] = {-1, -1, -1};  // the input fed by each bus, -1 for none
    bool bus_only = false;
    bool has_bus_inputs = false;
    bool stopped = false;   // stop() was called  // telemetry or logs: such a node ends when the buses close
    bool parallel = false;  // parallel or ordered bodies
    bool ordered = false;   // what parallel bodies emit leaves in arrival order
    bool live = false;      // a live source: emits from its own thread and others
    bool timed = false;     // a source driven by its timer instead of produce()
    bool own_thread = false;
    // Own-thread nodes: what the flow graph hands the node, run in order on its thread.
    std::thread own;
    std::mutex own_mutex;
    std::condition_variable own_cv;
    std::deque<Envelope> own_queue;
    bool own_quit = false;
    // Timers.
    std::atomic<bool> tick_pending{false};
    Clock::time_point next_tick{};
    std::int64_t tick_ns = 0;
    // Live sources: a produce() under way, and whether the loop has returned.
    std::atomic<bool> in_produce{false};
    std::atomic<bool> returned{false};
    std::atomic<bool> source_done{false};
    // Inputs: end of stream per input port (links still open into it; data not yet processed).
    std::unique_ptr<std::atomic<int>[]> port_eos;
    std::unique_ptr<std::atomic<std::int64_t>[]> port_pending;
    std::unique_ptr<std::atomic<bool>[]> port_ended;
    // Markers taken by a parallel node and not yet passed on: later bodies hold what they emit.
    std::atomic<int> markers_pending{0};
    // Control aimed at this node: its inputs held (pause) or closed (stop).
    std::atomic<bool> held{false};
    std::mutex held_mutex;
    std::vector<Envelope> held_envelopes;
    std::atomic<bool> inputs_closed{false};
    // Live sources: emissions under way, so that end of stream waits for them (see finish).
    std::atomic<int> emitting{0};
    bool pull = false;                   // a pull source: runs as steps in the graph
    std::atomic<bool> scheduled{false};  // pull sources: a step is queued or running
    // Parallel nodes only: data envelopes put and not yet processed. A serial node takes its
    // queue in order, so it has processed all data when it takes the last end of stream.
    std::atomic<std::int64_t> pending{0};
    std::atomic<int> eos_remaining{0};
    std::atomic<bool> finished{false};
    std::atomic<bool> failed{false};
    // Written by the node on every packet; read by telemetry only.
    alignas(64) Tally packets_in;
    Tally packets_out;
    Tally busy_ticks;
    BusySampler busy_sampler;
    alignas(64) std::int64_t padding_ = 0;
    std::mutex control_mutex;
    std::vector<ControlMessage> control_inbox;
    std::atomic<bool> has_control{false};
    ControlGate gate;  // parallel nodes: control runs alone
    std::unique_ptr<NodeEmitter> emitter;
    // Bus packets queued at this node and not yet handled; past kBusBacklog they are dropped.
    std::atomic<std::int64_t> bus_backlog{0};
    Tally bus_drops;
    Tally late_drops;  // emitted after the node's end of stream
    // Ordered nodes: each input packet gets an ordinal; what its body emits is released in
    // ordinal order.
    std::atomic<std::uint64_t> next_ordinal{0};
    struct Turn {
      bool done = false;
      bool marker = false;
      std::vector<Emitted> emitted;
    };
    std::mutex release_mutex;
    std::deque<Turn> turns;  // turns[i] is ordinal next_release + i
    std::uint64_t next_release = 0;
  };

  Impl(Plan& plan, Logging& logging) : plan_(plan), logging_(logging), log_(logging.make("tributary")) {
    threads_ = plan.decl.threads > 0 ? static_cast<int>(plan.decl.threads)
                                     : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    links_.reserve(plan.links.size());
    for (std::size_t k = 0; k < plan.links.size(); ++k) {
      links_.push_back(std::make_unique<LinkState>());
      links_.back()->plan = &plan.links[k];
      links_.back()->id = static_cast<std::uint32_t>(k);
    }
    for (std::size_t i = 0; i < plan.nodes.size(); ++i) {
      auto node = std::make_unique<NodeState>();
      node->plan = &plan.nodes[i];
      node->out_links.resize(plan.nodes[i].type->spec.outputs().size());
      const NodeSpec& spec = plan.nodes[i].type->spec;
      Concurrency concurrency = spec.concurrency();
      node->own_thread = spec.thread() == NodeThread::own;
      node->parallel = !plan.nodes[i].is_source && !node->own_thread && concurrency != Concurrency::serial;
      node->ordered = node->parallel && concurrency == Concurrency::ordered;
      // A source with a timer set in configure() is driven by it.
      node->timed = plan.nodes[i].is_source && plan.nodes[i].context->timer_ns() > 0;
      node->pull = plan.nodes[i].is_source && plan.nodes[i].mode == SourceMode::pull && !node->timed;
      node->live = plan.nodes[i].is_source && plan.nodes[i].mode == SourceMode::live;
      node->emitter = std::make_unique<NodeEmitter>(*this, *node);
      for (auto p : plan.nodes[i].bus_inputs) {
        auto feed = spec.inputs()[p]->feed;
        Bus bus = feed == Feed::telemetry ? kTelemetryBus : feed == Feed::logs ? kLogBus : kControlBus;
        node->bus_port[bus] = static_cast<std::int64_t>(p);
      }
      std::size_t ports = spec.inputs().size();
      node->port_eos = std::make_unique<std::atomic<int>[]>(ports);
      node->port_pending = std::make_unique<std::atomic<std::int64_t>[]>(ports);
      node->port_ended = std::make_unique<std::atomic<bool>[]>(ports);
      for (std::size_t p = 0; p < ports; ++p) {
        node->port_eos[p] = 0;
        node->port_pending[p] = 0;
        node->port_ended[p] = false;
      }
      nodes_.push_back(std::move(node));
    }
    for (auto& link : links_) {
      nodes_[link->plan->from]->out_links[link->plan->from_port].push_back(link.get());
      nodes_[link->plan->to]->in_links.push_back(link.get());
      nodes_[link->plan->to]->port_eos[link->plan->to_port].fetch_add(1);
      const NodeState& from = *nodes_[link->plan->from];
      // A live source emits from its own thread and from any other of the node's.
      link->shared_puts = from.parallel || from.live;
      link->shared_takes = nodes_[link->plan->to]->parallel;
      // An ordered node releases what it emits one turn at a time, so its links can be numbered.
      link->ordered = (!from.parallel || from.ordered) && !link->shared_takes;
      link->buffered = link->plan->policy != QueuePolicy::block;
    }
    clock_start_ns_ = Clock::now().time_since_epoch().count();
    clock_start_ticks_ = busy_clock();
    ns_per_tick_ = measure_ns_per_tick();
    for (auto& node : nodes_) {
      node->eos_remaining = static_cast<int>(node->in_links.size());
      node->bus_only = !node->plan->is_source && node->in_links.empty();
      node->has_bus_inputs = !node->plan->bus_inputs.empty();
      // A node fed by a bus keeps it after its links end: the buses close last.
      if (node->bus_only || node->has_bus_inputs) node->eos_remaining.fetch_add(1);
    }
    for (auto& node : nodes_) {
      if (node->plan->is_source && node->plan->mode == SourceMode::pull) collect_throttle(*node, *node);
    }
    for (auto& link : links_) {
      if (link->plan->live_edge) collect_lossless(*link, *nodes_[link->plan->to]);
    }
  }

  void collect_lossless(LinkState& edge, NodeState& from) {
    for (auto& port_links : from.out_links) {
      for (LinkState* link : port_links) {
        bool seen =
            std::find(edge.lossless_below.begin(), edge.lossless_below.end(), link) != edge.lossless_below.end();
        if (seen) continue;
        if (link->plan->policy == QueuePolicy::block) edge.lossless_below.push_back(link);
        collect_lossless(edge, *nodes_[link->plan->to]);
      }
    }
  }

  ~Impl() override = default;

  // ---- RuntimeHooks -------------------------------------------------------------------------
  void publish_metric(MetricPoint point) override {
    auto packet = make_packet(PayloadKind::telemetry);
    packet->stream = point.node;
    packet->metrics.push_back(std::move(point));
    publish_bus(std::move(packet), kTelemetryBus);
  }

  void request_stop(std::string reason) override {
    {
      std::lock_guard<std::mutex> lock(state_mutex_);
      if (stop_.load()) return;
      stop_reason_ = std::move(reason);
      stop_time_ns_.store(Clock::now().time_since_epoch().count());
      stop_.store(true);
    }
    log_->info("stopping: ", stop_reason_);
    schedule_all_sources_from_outside();
  }

  bool stop_requested() const override { return stop_.load(std::memory_order_relaxed); }

  std::uint64_t send_control(ControlMessage message) override {
    std::uint64_t id = 0;
    std::string error = control(std::move(message), {}, &id);
    if (!error.empty()) log_->warn("control message refused: ", error);
    return id;
  }

  void timer_changed(std::size_t index) override {
    {
      std::lock_guard<std::mutex> lock(timer_mutex_);
      timers_dirty_ = true;
    }
    timer_cv_.notify_all();
    (void)index;
  }

  // ---- control bus --------------------------------------------------------------------------
  // Sends a control message. The runtime answers at once when it refuses the message or handles
  // it itself; set and checkpoint are answered by the nodes. Every reply goes on the control bus
  // and to on_reply. Returns an empty string when the message went out, else why not.
  std::string control(ControlMessage message, Runtime::ReplyHandler on_reply = {}, std::uint64_t* id_out = nullptr) {
    message.id = next_control_id_.fetch_add(1) + 1;
    if (message.sender.empty()) message.sender = "api";
    if (id_out != nullptr) *id_out = message.id;
    if (on_reply) {
      std::lock_guard<std::mutex> lock(reply_mutex_);
      reply_handlers_[message.id] = std::move(on_reply);
    }
    publish_bus(control_packet(message), kControlBus);
    std::string error = route_control(message);
    if (!error.empty()) reply(message, "tributary", false, -1, error);
    return error;
  }

  void reply(const ControlMessage& message, const std::string& node, bool accepted, std::int64_t step,
             const std::string& text) {
    ControlReply r{message.id, node, accepted, step, text, true};
    if (accepted) {
      log_->info("control #", r.id, " ", to_string(message.verb), message.target.empty() ? "" : " ", message.target,
                 message.key.empty() ? "" : " ", message.key, ": ", node, " took it",
                 step >= 0 ? " at step " + std::to_string(step) : std::string(), text.empty() ? "" : " (", text,
                 text.empty() ? "" : ")");
    } else {
      log_->warn("control #", r.id, " ", to_string(message.verb), " refused by ", node, ": ", text);
    }
    publish_bus(control_packet(r), kControlBus);
    Runtime::ReplyHandler handler;
    {
      std::lock_guard<std::mutex> lock(reply_mutex_);
      auto it = reply_handlers_.find(r.id);
      if (it != reply_handlers_.end()) handler = it->second;
    }
    if (handler) handler(r);
  }

  std::string route_control(const ControlMessage& message) {
    NodeState* target = nullptr;
    if (!message.target.empty()) {
      for (auto& n : nodes_) {
        if (n->plan->name == message.target) target = n.get();
      }
      if (target == nullptr) {
        std::vector<std::string> names;
        for (auto& n : nodes_) names.push_back(n->plan->name);
        std::string near = closest_match(message.target, names);
        return "no node named '" + message.target + "'" + (near.empty() ? "" : "; did you mean '" + near + "'?");
      }
    }
    switch (message.verb) {
      case ControlVerb::stop:
        if (target == nullptr) {
          request_stop("stop requested through the control bus");
          reply(message, "tributary", true, -1, "the run is stopping");
        } else {
          close_inputs(*target);
          reply(message, target->plan->name, true, target->packets_in.get(),
                target->plan->is_source ? "the source ends its stream" : "its inputs are closed");
        }
        return {};
      case ControlVerb::pause:
      case ControlVerb::resume: {
        bool pause = message.verb == ControlVerb::pause;
        if (target == nullptr) {
          paused_.store(pause);
          log_->info(pause ? "paused" : "resumed");
          schedule_all_sources_from_outside();
          reply(message, "tributary", true, -1, pause ? "sources hold" : "sources go on");
        } else {
          hold_inputs(*target, pause);
          reply(message, target->plan->name, true, target->packets_in.get(),
                pause ? (target->plan->is_source ? "the source holds" : "its inputs are held")
                      : (target->plan->is_source ? "the source goes on" : "its inputs go on"));
        }
        return {};
      }
      case ControlVerb::set: {
        if (target == nullptr) return "'set' needs a node name: which node's '" + message.key + "'?";
        const ParamSpec* spec = target->plan->type->spec.find_param(message.key);
        if (spec == nullptr || !spec->settable) {
          std::vector<std::string> settable;
          for (const auto& p : target->plan->type->spec.params()) {
            if (p.settable) settable.push_back(p.name);
          }
          std::string list;
          for (const auto& s : settable) list += (list.empty() ? "" : ", ") + s;
          return "parameter '" + message.key + "' of node '" + target->plan->name + "' (" + target->plan->type->name +
                 ") " + (spec == nullptr ? "does not exist" : "cannot change while running") +
                 (settable.empty() ? "; it has no settable parameters" : "; settable: " + list);
        }
        std::vector<ParamIssue> issues;
        ControlMessage checked = message;
        checked.value = Params::check(*spec, message.value, issues);
        if (!issues.empty()) return issues.front().message;
        enqueue_control(*target, checked);
        return {};
      }
      case ControlVerb::checkpoint:
        break;
    }
    for (auto& n : nodes_) {
      if (target == nullptr || target == n.get()) enqueue_control(*n, message);
    }
    return {};
  }

  // Stop aimed at one node: what reaches its inputs from now on is dropped, and it ends (flushes
  // and passes end of stream on) as soon as what it is processing is done.
  void close_inputs(NodeState& node) {
    node.inputs_closed.store(true);
    hold_inputs(node, false);
    if (node.plan->is_source) {
      schedule_all_sources_from_outside();
      return;
    }
    put_from_outside(node, Envelope{nullptr, 0, 0, EnvelopeType::close});
  }

  // Pause aimed at one node: its input envelopes wait in the runtime, so the node itself stays
  // free for control; resume puts them back in the order they came.
  void hold_inputs(NodeState& node, bool hold) {
    std::vector<Envelope> released;
    {
      std::lock_guard<std::mutex> lock(node.held_mutex);
      node.held.store(hold);
      if (!hold) released.swap(node.held_envelopes);
    }
    for (auto& e : released) put_from_outside(node, std::move(e));
    if (node.plan->is_source) schedule_all_sources_from_outside();
  }

  void put_from_outside(NodeState& node, Envelope envelope) {
    std::shared_lock<std::shared_mutex> lock(graph_mutex_);
    if (node.fn && running_.load()) node.fn->try_put(envelope);
  }

  // ---- data path ----------------------------------------------------------------------------
  // What a node emits inside its own callbacks, or an ordered node's turn being released.
  void emit_now(NodeState& node, std::size_t port, PacketPtr packet) {
    if (!is_marker(packet)) node.packets_out.add(1, node.parallel || node.live);
    const auto& links = node.out_links[port];
    for (std::size_t i = 0; i + 1 < links.size(); ++i) deliver(*links[i], packet);
    if (!links.empty()) deliver(*links.back(), std::move(packet));
  }

  // A live source's packet from any thread. End of stream waits for the emissions under way, and
  // none starts after it.
  void emit_live(NodeState& node, std::size_t port, PacketPtr packet) {
    node.emitting.fetch_add(1);
    if (node.finished.load()) {
      node.emitting.fetch_sub(1);
      node.late_drops.add(1, true);
      return;
    }
    emit_now(node, port, std::move(packet));
    node.emitting.fetch_sub(1);
  }

  // Another node's packet from a thread of its own: it goes out from the node's own turn in the
  // graph, so it never runs beside the node's callbacks and keeps its place before end of stream.
  void post(NodeState& node, std::size_t port, PacketPtr packet) {
    std::shared_lock<std::shared_mutex> lock(graph_mutex_);
    if (!node.fn || !running_.load() || node.finished.load()) {
      node.late_drops.add(1, true);
      return;
    }
    if (node.parallel) node.pending.fetch_add(1);
    node.fn->try_put(Envelope{std::move(packet), 0, static_cast<std::uint32_t>(port), EnvelopeType::post});
  }

  void deliver(LinkState& link, PacketPtr packet) {
    NodeState& to = *nodes_[link.plan->to];
    Envelope envelope{nullptr, 0, link.id, EnvelopeType::data};
    bool marker = is_marker(packet);
    if (link.buffered) {
      PacketPtr dropped;  // freed when this returns, outside the lock
      {
        std::lock_guard<std::mutex> lock(link.queue_mutex);
        bool full = static_cast<std::int64_t>(link.queue.size()) >= link.plan->capacity || lossless_full(link);
        if (full && !marker) {
          // Markers are never dropped, nor dropped for.
          link.drops.add(1, true);
          if (link.plan->policy == QueuePolicy::drop_newest) return;
          auto oldest =
              std::find_if(link.queue.begin(), link.queue.end(), [](const PacketPtr& p) { return !is_marker(p); });
          if (oldest == link.queue.end()) return;
          dropped = std::move(*oldest);
          link.queue.erase(oldest);
        }
        link.queue.push_back(std::move(packet));
        link.queued.store(static_cast<std::int64_t>(link.queue.size()), std::memory_order_relaxed);
      }
      // The envelope on its way for the dropped packet takes this one instead.
      if (dropped) return;
    } else {
      // A blocking link is never refused a packet: its pull sources wait instead.
      envelope.packet = std::move(packet);
      if (to.parallel) {
        if (marker) to.markers_pending.fetch_add(1);
        envelope.sequence = to.next_ordinal.fetch_add(1);
      }
    }
    link.puts.add(1, link.shared_puts);
    if (to.parallel) {
      to.pending.fetch_add(1);
      to.port_pending[link.plan->to_port].fetch_add(1);
    }
    put(link, std::move(envelope));
  }

  // Whether a lossless link behind this live edge is full.
  static bool lossless_full(const LinkState& link) {
    for (const LinkState* below : link.lossless_below) {
      if (below->depth() >= below->plan->capacity) return true;
    }
    return false;
  }

  // Puts a data or end-of-stream envelope on a link, numbered when the link is ordered.
  void put(LinkState& link, Envelope envelope) {
    if (link.ordered) {
      if (link.shared_puts) {
        envelope.sequence = link.sent.fetch_add(1);
      } else {
        // One writer: a plain load and store, no locked instruction on the hot path.
        envelope.sequence = link.sent.load(std::memory_order_relaxed);
        link.sent.store(envelope.sequence + 1, std::memory_order_relaxed);
      }
    }
    FlowNode& to = *nodes_[link.plan->to]->fn;
    Outbox* outbox = t_outbox;
    if (link.edge && outbox != nullptr && outbox->node == nodes_[link.plan->from].get()) {
      if (outbox->held.type != EnvelopeType::none) to.try_put(outbox->held);
      outbox->held = std::move(envelope);
      return;
    }
    to.try_put(envelope);
  }

  // One body of a node, with an outbox for its edge link; returns what the edge carries on.
  Envelope run_body(NodeState& node, const Envelope& envelope) {
    if (envelope.type == EnvelopeType::data || envelope.type == EnvelopeType::eos) {
      // A node paused on its own: its inputs wait here, in the order they came.
      if (node.held.load(std::memory_order_relaxed) && envelope.index != kBusEos) {
        std::lock_guard<std::mutex> lock(node.held_mutex);
        if (node.held.load()) {
          node.held_envelopes.push_back(envelope);
          return Envelope{};
        }
      }
    }
    Outbox outbox{&node, Envelope{}, t_outbox};
    t_outbox = &outbox;
    if (envelope.type == EnvelopeType::data || envelope.type == EnvelopeType::eos) {
      take_in_order(node, envelope);
    } else {
      body(node, envelope);
    }
    t_outbox = outbox.previous;
    return std::move(outbox.held);
  }

  // An own-thread node's flow-graph body hands each envelope to the node's thread; the graph is
  // not done while one waits there.
  Envelope hand_to_own_thread(NodeState& node, const Envelope& envelope) {
    graph_->reserve_wait();
    {
      std::lock_guard<std::mutex> lock(node.own_mutex);
      node.own_queue.push_back(envelope);
    }
    node.own_cv.notify_one();
    return Envelope{};
  }

  void own_thread_loop(NodeState& node) {
    std::unique_lock<std::mutex> lock(node.own_mutex);
    for (;;) {
      node.own_cv.wait(lock, [&] { return node.own_quit || !node.own_queue.empty(); });
      if (node.own_queue.empty()) return;
      Envelope envelope = std::move(node.own_queue.front());
      node.own_queue.pop_front();
      lock.unlock();
      Envelope held = run_body(node, envelope);
      if (held.type != EnvelopeType::none) {
        LinkState& link = *links_[held.index];
        nodes_[link.plan->to]->fn->try_put(held);
      }
      graph_->release_wait();
      lock.lock();
    }
  }

  void take_in_order(NodeState& node, const Envelope& envelope) {
    LinkState* link = envelope.index < links_.size() ? links_[envelope.index].get() : nullptr;
    if (link == nullptr || !link->ordered) return body(node, envelope);
    if (envelope.sequence != link->next_take) {
      link->early.push_back(envelope);
      return;
    }
    body(node, envelope);
    ++link->next_take;
    while (!link->early.empty()) {
      auto it = std::find_if(link->early.begin(), link->early.end(),
                             [&](const Envelope& e) { return e.sequence == link->next_take; });
      if (it == link->early.end()) break;
      Envelope next = std::move(*it);
      link->early.erase(it);
      body(node, next);
      ++link->next_take;
    }
  }

  void body(NodeState& node, const Envelope& envelope) {
    switch (envelope.type) {
      case EnvelopeType::data: {
        LinkState& link = *links_[envelope.index];
        link.takes.add(1, link.shared_takes);
        PacketPtr packet = envelope.packet;
        std::uint64_t ordinal = envelope.sequence;
        if (link.buffered) {
          std::lock_guard<std::mutex> lock(link.queue_mutex);
          packet = std::move(link.queue.front());
          link.queue.pop_front();
          link.queued.store(static_cast<std::int64_t>(link.queue.size()), std::memory_order_relaxed);
          if (node.parallel) {
            if (is_marker(packet)) node.markers_pending.fetch_add(1);
            ordinal = node.next_ordinal.fetch_add(1);
          }
        }
        if (link.awaited.load(std::memory_order_relaxed) && link.depth() <= link.plan->capacity / 2 &&
            link.awaited.exchange(false)) {
          for (void* source : link.pull_sources) schedule(*static_cast<NodeState*>(source));
        }
        bool marker = is_marker(packet);
        std::size_t port = link.plan->to_port;
        // A parallel node holds what it emits while a marker before it waits to be passed on.
        bool capture = node.ordered || (node.parallel && (marker || node.markers_pending.load() > 0));
        std::vector<Emitted> emitted;
        if (node.inputs_closed.load(std::memory_order_relaxed)) {
          if (!marker) node.late_drops.add(1, true);
        } else if (!node.failed.load(std::memory_order_relaxed)) {
          take_control(node);
          if (capture) t_outbox->capture = &emitted;
          const InputPort& input = *node.plan->type->spec.inputs()[port];
          if (marker) {
            on_marker(node, input, marker_of(*packet));
          } else {
            process(node, input, packet);
          }
          t_outbox->capture = nullptr;
        }
        packet.reset();
        if (node.parallel) {
          release_turn(node, ordinal, std::move(emitted), marker);
          node.port_pending[port].fetch_sub(1);
          check_port_end(node, port);
          node.pending.fetch_sub(1);
        }
        maybe_finish(node);
        break;
      }
      case EnvelopeType::eos:
        if (envelope.index != kBusEos) {
          std::size_t port = links_[envelope.index]->plan->to_port;
          node.port_eos[port].fetch_sub(1);
          check_port_end(node, port);
        }
        node.eos_remaining.fetch_sub(1);
        maybe_finish(node);
        break;
      case EnvelopeType::tick:
        tick(node);
        break;
      case EnvelopeType::close:
        maybe_finish(node);
        break;
      case EnvelopeType::bus:
        node.bus_backlog.fetch_sub(1, std::memory_order_relaxed);
        if (!node.finished.load() && !node.failed.load()) {
          LogBusGuard guard;  // what a node logs while it handles bus traffic stays off the bus
          process(node, *node.plan->type->spec.inputs()[envelope.index], envelope.packet);
        }
        break;
      case EnvelopeType::post:
        if (node.finished.load() || node.failed.load()) {
          node.late_drops.add(1, true);
        } else if (node.ordered) {
          std::lock_guard<std::mutex> lock(node.release_mutex);  // between two released turns
          emit_now(node, envelope.index, envelope.packet);
        } else {
          emit_now(node, envelope.index, envelope.packet);
        }
        if (node.parallel) {
          node.pending.fetch_sub(1);
          maybe_finish(node);
        }
        break;
      case EnvelopeType::control:
        if (!node.finished.load()) take_control(node);
        break;
      case EnvelopeType::resume:
        source_step(node);
        break;
      case EnvelopeType::none:
        break;
    }
  }

  // An ordered node's body is done: its turn, and every later one already done, go out in order.
  void release_turn(NodeState& node, std::uint64_t ordinal, std::vector<Emitted> emitted, bool marker) {
    std::lock_guard<std::mutex> lock(node.release_mutex);
    auto index = static_cast<std::size_t>(ordinal - node.next_release);
    if (node.turns.size() <= index) node.turns.resize(index + 1);
    node.turns[index].done = true;
    node.turns[index].marker = marker;
    node.turns[index].emitted = std::move(emitted);
    while (!node.turns.empty() && node.turns.front().done) {
      for (auto& e : node.turns.front().emitted) emit_now(node, e.port, std::move(e.packet));
      if (node.turns.front().marker) node.markers_pending.fetch_sub(1);
      node.turns.pop_front();
      ++node.next_release;
    }
  }

  // A marker reaches the node's on_marker(), in the same way as process() would run.
  void on_marker(NodeState& node, const InputPort& port, const Marker& marker) {
    if (node.parallel) node.gate.enter_shared();
    guarded(node, [&] { node.plan->node->on_marker(port, marker, *node.emitter); });
    if (node.parallel) node.gate.leave_shared();
  }

  // Every link into the port has ended and what came through it is processed: the node hears of
  // it once, after everything that came before.
  void check_port_end(NodeState& node, std::size_t port) {
    if (node.port_eos[port].load() != 0) return;
    if (node.parallel && node.port_pending[port].load() != 0) return;
    if (node.port_ended[port].exchange(true)) return;
    if (node.failed.load() || node.inputs_closed.load()) return;
    Marker end{MarkerKind::end_of_stream, -1, Split::none, node.plan->name};
    const InputPort& input = *node.plan->type->spec.inputs()[port];
    if (!node.parallel) return on_marker(node, input, end);
    node.markers_pending.fetch_add(1);
    std::uint64_t ordinal = node.next_ordinal.fetch_add(1);
    std::vector<Emitted> emitted;
    Outbox* box = t_outbox;
    std::vector<Emitted>* previous = box->capture;
    box->capture = &emitted;
    on_marker(node, input, end);
    box->capture = previous;
    release_turn(node, ordinal, std::move(emitted), true);
  }

  void process(NodeState& node, const InputPort& port, const PacketPtr& packet) {
    std::uint32_t weight = node.busy_sampler.weight();
    std::uint64_t t0 = weight != 0 ? busy_clock() : 0;
    if (node.parallel) node.gate.enter_shared();
    guarded(node, [&] { node.plan->node->process(port, packet, *node.emitter); });
    if (node.parallel) node.gate.leave_shared();
    if (weight != 0) {
      auto elapsed = static_cast<std::int64_t>(busy_clock() - t0);
      node.busy_ticks.add(elapsed * weight, node.parallel);
      node.busy_sampler.observe(static_cast<std::uint64_t>(static_cast<double>(elapsed) * ns_per_tick_));
    }
    node.packets_in.add(1, node.parallel);
  }

  void maybe_finish(NodeState& node) {
    if (node.eos_remaining.load() != 0 && !node.inputs_closed.load()) return;
    if (node.parallel && node.pending.load() != 0) return;
    if (node.finished.exchange(true)) return;
    finish(node);
  }

  // Flush once, then pass end of stream on. A failed node does not flush but still passes it on,
  // so the sinks downstream flush what they received.
  void finish(NodeState& node) {
    if (!node.failed.load()) {
      take_control(node);
      if (node.bus_port[kTelemetryBus] >= 0) {
        LogBusGuard guard;
        process(node, *node.plan->type->spec.inputs()[static_cast<std::size_t>(node.bus_port[kTelemetryBus])],
                telemetry_snapshot());
      }
      auto t0 = busy_clock();
      guarded(node, [&] { node.plan->node->flush(*node.emitter); });
      node.busy_ticks.add(static_cast<std::int64_t>(busy_clock() - t0), true);
    }
    // From here on the node's packets are late: wait for a live source's emissions under way.
    node.finished.store(true);
    while (node.emitting.load() != 0) std::this_thread::yield();
    for (auto& port_links : node.out_links) {
      for (LinkState* link : port_links) put(*link, Envelope{nullptr, 0, link->id, EnvelopeType::eos});
    }
  }

  // Runs a call into the node's own code: an exception fails the node with its message.
  template <typename Call>
  void guarded(NodeState& node, Call&& call) {
    try {
      call();
    } catch (const std::exception& e) {
      fail(node, e.what());
    } catch (...) {
      fail(node, "an exception that is not a std::exception");
    }
  }

  void fail(NodeState& node, const std::string& message) {
    node.failed.store(true);
    {
      std::lock_guard<std::mutex> lock(state_mutex_);
      if (failed_node_.empty()) {
        failed_node_ = node.plan->name;
        error_ = message;
      }
    }
    log_->error("node '", node.plan->name, "' (", node.plan->type->name, ") failed: ", message);
    request_stop("node '" + node.plan->name + "' failed");
  }

  // ---- sources ------------------------------------------------------------------------------
  void collect_throttle(NodeState& source, NodeState& from) {
    for (auto& port_links : from.out_links) {
      for (LinkState* link : port_links) {
        if (link->plan->policy != QueuePolicy::block) continue;
        if (std::find(source.throttle.begin(), source.throttle.end(), link) != source.throttle.end()) continue;
        source.throttle.push_back(link);
        link->pull_sources.push_back(&source);
        collect_throttle(source, *nodes_[link->plan->to]);
      }
    }
  }

  // The first full link downstream of a pull source, or nullptr when there is room everywhere.
  LinkState* full_link(const NodeState& source) const {
    for (LinkState* link : source.throttle) {
      if (link->depth() >= link->plan->capacity) return link;
    }
    return nullptr;
  }

  // Queues a step of a pull source unless one is queued or running. From inside the graph.
  void schedule(NodeState& source) {
    if (source.finished.load() || source.scheduled.exchange(true)) return;
    source.fn->try_put(Envelope{nullptr, 0, 0, EnvelopeType::resume});
  }

  // The same from outside the graph (control, signals, the watchdog).
  void schedule_from_outside(NodeState& source) {
    std::shared_lock<std::shared_mutex> lock(graph_mutex_);
    if (running_.load()) schedule(source);
  }

  void schedule_all_sources_from_outside() {
    for (auto& n : nodes_) {
      if (n->pull) schedule_from_outside(*n);
      // A timed source ends at once when asked to, not at its next tick. Before the run starts
      // there is no graph to take the tick, and a pending flag set then would hold back the first
      // tick for good: the run's first tick comes at once anyway and sees the stop.
      if (n->timed && running_.load() && source_ends(*n) && !n->tick_pending.exchange(true)) {
        put_from_outside(*n, Envelope{nullptr, 0, 0, EnvelopeType::tick});
      }
    }
    { std::lock_guard<std::mutex> lock(wait_mutex_); }
    wait_cv_.notify_all();  // live sources waiting while paused
  }

  // A pull source runs in the graph, a batch of produce() calls per step. It stops producing
  // while a link downstream of it is full; the consumer that drains that link to half schedules
  // the next step. No thread waits.
  static constexpr int kSourceBatch = 16;

  bool source_paused(const NodeState& node) const { return paused_.load() || node.held.load(); }
  bool source_ends(const NodeState& node) const {
    return stop_.load() || node.failed.load() || node.inputs_closed.load();
  }

  void source_step(NodeState& node) {
    if (node.finished.load()) return;
    take_control(node);
    if (source_ends(node)) return finish_source(node);
    if (source_paused(node)) {
      node.scheduled.store(false);
      if (source_paused(node) || node.scheduled.exchange(true)) return;  // resume schedules it again
    }
    // The room left downstream, read once a step: the links' counters live on other cores.
    std::int64_t room = kSourceBatch;
    LinkState* fullest = nullptr;
    for (LinkState* link : node.throttle) {
      std::int64_t left = link->plan->capacity - link->depth();
      if (left < room) {
        room = left;
        fullest = link;
      }
    }
    if (room <= 0) {
      fullest->awaited.store(true);
      if (fullest->depth() > fullest->plan->capacity / 2) {
        node.scheduled.store(false);
        // Unless the link drained while the flag went up and nobody has scheduled a step.
        if (fullest->depth() > fullest->plan->capacity / 2 || node.scheduled.exchange(true)) return;
      }
      room = 1;
    }
    for (std::int64_t i = 0; i < room; ++i) {
      if (!produce(node) || source_ends(node)) return finish_source(node);
    }
    node.fn->try_put(Envelope{nullptr, 0, 0, EnvelopeType::resume});  // yield, then go on
  }

  // One call of a source's produce(); false at end of stream or when the source failed.
  bool produce(NodeState& node) {
    bool more = false;
    std::uint64_t t0 = busy_clock();
    guarded(node, [&] { more = node.plan->node->produce(*node.emitter); });
    node.busy_ticks.add(static_cast<std::int64_t>(busy_clock() - t0), false);
    return more && !node.failed.load();
  }

  void finish_source(NodeState& node) {
    if (node.source_done.exchange(true)) return;
    finish(node);
    graph_->release_wait();
  }

  // A live source runs on a thread of its own: produce() waits for its device, and the
  // runtime never makes it wait for downstream (full links drop by policy).
  void live_source_loop(NodeState& node) {
    while (!source_ends(node)) {
      take_control(node);
      if (source_paused(node)) {
        std::unique_lock<std::mutex> lock(wait_mutex_);
        wait_cv_.wait_for(lock, std::chrono::milliseconds(50),
                          [&] { return source_ends(node) || !source_paused(node); });
        continue;
      }
      node.in_produce.store(true);
      bool more = produce(node);
      node.in_produce.store(false);
      if (!more) break;
    }
    finish_source(node);
    node.returned.store(true);
  }

  // A live source whose produce() has not returned this long after a stop request ends without
  // it: end of stream goes on, what it emits later is dropped and counted, and its stop() is
  // called before the runtime waits for its thread, so a device read can be cut short there.
  static constexpr std::chrono::milliseconds kLiveStopBound{500};

  void end_stuck_sources() {
    std::int64_t since = stop_time_ns_.load();
    if (!stop_.load() || since == 0) return;
    if (Clock::now().time_since_epoch().count() - since < std::chrono::nanoseconds(kLiveStopBound).count()) return;
    for (auto& n : nodes_) {
      if (!n->live || n->timed || n->source_done.load() || !n->in_produce.load()) continue;
      if (n->source_done.exchange(true)) continue;
      log_->warn("source '", n->plan->name, "' has not returned from produce() ", kLiveStopBound.count(),
                 " ms after the stop request: its stream ends without it");
      n->finished.store(true);
      while (n->emitting.load() != 0) std::this_thread::yield();
      for (auto& port_links : n->out_links) {
        for (LinkState* link : port_links) put(*link, Envelope{nullptr, 0, link->id, EnvelopeType::eos});
      }
      graph_->release_wait();
    }
  }

  // ---- timers -------------------------------------------------------------------------------
  // One thread keeps every node's timer; a due tick goes into the node's own turn. A node still
  // busy with its last tick skips the ticks that fall due meanwhile.
  void timer_loop() {
    std::unique_lock<std::mutex> lock(timer_mutex_);
    for (auto& n : nodes_) {
      n->tick_ns = n->plan->context->timer_ns();
      // A source's first tick comes at once; any other node's one period after start.
      n->next_tick = Clock::now() + (n->timed ? Clock::duration(0) : std::chrono::nanoseconds(n->tick_ns));
    }
    while (!timer_stop_) {
      if (timers_dirty_) {
        timers_dirty_ = false;
        for (auto& n : nodes_) {
          std::int64_t period = n->plan->context->timer_ns();
          if (period != n->tick_ns) {
            n->tick_ns = period;
            n->next_tick = Clock::now() + std::chrono::nanoseconds(period);
          }
        }
      }
      auto now = Clock::now();
      auto wake = now + std::chrono::seconds(1);
      for (auto& n : nodes_) {
        if (n->tick_ns <= 0 || n->finished.load() || !n->fn) continue;
        if (n->next_tick <= now) {
          if (!n->tick_pending.exchange(true)) put_from_outside(*n, Envelope{nullptr, 0, 0, EnvelopeType::tick});
          auto period = std::chrono::nanoseconds(n->tick_ns);
          n->next_tick += period;
          if (n->next_tick <= now) n->next_tick = now + period;  // fell behind: skip, never burst
        }
        wake = std::min(wake, n->next_tick);
      }
      timer_cv_.wait_until(lock, wake, [&] { return timer_stop_ || timers_dirty_; });
    }
  }

  void tick(NodeState& node) {
    node.tick_pending.store(false);
    if (node.finished.load() || node.failed.load()) return;
    take_control(node);
    if (node.timed) {
      if (source_ends(node)) return finish_source(node);
      // A paced source waits for room downstream as a pull source does: the tick is skipped.
      if (source_paused(node) || (node.plan->mode == SourceMode::pull && full_link(node) != nullptr)) return;
    }
    bool more = true;
    auto call = [&] { guarded(node, [&] { more = node.plan->node->on_tick(*node.emitter); }); };
    std::uint64_t t0 = busy_clock();
    if (node.parallel) {
      node.gate.exclusive(call);
    } else {
      call();
    }
    node.busy_ticks.add(static_cast<std::int64_t>(busy_clock() - t0), node.parallel);
    if (node.timed && (!more || node.failed.load() || source_ends(node))) return finish_source(node);
    if (!more) node.plan->context->set_timer(std::chrono::nanoseconds(0));
  }

  // Covers a step lost to a race between a source raising a link's flag and the consumer
  // draining it: any pull source that could go on but has no step queued gets one.
  void watch_sources() {
    for (auto& n : nodes_) {
      if (!n->pull || n->finished.load() || n->scheduled.load()) continue;
      LinkState* full = full_link(*n);
      if (stop_.load() || (!paused_.load() && (full == nullptr || full->depth() <= full->plan->capacity / 2))) {
        schedule_from_outside(*n);
      }
    }
  }

  // ---- control delivery ---------------------------------------------------------------------
  void enqueue_control(NodeState& node, const ControlMessage& message) {
    {
      std::lock_guard<std::mutex> lock(node.control_mutex);
      node.control_inbox.push_back(message);
      node.has_control.store(true);
    }
    std::shared_lock<std::shared_mutex> lock(graph_mutex_);
    if (node.fn && running_.load() && !node.finished.load()) {
      node.fn->try_put(Envelope{nullptr, 0, 0, EnvelopeType::control});
    }
  }

  void take_control(NodeState& node) {
    if (!node.has_control.load(std::memory_order_relaxed)) return;
    std::vector<ControlMessage> inbox;
    {
      std::lock_guard<std::mutex> lock(node.control_mutex);
      inbox.swap(node.control_inbox);
      node.has_control.store(false);
    }
    std::vector<std::pair<const ControlMessage*, ControlReply>> replies;
    auto deliver_all = [&] {
      for (const auto& message : inbox) {
        ControlReply r;
        bool ok = false;
        guarded(node, [&] {
          r = node.plan->node->on_control(message, *node.emitter);
          ok = true;
        });
        if (!ok) r = ControlReply::refuse("the node failed while handling it");
        replies.emplace_back(&message, std::move(r));
      }
    };
    if (node.parallel) {
      node.gate.exclusive(deliver_all);
    } else {
      deliver_all();
    }
    for (auto& [message, r] : replies) {
      // A message for every node is answered by those that handle it.
      if (!r.handled && message->target.empty()) continue;
      if (!r.handled) {
        r.text = "node '" + node.plan->name + "' (" + node.plan->type->name + ") does not handle '" +
                 to_string(message->verb) + "'";
      }
      reply(*message, node.plan->name, r.accepted, r.step >= 0 ? r.step : node.packets_in.get(), r.text);
    }
  }

  // ---- buses --------------------------------------------------------------------------------
  PacketPtr telemetry_snapshot() {
    auto packet = make_packet(PayloadKind::telemetry);
    packet->stream = "tributary";
    packet->sequence = telemetry_step_.load();
    double now = wall_time_s();
    auto step = static_cast<std::int64_t>(packet->sequence);
    for (const auto& s : stats()) {
      auto add = [&](const char* name, double value) {
        packet->metrics.push_back(MetricPoint{now, s.name, name, step, -1, value});
      };
      add(metric::kPacketsIn, static_cast<double>(s.packets_in));
      add(metric::kPacketsOut, static_cast<double>(s.packets_out));
      add(metric::kDrops, static_cast<double>(s.drops));
      add(metric::kBusySeconds, s.busy_s);
      add(metric::kQueueDepth, static_cast<double>(s.queue_depth));
      add(metric::kBusDrops, static_cast<double>(s.bus_drops));
    }
    return packet;
  }

  void publish_bus(PacketPtr packet, Bus bus) {
    if (!running_.load()) {
      // While nodes start, bus traffic waits until every node is ready for it.
      std::lock_guard<std::mutex> lock(early_mutex_);
      if (!running_.load()) {
        if (collecting_early_) early_bus_.emplace_back(std::move(packet), bus);
        return;
      }
    }
    std::shared_lock<std::shared_mutex> lock(graph_mutex_);
    if (!running_.load()) return;
    for (auto& n : nodes_) {
      std::int64_t port = n->bus_port[bus];
      if (port < 0 || n->finished.load() || n->failed.load()) continue;
      if (n->bus_backlog.fetch_add(1, std::memory_order_relaxed) >= kBusBacklog) {
        n->bus_backlog.fetch_sub(1, std::memory_order_relaxed);
        n->bus_drops.add(1, true);
        continue;
      }
      n->fn->try_put(Envelope{packet, 0, static_cast<std::uint32_t>(port), EnvelopeType::bus});
    }
  }

  // Publishes telemetry every interval and looks after parked sources every few milliseconds.
  void telemetry_loop() {
    auto interval =
        std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(plan_.decl.telemetry_interval_s));
    auto next = Clock::now() + interval;
    std::unique_lock<std::mutex> lock(telemetry_mutex_);
    while (!telemetry_stop_) {
      telemetry_cv_.wait_for(lock, std::chrono::milliseconds(10), [&] { return telemetry_stop_; });
      if (telemetry_stop_) break;
      lock.unlock();
      watch_sources();
      end_stuck_sources();
      if (Clock::now() >= next) {
        next += interval;
        ++telemetry_step_;
        publish_bus(telemetry_snapshot(), kTelemetryBus);
      }
      lock.lock();
    }
  }

  // ---- the run ------------------------------------------------------------------------------
  RunResult run() {
    auto t0 = Clock::now();
    // The calling thread works in the arena too (it waits for the graph there).
    oneapi::tbb::global_control parallelism(oneapi::tbb::global_control::max_allowed_parallelism,
                                            static_cast<std::size_t>(threads_));
    oneapi::tbb::task_arena arena(threads_);
    std::unique_ptr<flow::graph>& graph = graph_;
    arena.execute([&] {
      graph = std::make_unique<flow::graph>();
      for (auto& n : nodes_) {
        if (n->live && !n->timed) continue;  // runs on a thread of its own, with no turn in the graph
        NodeState* state = n.get();
        std::size_t concurrency = n->parallel ? static_cast<std::size_t>(threads_) : 1;
        if (n->own_thread) {
          n->fn = std::make_unique<FlowNode>(
              *graph, 1, [this, state](const Envelope& e) { return hand_to_own_thread(*state, e); });
        } else {
          n->fn = std::make_unique<FlowNode>(*graph, concurrency,
                                             [this, state](const Envelope& e) { return run_body(*state, e); });
        }
      }
      // Only a serial producer's edge: a parallel one's returned envelope could still be on its
      // way when another of its bodies, finishing last, puts end of stream on the link.
      for (auto& n : nodes_) {
        if (!n->fn || n->parallel || n->own_thread || n->out_links.empty() || n->out_links[0].empty()) continue;
        LinkState& link = *n->out_links[0][0];
        link.edge = true;
        flow::make_edge(*n->fn, *nodes_[link.plan->to]->fn);
      }
    });

    for (auto& n : nodes_) {
      if (n->own_thread) n->own = std::thread([this, state = n.get()] { own_thread_loop(*state); });
    }
    if (plan_.view) {
      plan_.view->threads = threads_;
      plan_.view->start_time = wall_time_s();
    }
    for (std::size_t i = 0; i < nodes_.size(); ++i) plan_.nodes[i].context->attach(this, nodes_[i]->emitter.get());
    logging_.set_bus([this](const LogRecord& record) {
      auto packet = make_packet(PayloadKind::log);
      packet->stream = record.node;
      packet->logs.push_back(record);
      publish_bus(std::move(packet), kLogBus);
    });

    {
      std::lock_guard<std::mutex> lock(early_mutex_);
      collecting_early_ = true;
    }
    log_->info("run ", plan_.run.id, " of pipeline '", plan_.decl.name, "': ", nodes_.size(), " nodes, ", links_.size(),
               " links, ", threads_, " threads");
    // Start consumers before producers, so nothing is emitted into a node that is not ready.
    std::vector<NodeState*> started;
    bool start_failed = false;
    for (auto it = plan_.order.rbegin(); it != plan_.order.rend(); ++it) {
      NodeState& n = *nodes_[*it];
      try {
        n.plan->node->start();
        started.push_back(&n);
      } catch (const std::exception& e) {
        fail(n, std::string("could not start: ") + e.what());
        start_failed = true;
        break;
      } catch (...) {
        fail(n, "could not start: an exception that is not a std::exception");
        start_failed = true;
        break;
      }
    }

    if (!start_failed) {
      std::vector<std::pair<PacketPtr, Bus>> early;
      {
        std::lock_guard<std::mutex> lock(early_mutex_);
        running_.store(true);
        collecting_early_ = false;
        early.swap(early_bus_);
      }
      for (auto& [packet, bus] : early) publish_bus(std::move(packet), bus);
      publish_bus(control_packet(RunState{"running", {}, {}, wall_time_s()}), kControlBus);
      // The graph is not done while any source is going: each holds a wait on it until it ends.
      for (auto& n : nodes_) {
        if (n->plan->is_source) graph->reserve_wait();
      }
      std::vector<std::thread> live_sources;
      for (auto& n : nodes_) {
        if (n->pull) {
          schedule_from_outside(*n);
        } else if (n->live && !n->timed) {
          live_sources.emplace_back([this, state = n.get()] { live_source_loop(*state); });
        }
      }
      std::thread telemetry([this] { telemetry_loop(); });
      std::thread timers([this] { timer_loop(); });
      arena.execute([&] { graph->wait_for_all(); });
      // A live source cut off while blocked in produce() hears stop() first, to unblock it.
      for (auto& n : nodes_) {
        if (n->live && !n->timed && !n->returned.load() && n->source_done.load()) stop_node(*n);
      }
      for (auto& t : live_sources) t.join();
      // Every node no bus feeds is done: those stop first, so what they log while stopping
      // reaches the nodes that take the log bus.
      for (NodeState* n : started) {
        if (!n->bus_only && !n->has_bus_inputs) stop_node(*n);
      }
      {
        std::lock_guard<std::mutex> lock(telemetry_mutex_);
        telemetry_stop_ = true;
      }
      telemetry_cv_.notify_all();
      telemetry.join();
      publish_bus(control_packet(final_state()), kControlBus);
      logging_.drain_bus();
      // The buses close last: nodes fed by them get a final snapshot, then end of stream.
      for (auto& n : nodes_) {
        if (n->bus_only || n->has_bus_inputs) n->fn->try_put(Envelope{nullptr, 0, kBusEos, EnvelopeType::eos});
      }
      arena.execute([&] { graph->wait_for_all(); });
      {
        std::lock_guard<std::mutex> lock(timer_mutex_);
        timer_stop_ = true;
      }
      timer_cv_.notify_all();
      timers.join();
      {
        // From here on nothing from outside the graph (control, buses, timers) puts into it.
        std::unique_lock<std::shared_mutex> lock(graph_mutex_);
        running_.store(false);
      }
      arena.execute([&] { graph->wait_for_all(); });
    }

    for (auto& n : nodes_) {
      if (!n->own.joinable()) continue;
      {
        std::lock_guard<std::mutex> lock(n->own_mutex);
        n->own_quit = true;
      }
      n->own_cv.notify_all();
      n->own.join();
    }
    for (NodeState* n : started) stop_node(*n);
    logging_.set_bus(nullptr);
    for (auto& n : plan_.nodes) n.context->attach(nullptr, nullptr);
    arena.execute([&] {
      graph->reset(flow::rf_clear_edges);
      for (auto& n : nodes_) n->fn.reset();  // flow-graph nodes go before their graph
      graph.reset();
    });

    RunResult result;
    result.nodes = stats();
    result.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (!failed_node_.empty()) {
      result.status = RunResult::Status::failed;
      result.failed_node = failed_node_;
      result.error = error_;
    } else if (stop_.load()) {
      result.status = RunResult::Status::stopped;
      result.stop_reason = stop_reason_;
    }
    return result;
  }

  RunState final_state() {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (!failed_node_.empty()) return RunState{"failed", failed_node_ + ": " + error_, failed_node_, wall_time_s()};
    if (stop_.load()) return RunState{"stopped", stop_reason_, {}, wall_time_s()};
    return RunState{"finished", {}, {}, wall_time_s()};
  }

  // Calls the node's stop() once.
  void stop_node(NodeState& n) {
    if (n.stopped) return;
    n.stopped = true;
    std::string error;
    try {
      n.plan->node->stop();
    } catch (const std::exception& e) {
      error = e.what();
    } catch (...) {
      error = "an exception that is not a std::exception";
    }
    if (error.empty()) return;
    log_->error("node '", n.plan->name, "' failed while stopping: ", error);
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (failed_node_.empty()) {
      failed_node_ = n.plan->name;
      error_ = "failed while stopping: " + error;
    }
  }

  std::vector<NodeStats> stats() const {
    auto ticks = static_cast<double>(busy_clock() - clock_start_ticks_);
    auto ns = static_cast<double>(Clock::now().time_since_epoch().count() - clock_start_ns_);
    double seconds_per_tick = 1e-9;
#if defined(__x86_64__) || defined(__i386__)
    // Calibrated over the runtime's life so far; a nanosecond a tick until there is enough of it.
    if (ticks > 1e6) seconds_per_tick = ns / ticks * 1e-9;
#else
    (void)ticks;
    (void)ns;
#endif
    std::vector<NodeStats> out;
    for (const auto& n : nodes_) {
      NodeStats s;
      s.name = n->plan->name;
      s.plugin = n->plan->type->name;
      s.packets_in = static_cast<std::uint64_t>(n->packets_in.get());
      s.packets_out = static_cast<std::uint64_t>(n->packets_out.get());
      s.busy_s = static_cast<double>(n->busy_ticks.get()) * seconds_per_tick;
      s.drops = static_cast<std::uint64_t>(n->late_drops.get());
      s.bus_drops = static_cast<std::uint64_t>(n->bus_drops.get());
      for (const LinkState* l : n->in_links) {
        s.drops += static_cast<std::uint64_t>(l->drops.get());
        s.queue_depth += std::max<std::int64_t>(0, l->depth());
      }
      out.push_back(std::move(s));
    }
    return out;
  }

 private:
  Plan& plan_;
  Logging& logging_;
  std::unique_ptr<Logger> log_;
  int threads_ = 1;
  std::vector<std::unique_ptr<LinkState>> links_;
  std::vector<std::unique_ptr<NodeState>> nodes_;

  std::atomic<bool> running_{false};
  std::shared_mutex graph_mutex_;
  std::mutex early_mutex_;
  bool collecting_early_ = false;
  std::vector<std::pair<PacketPtr, Bus>> early_bus_;
  std::atomic<std::uint64_t> next_control_id_{0};
  std::mutex reply_mutex_;
  std::map<std::uint64_t, Runtime::ReplyHandler> reply_handlers_;
  std::mutex timer_mutex_;
  std::condition_variable timer_cv_;
  bool timers_dirty_ = false;
  bool timer_stop_ = false;
  std::atomic<std::int64_t> stop_time_ns_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> paused_{false};
  std::mutex state_mutex_;
  std::string stop_reason_;
  std::string failed_node_;
  std::string error_;

  std::mutex wait_mutex_;
  std::condition_variable wait_cv_;
  std::unique_ptr<flow::graph> graph_;
  // A first estimate of the tick length, for the sampler's decisions only (a millisecond).
  static double measure_ns_per_tick() {
#if defined(__x86_64__) || defined(__i386__)
    auto ns0 = Clock::now();
    auto t0 = busy_clock();
    while (Clock::now() - ns0 < std::chrono::milliseconds(1)) {
    }
    auto ticks = static_cast<double>(busy_clock() - t0);
    auto ns = std::chrono::duration<double, std::nano>(Clock::now() - ns0).count();
    return ticks > 0 ? ns / ticks : 1.0;
#else
    return 1.0;
#endif
  }

  double ns_per_tick_ = 1.0;
  std::int64_t clock_start_ns_ = 0;
  std::uint64_t clock_start_ticks_ = 0;

  std::mutex telemetry_mutex_;
  std::condition_variable telemetry_cv_;
  bool telemetry_stop_ = false;
  std::atomic<std::uint64_t> telemetry_step_{0};
};

Runtime::Runtime(Plan& plan, Logging& logging) : impl_(std::make_unique<Impl>(plan, logging)) {}
Runtime::~Runtime() = default;
RunResult Runtime::run() { return impl_->run(); }
void Runtime::request_stop(std::string reason) { impl_->request_stop(std::move(reason)); }
std::string Runtime::control(ControlMessage message, ReplyHandler on_reply) {
  return impl_->control(std::move(message), std::move(on_reply));
}
std::vector<NodeStats> Runtime::stats() const { return impl_->stats(); }

}  // namespace tributary::core

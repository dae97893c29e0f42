#pragma once
// The runtime's inside, shared by its parts:
//   runtime.cpp          the run's lifecycle: building the flow graph, starting, ending, statistics
//   runtime_data.cpp     the data path: emitting, links and their policies, order, markers, end of stream
//   runtime_sources.cpp  sources (pull steps, live threads, the stop bound) and timers
//   runtime_control.cpp  the run's services: control with replies, buses, telemetry
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

#include "runtime.hpp"

#if defined(__x86_64__) || defined(__i386__)
#include <x86intrin.h>
#endif

#include "logging.hpp"
#include "sync.hpp"

namespace tributary::core {

namespace flow = oneapi::tbb::flow;
using Clock = std::chrono::steady_clock;

namespace runtime_detail {

enum class EnvelopeType : std::uint8_t { none, data, eos, bus, control, resume, post, tick, close };

// Markers travel the data path as packets of a kind of their own, which no port declares and no
// node's process() sees.
constexpr auto kMarkerKind = static_cast<PayloadKind>(std::uint64_t{1} << 63);

inline PacketPtr marker_packet(const Marker& marker) {
  auto packet = make_packet(kMarkerKind);
  packet->stream = marker.stream;
  packet->split = marker.split;
  packet->sequence = static_cast<std::uint64_t>(marker.kind);
  packet->timestamp_ns = marker.epoch;
  return packet;
}

inline Marker marker_of(const Packet& packet) {
  Marker marker;
  marker.kind = static_cast<MarkerKind>(packet.sequence);
  marker.epoch = packet.timestamp_ns;
  marker.split = packet.split;
  marker.stream = packet.stream;
  return marker;
}

inline bool is_marker(const PacketPtr& packet) noexcept { return packet->kind == kMarkerKind; }

struct KeepMarkers {
  bool operator()(const PacketPtr& packet) const noexcept { return is_marker(packet); }
};

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
inline thread_local Outbox* t_outbox = nullptr;

// Busy time is read twice per packet per node: the time-stamp counter where there is one,
// converted to seconds against the steady clock when telemetry asks.
inline std::uint64_t busy_clock() noexcept {
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
  DropQueue<PacketPtr, KeepMarkers> queue;
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
  std::int64_t depth() const noexcept { return buffered ? queue.size() : puts.get() - takes.get(); }
};

constexpr std::uint32_t kBusEos = 0xffffffffu;
// Bus packets waiting at one node at most; past it, new ones are dropped for that node and counted.
constexpr std::int64_t kBusBacklog = 1024;

}  // namespace runtime_detail
using namespace runtime_detail;

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
    std::vector<LinkState*> throttle;              // block-policy links downstream (pull sources wait on them,
                                                   // and a node that waits for room downstream)
    std::once_flag room_links_found;               // throttle filled for a node that is no pull source
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
    std::atomic<std::uint64_t> own_pushed{0};  // envelopes handed over so far, read without the lock
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
    EmissionGate emission;
    // Other nodes: packets posted from their own threads, emitted in their own turn.
    std::mutex post_mutex;
    std::deque<Emitted> posted;
    bool posts_closed = false;
    bool pull = false;                   // a pull source: runs as steps in the graph
    std::atomic<bool> scheduled{false};  // pull sources: a step is queued or running
    // Parallel nodes only: data envelopes put and not yet processed. A serial node takes its
    // queue in order, so it has processed all data when it takes the last end of stream.
    std::atomic<std::int64_t> pending{0};
    std::atomic<int> eos_remaining{0};
    std::atomic<bool> finishing{false};  // finish() has begun
    std::atomic<bool> finished{false};   // flushed: what the node emits from here on is late
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
    TurnOrder<Emitted> turns;
  };

  Impl(Plan& plan, Logging& logging);

  void collect_lossless(LinkState& edge, NodeState& from);

  ~Impl() override = default;

  // ---- RuntimeHooks -------------------------------------------------------------------------
  void publish_metric(MetricPoint point) override;

  void request_stop(std::string reason) override;

  bool stop_requested() const override { return stop_.load(std::memory_order_relaxed); }

  std::uint64_t send_control(ControlMessage message) override;

  void timer_changed() override;
  bool wait_for_room(const std::string& node) override;

  void publish_control(PacketPtr packet) override;

  // ---- control bus --------------------------------------------------------------------------
  // Sends a control message. The runtime answers at once when it refuses the message or handles
  // it itself; set and checkpoint are answered by the nodes. Every reply goes on the control bus
  // and to on_reply. Returns an empty string when the message went out, else why not.
  std::string control(ControlMessage message, Runtime::ReplyHandler on_reply = {}, std::uint64_t* id_out = nullptr);

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
      if (it != reply_handlers_.end()) handler = it->second.handler;
    }
    if (handler) handler(r);
    settle(message.id);
  }

  // One delivery of a message is answered or passed over: the sender's handler is let go once
  // every delivery is, so a caller sending messages for days does not grow the map.
  void settle(std::uint64_t id) {
    std::lock_guard<std::mutex> lock(reply_mutex_);
    auto it = reply_handlers_.find(id);
    if (it != reply_handlers_.end() && --it->second.outstanding <= 0 && it->second.routed) reply_handlers_.erase(it);
  }
  std::size_t awaited_replies() {
    std::lock_guard<std::mutex> lock(reply_mutex_);
    return reply_handlers_.size();
  }
  void expect_reply(std::uint64_t id) {
    std::lock_guard<std::mutex> lock(reply_mutex_);
    auto it = reply_handlers_.find(id);
    if (it != reply_handlers_.end()) ++it->second.outstanding;
  }

  std::string route_control(const ControlMessage& message);

  // Stop aimed at one node: what reaches its inputs from now on is dropped, and it ends (flushes
  // and passes end of stream on) as soon as what it is processing is done.
  void close_inputs(NodeState& node);

  // Pause aimed at one node: its input envelopes wait in the runtime, so the node itself stays
  // free for control; resume puts them back in the order they came.
  void hold_inputs(NodeState& node, bool hold);

  bool put_from_outside(NodeState& node, Envelope envelope);  // false when nothing takes it

  // ---- data path ----------------------------------------------------------------------------
  // What a node emits inside its own callbacks, or an ordered node's turn being released.
  void emit_now(NodeState& node, std::size_t port, PacketPtr packet);

  // A live source's packet from any thread. End of stream waits for the emissions under way, and
  // none starts after it.
  void emit_live(NodeState& node, std::size_t port, PacketPtr packet);

  // Another node's packet from a thread of its own: it goes out from the node's own turn in the
  // graph, so it never runs beside the node's callbacks and keeps its place before end of stream.
  void post(NodeState& node, std::size_t port, PacketPtr packet);
  void drain_posts(NodeState& node, bool close);

  void deliver(LinkState& link, PacketPtr packet);

  // Whether a lossless link behind this live edge is full.
  static bool lossless_full(const LinkState& link);

  // Puts a data or end-of-stream envelope on a link, numbered when the link is ordered.
  void put(LinkState& link, Envelope envelope);

  // One body of a node, with an outbox for its edge link; returns what the edge carries on.
  Envelope run_body(NodeState& node, const Envelope& envelope);

  // An own-thread node's flow-graph body hands each envelope to the node's thread; the graph is
  // not done while one waits there.
  Envelope hand_to_own_thread(NodeState& node, const Envelope& envelope);

  void own_thread_loop(NodeState& node);

  void take_in_order(NodeState& node, const Envelope& envelope);

  void body(NodeState& node, const Envelope& envelope);

  // An ordered node's body is done: its turn, and every later one already done, go out in order.
  void release_turn(NodeState& node, std::uint64_t ordinal, std::vector<Emitted> emitted, bool marker);

  // A marker reaches the node's on_marker(), in the same way as process() would run.
  void on_marker(NodeState& node, const InputPort& port, const Marker& marker);

  // Every link into the port has ended and what came through it is processed: the node hears of
  // it once, after everything that came before.
  void check_port_end(NodeState& node, std::size_t port);

  void process(NodeState& node, const InputPort& port, const PacketPtr& packet);

  void maybe_finish(NodeState& node);

  // Flush once, then pass end of stream on. A failed node does not flush but still passes it on,
  // so the sinks downstream flush what they received.
  void finish(NodeState& node);
  void end_stream(NodeState& node);

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

  void fail(NodeState& node, const std::string& message);

  // ---- sources ------------------------------------------------------------------------------
  void collect_blocking_links(const NodeState& from, std::vector<LinkState*>& links) const;
  void collect_throttle(NodeState& source);

  // The first full link downstream of a pull source, or nullptr when there is room everywhere.
  LinkState* full_link(const NodeState& source) const;

  // Queues a step of a pull source unless one is queued or running. From inside the graph.
  void schedule(NodeState& source);

  // The same from outside the graph (control, signals, the watchdog).
  void schedule_from_outside(NodeState& source);

  void schedule_all_sources_from_outside();

  // A pull source runs in the graph, a batch of produce() calls per step. It stops producing
  // while a link downstream of it is full; the consumer that drains that link to half schedules
  // the next step. No thread waits.
  static constexpr int kSourceBatch = 16;

  bool source_paused(const NodeState& node) const { return paused_.load() || node.held.load(); }
  bool source_ends(const NodeState& node) const {
    return stop_.load() || node.failed.load() || node.inputs_closed.load();
  }

  void source_step(NodeState& node);

  // One call of a source's produce(); false at end of stream or when the source failed.
  bool produce(NodeState& node);

  void finish_source(NodeState& node);

  // A live source runs on a thread of its own: produce() waits for its device, and the
  // runtime never makes it wait for downstream (full links drop by policy).
  void live_source_loop(NodeState& node);

  // A live source whose produce() has not returned this long after a stop request ends without
  // it: end of stream goes on, what it emits later is dropped and counted, and its stop() is
  // called before the runtime waits for its thread, so a device read can be cut short there.
  static constexpr std::chrono::milliseconds kLiveStopBound{500};

  void end_stuck_sources();
  void put_tick(NodeState& node);

  // ---- timers -------------------------------------------------------------------------------
  // One thread keeps every node's timer; a due tick goes into the node's own turn. A node still
  // busy with its last tick skips the ticks that fall due meanwhile.
  void timer_loop();

  void tick(NodeState& node);

  // Covers a step lost to a race between a source raising a link's flag and the consumer
  // draining it: any pull source that could go on but has no step queued gets one.
  void watch_sources();

  // ---- control delivery ---------------------------------------------------------------------
  void enqueue_control(NodeState& node, const ControlMessage& message);
  // Messages that reach a node after its end are refused (or, sent to every node, passed over).
  void refuse_after_end(NodeState& node);

  void take_control(NodeState& node);

  // ---- buses --------------------------------------------------------------------------------
  PacketPtr telemetry_snapshot();

  void publish_bus(PacketPtr packet, Bus bus);

  // What the observer sees of a bus packet, and of a metric packet a node emits.
  void observe_bus(const Packet& packet, Bus bus);
  void observe_emitted(const NodeState& node, const Packet& packet);

  void set_observer(RunObserver* observer) { observer_ = observer; }

  // Publishes telemetry every interval and looks after parked sources every few milliseconds.
  void telemetry_loop();

  // ---- the run ------------------------------------------------------------------------------
  RunResult run();

  RunState final_state();

  // Calls the node's stop() once.
  void stop_node(NodeState& n);

  std::vector<NodeStats> stats() const;

 private:
  Plan& plan_;
  Logging& logging_;
  std::unique_ptr<Logger> log_;
  int threads_ = 1;
  std::vector<std::unique_ptr<LinkState>> links_;
  std::vector<std::unique_ptr<NodeState>> nodes_;

  std::atomic<bool> running_{false};
  std::atomic<bool> graph_open_{false};  // the flow graph takes posts: from before start() to teardown
  std::shared_mutex graph_mutex_;
  std::mutex early_mutex_;
  bool collecting_early_ = false;
  std::vector<std::pair<PacketPtr, Bus>> early_bus_;
  std::atomic<std::uint64_t> next_control_id_{0};
  std::mutex reply_mutex_;
  struct PendingReply {
    Runtime::ReplyHandler handler;
    int outstanding = 0;  // deliveries not answered yet (replies the runtime gives itself count -1)
    bool routed = false;  // every delivery is known
  };
  std::map<std::uint64_t, PendingReply> reply_handlers_;
  std::mutex timer_mutex_;
  std::condition_variable timer_cv_;
  bool timers_dirty_ = false;
  bool timer_stop_ = false;
  std::atomic<std::int64_t> stop_time_ns_{0};
  std::atomic<bool> stop_{false};
  std::atomic<bool> paused_{false};
  std::mutex state_mutex_;
  std::string stop_reason_;
  // The stop came once every source had ended by itself: nothing was cut short, the run finished.
  bool stop_after_sources_ = false;
  std::string failed_node_;
  std::string error_;

  std::mutex wait_mutex_;
  std::condition_variable wait_cv_;
  // Sources still going: the calling thread sleeps until none is, rather than wait in the arena,
  // where it would spin for work while the workers (and a trainer's threads) need the cores.
  std::mutex sources_mutex_;
  std::condition_variable sources_cv_;
  int sources_going_ = 0;
  void source_released() {
    {
      std::lock_guard<std::mutex> lock(sources_mutex_);
      --sources_going_;
    }
    sources_cv_.notify_all();
  }
  std::unique_ptr<flow::graph> graph_;
  // A first estimate of the tick length, for the sampler's decisions only (a millisecond).
  static double measure_ns_per_tick();

  double ns_per_tick_ = 1.0;
  std::int64_t clock_start_ns_ = 0;
  std::uint64_t clock_start_ticks_ = 0;

  std::mutex telemetry_mutex_;
  std::condition_variable telemetry_cv_;
  bool telemetry_stop_ = false;
  std::atomic<std::uint64_t> telemetry_step_{0};
  RunObserver* observer_ = nullptr;
};

}  // namespace tributary::core

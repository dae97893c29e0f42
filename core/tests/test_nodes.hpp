#pragma once
// Small node types for testing the runtime, registered from code.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <mutex>
#include <thread>
#include <vector>

#include "logging.hpp"
#include "pipeline_file.hpp"
#include "plan.hpp"
#include "plugin_registry.hpp"
#include "runtime.hpp"
#include "tributary/sdk.hpp"

namespace tributary::testnodes {

// What the nodes of one test saw; reset by each test.
struct Record {
  std::mutex mutex;
  std::vector<std::int64_t> received;  // sequence numbers reaching `collect` nodes
  std::atomic<int> flushes{0};
  std::atomic<int> stops{0};
  std::atomic<std::int64_t> max_depth_seen{0};
  std::vector<std::string> log_lines;
  std::vector<MetricPoint> telemetry;
  std::vector<ControlMessage> controls;
  std::atomic<double> gain{1.0};
  std::atomic<long> alive{0};      // big packets not yet freed
  std::atomic<long> max_alive{0};  // the most alive at once
  std::atomic<int> in_process{0};
  std::atomic<int> max_in_process{0};  // the most bodies of a node inside process() at once
  std::atomic<int> controls_seen{0};
  std::atomic<int> control_overlaps{0};
  std::vector<std::string> events;  // packets ("p3") and markers ("epoch_end 0", "end in") in arrival order
  std::atomic<int> ticks{0};
  std::atomic<bool> lingering{false};    // a `collect` with linger is waiting in flush()
  std::vector<std::thread::id> threads;  // where an own-thread node ran its callbacks
  std::vector<std::string> bus_control;  // what a control-bus listener saw, one line each
  std::vector<ControlReply> replies;
  RunView view;
  std::atomic<bool> release_stuck{false};
  std::atomic<bool> stuck_blocked{false};  // `stuck` is inside its blocking produce()

  void reset() {
    lingering = false;
    events.clear();
    ticks = 0;
    threads.clear();
    bus_control.clear();
    replies.clear();
    view = RunView{};
    release_stuck = false;
    stuck_blocked = false;
    alive = 0;
    max_alive = 0;
    in_process = 0;
    max_in_process = 0;
    controls_seen = 0;
    control_overlaps = 0;
    std::lock_guard<std::mutex> lock(mutex);
    received.clear();
    flushes = 0;
    stops = 0;
    max_depth_seen = 0;
    log_lines.clear();
    telemetry.clear();
    controls.clear();
    gain = 1.0;
  }
};
Record& record();

// A numbered packet holding 64 KiB, counted in record().alive until it is freed.
inline PacketPtr big_numbered(std::uint64_t seq) {
  auto p = make_packet(PayloadKind::features);
  p->sequence = seq;
  long now = ++record().alive;
  long seen = record().max_alive.load();
  while (now > seen && !record().max_alive.compare_exchange_weak(seen, now)) {
  }
  constexpr std::size_t kBytes = 64 * 1024;
  std::shared_ptr<void> owner(::operator new(kBytes), [](void* q) {
    ::operator delete(q);
    --record().alive;
  });
  p->tensors.push_back(Tensor::wrap(owner, owner.get(), DType::u8, {static_cast<std::int64_t>(kBytes)}));
  return p;
}

inline PacketPtr numbered(std::uint64_t seq, PayloadKind kind = PayloadKind::features) {
  auto p = make_packet(kind);
  p->sequence = seq;
  p->tensors.push_back(Tensor::from_vector(std::vector<double>{static_cast<double>(seq)}));
  return p;
}

class Counter final : public Node {
 public:
  static constexpr const char* kType = "counter";
  static constexpr OutputPort kOut{"out", PayloadKind::features, "numbers"};
  static void declare(NodeSpec& spec) {
    spec.summary("counts from 0");
    spec.output(kOut);
    spec.source(SourceMode::pull);
    spec.param<std::int64_t>("count", 100, "how many (0 = endless)").min(0);
    spec.param<bool>("live", false, "never wait for downstream");
    spec.param<std::int64_t>("period_us", 0, "pause between packets").min(0);
    spec.param<bool>("big", false, "64 KiB packets, counted while alive");
    spec.param<std::string>("from", "", "a file it would read").input_path();
    spec.param<std::string>("data", "", "a folder it would read").input_folder();
    spec.param<std::string>("into", "", "a folder it would write into").output_folder();
    spec.param<std::string>("either", "", "a file or a folder it would read").input_file_or_folder();
    spec.param("model", ParamType::table, Value::table({}), "a table whose 'file' it would read, 'log' it would write")
        .path_key("file", PathRole::input)
        .path_key("log", PathRole::output);
  }
  void configure(const Params& p) override {
    big_ = p.get<bool>("big");
    count_ = p.get<std::int64_t>("count");
    live_ = p.get<bool>("live");
    period_ = std::chrono::microseconds(p.get<std::int64_t>("period_us"));
  }
  SourceMode source_mode(SourceMode declared) const override { return live_ ? SourceMode::live : declared; }
  bool produce(Emitter& out) override {
    if (count_ > 0 && next_ >= static_cast<std::uint64_t>(count_)) return false;
    if (period_.count() > 0) std::this_thread::sleep_for(period_);
    out.emit(kOut, big_ ? big_numbered(next_++) : numbered(next_++));
    return true;
  }

 private:
  bool big_ = false;
  std::int64_t count_ = 0;
  bool live_ = false;
  std::chrono::microseconds period_{0};
  std::uint64_t next_ = 0;
};

// Passes packets on, optionally slowly, optionally failing at a given sequence number.
class Relay final : public Node {
 public:
  static constexpr const char* kType = "relay";
  static constexpr InputPort kIn{"in", PayloadKind::features, "anything"};
  static constexpr InputPort kSide{"side", PayloadKind::features, "a second input", Feed::links, true};
  static constexpr OutputPort kOut{"out", PayloadKind::features, "the same packets"};
  static void declare(NodeSpec& spec) {
    spec.summary("passes packets on");
    spec.input(kIn);
    spec.input(kSide);
    spec.output(kOut);
    spec.param<std::int64_t>("fail_at", -1, "throw at this sequence number");
    spec.param<std::int64_t>("delay_us", 0, "work per packet").min(0);
    spec.param<double>("gain", 1.0, "a settable value").settable();
    spec.param<std::string>("note", "", "any text");
    spec.param<bool>("throw_int", false, "at fail_at, throw an int rather than a std::exception");
  }
  void configure(const Params& p) override {
    throw_int_ = p.get<bool>("throw_int");
    fail_at_ = p.get<std::int64_t>("fail_at");
    delay_ = std::chrono::microseconds(p.get<std::int64_t>("delay_us"));
  }
  void process(const InputPort&, const PacketPtr& packet, Emitter& out) override {
    if (static_cast<std::int64_t>(packet->sequence) == fail_at_) {
      if (throw_int_) throw 42;
      throw std::runtime_error("bad packet " + std::to_string(packet->sequence));
    }
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    out.emit(kOut, packet);
  }
  ControlReply on_control(const ControlMessage& m, Emitter&) override {
    std::lock_guard<std::mutex> lock(record().mutex);
    record().controls.push_back(m);
    if (m.verb == ControlVerb::set && m.key == "gain") record().gain = m.value.as_number();
    return ControlReply::accept("recorded");
  }

 private:
  bool throw_int_ = false;
  std::int64_t fail_at_ = -1;
  std::chrono::microseconds delay_{0};
};

// A stateless node the runtime may run in parallel (`ordered_square`: with its order kept).
template <Concurrency kConcurrency>
class SquareOf final : public Node {
 public:
  static constexpr const char* kType = kConcurrency == Concurrency::ordered ? "ordered_square" : "square";
  static constexpr InputPort kIn{"in", PayloadKind::features, "numbers"};
  static constexpr OutputPort kOut{"out", PayloadKind::features, "squares"};
  static void declare(NodeSpec& spec) {
    spec.summary("squares");
    spec.input(kIn);
    spec.output(kOut);
    spec.concurrency(kConcurrency);
    spec.param<double>("gain", 1.0, "a settable value").settable();
  }
  ControlReply on_control(const ControlMessage&, Emitter&) override {
    ++record().controls_seen;
    if (record().in_process.load() > 0) ++record().control_overlaps;
    return ControlReply::accept();
  }
  void process(const InputPort&, const PacketPtr& packet, Emitter& out) override {
    ++record().in_process;
    auto p = make_packet(PayloadKind::features);
    p->sequence = packet->sequence;
    double v = packet->tensors.at(0).at(0);
    p->tensors.push_back(Tensor::from_vector(std::vector<double>{v * v}));
    // Uneven work, so that parallel bodies finish out of order.
    std::this_thread::sleep_for(std::chrono::microseconds(packet->sequence % 3 == 0 ? 150 : 20));
    --record().in_process;
    out.emit(kOut, p);
  }
  void flush(Emitter&) override { ++record().flushes; }
};
using Square = SquareOf<Concurrency::parallel>;
using OrderedSquare = SquareOf<Concurrency::ordered>;

// Whole clips: `count` example packets numbered from 0.
class Clips final : public Node {
 public:
  static constexpr const char* kType = "clips";
  static constexpr OutputPort kOut{"out", PayloadKind::example, "numbered examples"};
  static void declare(NodeSpec& spec) {
    spec.summary("numbered whole clips");
    spec.output(kOut);
    spec.source(SourceMode::pull);
    spec.param<std::int64_t>("count", 100, "how many").min(1);
  }
  void configure(const Params& p) override { count_ = static_cast<std::uint64_t>(p.get<std::int64_t>("count")); }
  bool produce(Emitter& out) override {
    if (next_ >= count_) return false;
    out.emit(kOut, numbered(next_++, PayloadKind::example));
    return true;
  }

 private:
  std::uint64_t count_ = 0;
  std::uint64_t next_ = 0;
};

// Squares: a stream one packet at a time, whole clips at the same time (concurrency_for).
class ClipSquare final : public Node {
 public:
  static constexpr const char* kType = "clip_square";
  static constexpr InputPort kIn{"in", PayloadKind::features | PayloadKind::example, "numbers"};
  static constexpr OutputPort kOut{"out", PayloadKind::features | PayloadKind::example, "squares"};
  static void declare(NodeSpec& spec) {
    spec.summary("squares; whole clips in parallel, in order");
    spec.input(kIn);
    spec.output(kOut);
    spec.concurrency(Concurrency::serial);
    spec.concurrency_for(PayloadKind::example, Concurrency::ordered);
    spec.keeps_kinds(kIn, kOut);
    spec.param<bool>("meet", false, "packet 0 waits (up to 10 s) until a second body is inside process()");
  }
  void configure(const Params& p) override { meet_ = p.get<bool>("meet"); }
  void process(const InputPort&, const PacketPtr& packet, Emitter& out) override {
    int now = ++record().in_process;
    for (int seen = record().max_in_process.load();
         now > seen && !record().max_in_process.compare_exchange_weak(seen, now);) {
    }
    if (meet_ && packet->sequence == 0) {
      auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(10);
      while (record().max_in_process.load() < 2 && std::chrono::steady_clock::now() < give_up) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      }
    }
    auto p = make_packet(packet->kind);
    p->sequence = packet->sequence;
    double v = packet->tensors.at(0).at(0);
    p->tensors.push_back(Tensor::from_vector(std::vector<double>{v * v}));
    // Uneven work, so that parallel bodies finish out of order.
    std::this_thread::sleep_for(std::chrono::microseconds(packet->sequence % 3 == 0 ? 400 : 50));
    --record().in_process;
    out.emit(kOut, p);
  }

 private:
  bool meet_ = false;
};

// A live source that emits from a second thread of its own while produce() emits too, as a
// device callback would.
class TwoThreads final : public Node {
 public:
  static constexpr const char* kType = "two_threads";
  static constexpr int kEach = 20000;
  static constexpr OutputPort kOut{"out", PayloadKind::features, "numbers"};
  static void declare(NodeSpec& spec) {
    spec.summary("emits from two threads");
    spec.output(kOut);
    spec.source(SourceMode::live);
  }
  bool produce(Emitter& out) override {
    std::thread other([this] {
      for (int i = 0; i < kEach; ++i) context().emitter().emit(kOut, numbered(100000 + i));
    });
    for (int i = 0; i < kEach; ++i) out.emit(kOut, numbered(i));
    other.join();
    return false;
  }
};

class Collect final : public Node {
 public:
  static constexpr const char* kType = "collect";
  static constexpr InputPort kIn{"in", PayloadKind::features, "anything"};
  static constexpr InputPort kTelemetry{"telemetry", PayloadKind::telemetry, "telemetry", Feed::telemetry};
  static constexpr InputPort kLogs{"logs", PayloadKind::log, "logs", Feed::logs};
  static void declare(NodeSpec& spec) {
    spec.summary("remembers what it receives");
    spec.input(kIn);
    spec.input(kTelemetry);
    spec.input(kLogs);
    spec.param<std::int64_t>("delay_us", 0, "work per packet").min(0);
    spec.param<bool>("buses", false, "subscribe to telemetry and logs");
    spec.param<bool>("events", false, "record packets and markers in arrival order");
    spec.param<bool>("linger", false, "stay in flush() until the run is asked to stop (as a dashboard does)");
  }
  void configure(const Params& p) override {
    linger_ = p.get<bool>("linger");
    delay_ = std::chrono::microseconds(p.get<std::int64_t>("delay_us"));
    buses_ = p.get<bool>("buses");
    events_ = p.get<bool>("events");
  }
  void on_marker(const InputPort& port, const Marker& marker, Emitter&) override {
    std::lock_guard<std::mutex> lock(record().mutex);
    if (marker.kind == MarkerKind::end_of_stream) {
      record().events.push_back(std::string("end ") + port.name);
    } else {
      record().events.push_back(std::string(to_string(marker.kind)) + " " + std::to_string(marker.epoch));
    }
  }
  bool wants(const InputPort&) const override { return buses_; }
  void process(const InputPort& port, const PacketPtr& packet, Emitter&) override {
    std::lock_guard<std::mutex> lock(record().mutex);
    if (&port == &kTelemetry) {
      for (const auto& m : packet->metrics) record().telemetry.push_back(m);
      return;
    }
    if (&port == &kLogs) {
      for (const auto& l : packet->logs) record().log_lines.push_back(l.node + ": " + l.message);
      log().info("saw a log line");  // must not come back through the bus
      return;
    }
    if (delay_.count() > 0) std::this_thread::sleep_for(delay_);
    record().received.push_back(static_cast<std::int64_t>(packet->sequence));
    if (events_) record().events.push_back("p" + std::to_string(packet->sequence));
  }
  void flush(Emitter&) override {
    record().lingering = linger_;
    for (int i = 0; linger_ && i < 10000 && !context().stop_requested(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    ++record().flushes;
    log().info("flushed");
  }
  void stop() override { ++record().stops; }

 private:
  bool linger_ = false;
  std::chrono::microseconds delay_{0};
  bool buses_ = false;
  bool events_ = false;
};

// A pull source of numbered packets that marks the end of each epoch of `every` packets.
class Epochs final : public Node {
 public:
  static constexpr const char* kType = "epochs";
  static constexpr OutputPort kOut{"out", PayloadKind::features, "numbers and epoch markers"};
  static void declare(NodeSpec& spec) {
    spec.summary("numbered packets in epochs");
    spec.output(kOut);
    spec.source(SourceMode::pull);
    spec.param<std::int64_t>("epochs", 3, "how many epochs").min(1);
    spec.param<std::int64_t>("every", 100, "packets per epoch").min(1);
    spec.param<bool>("end_marker", false, "marks end_of_stream itself, which only the runtime may");
  }
  void configure(const Params& p) override {
    epochs_ = p.get<std::int64_t>("epochs");
    every_ = p.get<std::int64_t>("every");
    end_marker_ = p.get<bool>("end_marker");
  }
  bool produce(Emitter& out) override {
    if (next_ >= static_cast<std::uint64_t>(epochs_ * every_)) return false;
    out.emit(kOut, numbered(next_++));
    if (end_marker_) out.mark(Marker{MarkerKind::end_of_stream, -1, Split::none, {}});
    if (next_ % static_cast<std::uint64_t>(every_) == 0) {
      out.mark(Marker{MarkerKind::epoch_end, static_cast<std::int64_t>(next_) / every_ - 1, Split::none, {}});
    }
    return true;
  }

 private:
  std::int64_t epochs_ = 0;
  std::int64_t every_ = 0;
  bool end_marker_ = false;
  std::uint64_t next_ = 0;
};

// Passes packets on and counts the ticks of its timer.
class Ticker final : public Node {
 public:
  static constexpr const char* kType = "ticker";
  static constexpr InputPort kIn{"in", PayloadKind::features, "anything"};
  static constexpr OutputPort kOut{"out", PayloadKind::features, "the same packets"};
  static void declare(NodeSpec& spec) {
    spec.summary("a timer beside a stream");
    spec.input(kIn);
    spec.output(kOut);
    spec.param<std::int64_t>("tick_ms", 5, "timer period").min(1);
  }
  void configure(const Params& p) override { period_ = std::chrono::milliseconds(p.get<std::int64_t>("tick_ms")); }
  void start() override { context().set_timer(period_); }
  void process(const InputPort&, const PacketPtr& packet, Emitter& out) override {
    std::this_thread::sleep_for(std::chrono::microseconds(200));
    out.emit(kOut, packet);
  }
  bool on_tick(Emitter&) override {
    ++record().ticks;
    return true;
  }

 private:
  std::chrono::milliseconds period_{5};
};

// A paced source on the runtime's timer: `count` packets, one a tick.
class Paced final : public Node {
 public:
  static constexpr const char* kType = "paced";
  static constexpr OutputPort kOut{"out", PayloadKind::features, "numbers"};
  static void declare(NodeSpec& spec) {
    spec.summary("one packet a tick");
    spec.output(kOut);
    spec.source(SourceMode::pull);
    spec.param<std::int64_t>("count", 3, "how many").min(1);
    spec.param<std::int64_t>("period_ms", 500, "timer period").min(1);
  }
  void configure(const Params& p) override {
    count_ = p.get<std::int64_t>("count");
    context().set_timer(std::chrono::milliseconds(p.get<std::int64_t>("period_ms")));
  }
  bool on_tick(Emitter& out) override {
    out.emit(kOut, numbered(next_++));
    return next_ < static_cast<std::uint64_t>(count_);
  }

 private:
  std::int64_t count_ = 0;
  std::uint64_t next_ = 0;
};

// Runs on a thread of its own: records where its callbacks ran.
class OwnThread final : public Node {
 public:
  static constexpr const char* kType = "own_thread";
  static constexpr InputPort kIn{"in", PayloadKind::features, "anything"};
  static constexpr OutputPort kOut{"out", PayloadKind::features, "the same packets"};
  static void declare(NodeSpec& spec) {
    spec.summary("a node on its own thread");
    spec.input(kIn);
    spec.output(kOut);
    spec.thread(NodeThread::own);
  }
  void process(const InputPort&, const PacketPtr& packet, Emitter& out) override {
    note();
    out.emit(kOut, packet);
  }
  void on_marker(const InputPort& port, const Marker& marker, Emitter& out) override {
    note();
    Node::on_marker(port, marker, out);
  }
  void flush(Emitter&) override { note(); }

 private:
  static void note() {
    std::lock_guard<std::mutex> lock(record().mutex);
    auto id = std::this_thread::get_id();
    if (std::find(record().threads.begin(), record().threads.end(), id) == record().threads.end()) {
      record().threads.push_back(id);
    }
  }
};

// A live source whose produce() blocks until stop() releases it, as a device read can.
class Stuck final : public Node {
 public:
  static constexpr const char* kType = "stuck";
  static constexpr OutputPort kOut{"out", PayloadKind::features, "one packet, then nothing"};
  static void declare(NodeSpec& spec) {
    spec.summary("blocks in produce()");
    spec.output(kOut);
    spec.source(SourceMode::live);
  }
  bool produce(Emitter& out) override {
    if (!sent_) {
      sent_ = true;
      out.emit(kOut, numbered(0));
      return true;
    }
    record().stuck_blocked = true;
    while (!record().release_stuck.load()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
    out.emit(kOut, numbered(1));  // late: dropped and counted
    return false;
  }
  void stop() override { record().release_stuck = true; }

 private:
  bool sent_ = false;
};

// Not a source: passes its input on and, from a worker thread of its own started in start(),
// emits 1000 more packets; flush() waits for that thread, so none of them is late.
class Poster final : public Node {
 public:
  static constexpr const char* kType = "poster";
  static constexpr InputPort kIn{"in", PayloadKind::features, "anything"};
  static constexpr OutputPort kOut{"out", PayloadKind::features, "the input and 1000 more"};
  static void declare(NodeSpec& spec) {
    spec.summary("emits from a thread of its own");
    spec.input(kIn);
    spec.output(kOut);
  }
  void start() override {
    worker_ = std::thread([this] {
      for (int i = 0; i < 1000; ++i) context().emitter().emit(kOut, numbered(1000000 + i));
    });
  }
  void process(const InputPort&, const PacketPtr& packet, Emitter& out) override { out.emit(kOut, packet); }
  void flush(Emitter&) override {
    if (worker_.joinable()) worker_.join();
  }
  void stop() override {
    if (worker_.joinable()) worker_.join();
  }

 private:
  std::thread worker_;
};

// Listens on the control bus; records the run as its context shows it.
class ControlWatch final : public Node {
 public:
  static constexpr const char* kType = "control_watch";
  static constexpr InputPort kControl{"control", PayloadKind::control, "control traffic", Feed::control};
  static void declare(NodeSpec& spec) {
    spec.summary("remembers control traffic");
    spec.input(kControl);
  }
  void start() override {
    std::lock_guard<std::mutex> lock(record().mutex);
    record().view = context().run();
  }
  void process(const InputPort&, const PacketPtr& packet, Emitter&) override {
    std::lock_guard<std::mutex> lock(record().mutex);
    if (auto m = control_request(*packet)) {
      record().bus_control.push_back("request " + std::to_string(m->id) + " " + to_string(m->verb) + " " + m->target);
    } else if (auto r = control_reply(*packet)) {
      record().bus_control.push_back("reply " + std::to_string(r->id) + " " + r->node + " " +
                                     (r->accepted ? "accepted" : "refused"));
    } else if (auto s = run_state(*packet)) {
      record().bus_control.push_back("run " + s->state);
    }
  }
};

// Fed only by the buses: no links at all.
class Watch final : public Node {
 public:
  static constexpr const char* kType = "watch";
  static constexpr InputPort kLogs{"logs", PayloadKind::log, "logs", Feed::logs};
  static void declare(NodeSpec& spec) {
    spec.summary("remembers log lines");
    spec.input(kLogs);
  }
  void process(const InputPort&, const PacketPtr& packet, Emitter&) override {
    std::lock_guard<std::mutex> lock(record().mutex);
    for (const auto& l : packet->logs) record().log_lines.push_back(l.node + ": " + l.message);
    log().info("saw a log line");  // must not come back through the bus
  }
  void flush(Emitter&) override { ++record().flushes; }
};

// A sink whose only link input is optional and whose telemetry input is off unless asked for.
class Tap final : public Node {
 public:
  static constexpr const char* kType = "tap";
  static constexpr InputPort kIn{"in", PayloadKind::features, "anything", Feed::links, true};
  static constexpr InputPort kTelemetry{"telemetry", PayloadKind::telemetry, "telemetry", Feed::telemetry};
  static void declare(NodeSpec& spec) {
    spec.summary("takes what it is given");
    spec.input(kIn);
    spec.input(kTelemetry);
    spec.param<bool>("telemetry", false, "subscribe to telemetry");
    spec.param<std::string>("path", "", "a file it would write").output_path();
  }
  void configure(const Params& p) override { telemetry_ = p.get<bool>("telemetry"); }
  bool wants(const InputPort&) const override { return telemetry_; }

 private:
  bool telemetry_ = false;
};

template <typename T>
void add_type(core::PluginRegistry& registry) {
  NodeType t;
  t.name = T::kType;
  T::declare(t.spec);
  t.create = [] { return std::unique_ptr<Node>(new T()); };
  registry.add(std::move(t));
}

inline void register_all(core::PluginRegistry& registry) {
  add_type<Counter>(registry);
  add_type<Relay>(registry);
  add_type<Square>(registry);
  add_type<OrderedSquare>(registry);
  add_type<Clips>(registry);
  add_type<ClipSquare>(registry);
  add_type<TwoThreads>(registry);
  add_type<Collect>(registry);
  add_type<Watch>(registry);
  add_type<Tap>(registry);
  add_type<Epochs>(registry);
  add_type<Ticker>(registry);
  add_type<Paced>(registry);
  add_type<OwnThread>(registry);
  add_type<Stuck>(registry);
  add_type<ControlWatch>(registry);
  add_type<Poster>(registry);
}

// A registry, logging and plan for a pipeline written inline.
struct Harness {
  core::PluginRegistry registry;
  core::Logging logging;
  core::Plan plan;

  explicit Harness(const std::string& toml, std::vector<std::string> overrides = {},
                   core::LogSettings log_settings = core::LogSettings{LogLevel::warn, {}, false})
      : logging(std::move(log_settings)) {
    record().reset();
    register_all(registry);
    core::LoadOptions options;
    options.overrides = std::move(overrides);
    auto decl = core::parse_pipeline(toml, "test.toml", options);
    plan = core::build_plan(std::move(decl), registry, core::RunInfo{"test", "."}, logging);
  }
};

}  // namespace tributary::testnodes

#pragma once
// Small node types for testing the runtime, registered from code.
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
  std::atomic<int> controls_seen{0};
  std::atomic<int> control_overlaps{0};

  void reset() {
    alive = 0;
    max_alive = 0;
    in_process = 0;
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

inline PacketPtr numbered(std::uint64_t seq) {
  auto p = make_packet(PayloadKind::features);
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
  void on_control(const ControlMessage& m, Emitter&) override {
    std::lock_guard<std::mutex> lock(record().mutex);
    record().controls.push_back(m);
    if (m.verb == ControlVerb::set && m.key == "gain") record().gain = m.value.as_number();
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
  void on_control(const ControlMessage&, Emitter&) override {
    ++record().controls_seen;
    if (record().in_process.load() > 0) ++record().control_overlaps;
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
  }
  void configure(const Params& p) override {
    delay_ = std::chrono::microseconds(p.get<std::int64_t>("delay_us"));
    buses_ = p.get<bool>("buses");
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
  }
  void flush(Emitter&) override {
    ++record().flushes;
    log().info("flushed");
  }
  void stop() override { ++record().stops; }

 private:
  std::chrono::microseconds delay_{0};
  bool buses_ = false;
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
  add_type<TwoThreads>(registry);
  add_type<Collect>(registry);
  add_type<Watch>(registry);
  add_type<Tap>(registry);
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

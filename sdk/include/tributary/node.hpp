#pragma once
// The node interface and its declaration (ports, parameters, concurrency).
//
// Lifecycle, driven by the runtime:
//   configure(params)  once, before anything starts; throw ParamError for a bad value
//   start()            once, when the run starts; open files and devices here
//   produce(out)       sources only: called repeatedly; return false at end of stream
//   process(port, p)   for each packet on an input port
//   on_marker(port, m) for each in-band marker (end of an epoch or a split, end of stream on one
//                      input port), in stream order: after every packet before it
//   on_tick(out)       every period of the node's timer (Context::set_timer), between packets
//   on_control(msg)    between packets, for control messages addressed to the node; never at
//                      the same time as process(), whatever the node's concurrency
//   flush(out)         once, after end of stream on every linked input
//   stop()             once, at the end of the run, whether it finished or failed
//
// Threads: callbacks run on the runtime's worker threads (a oneTBB arena of `threads` workers),
// one at a time unless the node declares parallel or ordered concurrency. A node that declares
// NodeThread::own runs every callback on one thread of its own instead, so long work (a training
// step) never holds a worker; it still sees one callback at a time. A node that starts threads
// of its own (a device, a server) emits from them through its Context's emitter().
#include <chrono>
#include <cstdint>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tributary/control.hpp"
#include "tributary/packet.hpp"
#include "tributary/param.hpp"
#include "tributary/port.hpp"

namespace tributary {

enum class Concurrency : std::uint8_t {
  serial,    // one packet at a time, in arrival order
  parallel,  // stateless: packets may be processed at the same time, and leave in any order
  ordered,   // stateless: packets may be processed at the same time; what each emits leaves in
             // the order the packets arrived, as behind a serial node
};

const char* to_string(Concurrency c) noexcept;  // "serial", "parallel", "ordered"

enum class NodeThread : std::uint8_t {
  pool,  // the runtime's workers
  own,   // one thread of the node's own, started and joined by the runtime
};

enum class SourceMode : std::uint8_t {
  pull,  // files, data sets: produce() is called when downstream has room
  live,  // devices: produce() is called as fast as it returns; full queues drop by policy
};

class NodeSpec;

// Fluent refinement of the parameter just declared.
class ParamBuilder {
 public:
  ParamBuilder(NodeSpec& spec, std::size_t index) : spec_(&spec), index_(index) {}
  ParamBuilder& range(double min, double max);
  ParamBuilder& min(double min);
  ParamBuilder& max(double max);
  ParamBuilder& choices(std::vector<std::string> choices);
  ParamBuilder& settable();
  ParamBuilder& input_path();     // a file the node reads (see PathRole)
  ParamBuilder& output_path();    // a file the node writes
  ParamBuilder& input_folder();   // a folder the node reads
  ParamBuilder& output_folder();  // a folder the node writes into
  ParamBuilder& input_file_or_folder();
  // A key of this table parameter names a path: path_key("path", PathRole::input).
  ParamBuilder& path_key(std::string key, PathRole role);

 private:
  ParamSpec& spec();
  NodeSpec* spec_;
  std::size_t index_;
};

class NodeSpec {
 public:
  void summary(std::string text) { summary_ = std::move(text); }
  void input(const InputPort& port) { inputs_.push_back(&port); }
  void output(const OutputPort& port) { outputs_.push_back(&port); }
  void concurrency(Concurrency c) { concurrency_ = c; }
  // A node that keeps state across the packets of a stream but none within one packet of `kinds`
  // (a whole clip): an instance whose every link brings only those kinds, as their producers
  // narrow them, runs with `c` instead of its declared concurrency. Its process() must then be
  // safe to run at the same time for such packets.
  void concurrency_for(PayloadKinds kinds, Concurrency c) {
    whole_packet_kinds_ = kinds;
    whole_packet_concurrency_ = c;
  }
  // Packets leaving `out` are of the kinds that reached `in` (a node that changes packets, not
  // their kind): what an instance emits there is narrowed to what its links bring, as seen by
  // concurrency_for downstream.
  void keeps_kinds(const InputPort& in, const OutputPort& out) { kept_kinds_.emplace_back(&in, &out); }
  void thread(NodeThread t) { thread_ = t; }
  void source(SourceMode mode) {
    is_source_ = true;
    source_mode_ = mode;
  }
  // A runnable pipeline snippet shown by `tributary describe`.
  void example(std::string toml) { example_ = std::move(toml); }

  template <typename T>
  ParamBuilder param(std::string name, const T& default_value, std::string doc) {
    return add(ParamSpec{std::move(name),
                         ParamTypeOf<T>::value,
                         to_value(default_value),
                         false,
                         {},
                         {},
                         {},
                         std::move(doc),
                         false,
                         PathRole::none,
                         {}});
  }
  ParamBuilder param(std::string name, ParamType type, Value default_value, std::string doc) {
    return add(ParamSpec{
        std::move(name), type, std::move(default_value), false, {}, {}, {}, std::move(doc), false, PathRole::none, {}});
  }
  template <typename T>
  ParamBuilder required(std::string name, std::string doc) {
    return add(ParamSpec{
        std::move(name), ParamTypeOf<T>::value, Value(), true, {}, {}, {}, std::move(doc), false, PathRole::none, {}});
  }
  ParamBuilder required(std::string name, ParamType type, std::string doc) {
    return add(ParamSpec{std::move(name), type, Value(), true, {}, {}, {}, std::move(doc), false, PathRole::none, {}});
  }

  const std::string& summary() const noexcept { return summary_; }
  const std::string& example() const noexcept { return example_; }
  const std::vector<const InputPort*>& inputs() const noexcept { return inputs_; }
  const std::vector<const OutputPort*>& outputs() const noexcept { return outputs_; }
  const std::vector<ParamSpec>& params() const noexcept { return params_; }
  std::vector<ParamSpec>& params() noexcept { return params_; }
  Concurrency concurrency() const noexcept { return concurrency_; }
  // The concurrency of an instance fed only packets of `fed` (empty: not known, the declared one).
  Concurrency concurrency(PayloadKinds fed) const noexcept {
    return fed.bits != 0 && whole_packet_kinds_.contains(fed) ? whole_packet_concurrency_ : concurrency_;
  }
  PayloadKinds whole_packet_kinds() const noexcept { return whole_packet_kinds_; }
  const std::vector<std::pair<const InputPort*, const OutputPort*>>& kept_kinds() const noexcept { return kept_kinds_; }
  Concurrency whole_packet_concurrency() const noexcept { return whole_packet_concurrency_; }
  NodeThread thread() const noexcept { return thread_; }
  bool is_source() const noexcept { return is_source_; }
  SourceMode source_mode() const noexcept { return source_mode_; }

  const InputPort* find_input(std::string_view name) const noexcept;
  const OutputPort* find_output(std::string_view name) const noexcept;
  const ParamSpec* find_param(std::string_view name) const noexcept;

 private:
  ParamBuilder add(ParamSpec spec);

  std::string summary_;
  std::string example_;
  std::vector<const InputPort*> inputs_;
  std::vector<const OutputPort*> outputs_;
  std::vector<ParamSpec> params_;
  Concurrency concurrency_ = Concurrency::serial;
  PayloadKinds whole_packet_kinds_{};
  Concurrency whole_packet_concurrency_ = Concurrency::serial;
  std::vector<std::pair<const InputPort*, const OutputPort*>> kept_kinds_;
  NodeThread thread_ = NodeThread::pool;
  bool is_source_ = false;
  SourceMode source_mode_ = SourceMode::pull;
};

// Text concatenation for log messages, so the SDK needs no formatting library.
template <typename... Args>
std::string concat(const Args&... args) {
  std::ostringstream out;
  (out << ... << args);
  return out.str();
}

// One logger per node instance, named after the node.
class Logger {
 public:
  virtual ~Logger();
  virtual void write(LogLevel level, std::string_view message) = 0;
  virtual bool enabled(LogLevel level) const = 0;

  template <typename... Args>
  void trace(const Args&... a) {
    log(LogLevel::trace, a...);
  }
  template <typename... Args>
  void debug(const Args&... a) {
    log(LogLevel::debug, a...);
  }
  template <typename... Args>
  void info(const Args&... a) {
    log(LogLevel::info, a...);
  }
  template <typename... Args>
  void warn(const Args&... a) {
    log(LogLevel::warn, a...);
  }
  template <typename... Args>
  void error(const Args&... a) {
    log(LogLevel::error, a...);
  }

 private:
  template <typename... Args>
  void log(LogLevel level, const Args&... args) {
    if (enabled(level)) write(level, concat(args...));
  }
};

class Emitter;

// In-band stream markers. A source (or any node) emits them with Emitter::mark(); they travel
// every link in order with the packets, are never dropped by a link's policy, and reach each node
// in stream order: after every packet emitted before them, whatever the node's concurrency. A
// node sees them in on_marker(), whose default passes epoch and split markers on to all of the
// node's outputs (after what the node emitted for earlier packets), so they cross feature nodes
// untouched. The runtime itself delivers end_of_stream once per input port, when every link into
// the port has ended; it is not passed on (each node's own end of stream follows its flush()).
enum class MarkerKind : std::uint8_t {
  epoch_end,     // every example of `epoch` (all splits) has been emitted
  split_end,     // every example of `split` in `epoch` has been emitted
  end_of_stream  // runtime only: an input port has no more packets
};
const char* to_string(MarkerKind kind) noexcept;

struct Marker {
  MarkerKind kind = MarkerKind::epoch_end;
  std::int64_t epoch = -1;
  Split split = Split::none;
  std::string stream;  // the node that made it
};

// The run as declared, for nodes that show or record it (a dashboard, a run store).
struct RunView {
  struct NodeView {
    std::string name;
    std::string type;    // the plugin's node type
    std::string family;  // the plugin family that provides it
    std::string library;
    std::string plugin_version;
    std::vector<std::string> inputs;
    std::vector<std::string> outputs;
    std::string concurrency;  // serial, parallel, ordered
    bool source = false;
    int line = 0;  // where the node's table starts in the pipeline file
  };
  struct LinkView {
    std::string from;  // node name
    std::string from_port;
    std::string to;
    std::string to_port;
    std::string policy;  // block, drop_oldest, drop_newest
    std::int64_t capacity = 0;
    std::string text;  // as written: "a.out -> b.in"
  };
  struct PluginView {
    std::string family;
    std::string library;
    std::string version;
    std::string sdk_version;
  };
  std::string id;
  std::string name;           // the pipeline's name
  std::string pipeline_path;  // the file it came from
  std::string pipeline_text;  // the pipeline after --set and ${VAR} expansion, as TOML
  std::string dir;            // the run directory
  std::string tributary_version;
  double start_time = 0.0;  // seconds since the Unix epoch
  int threads = 0;
  std::vector<NodeView> nodes;
  std::vector<LinkView> links;
  std::vector<PluginView> plugins;

  // Whether a link leaves `node`'s output `port`, so that work only that port needs can be
  // skipped. An empty view (a test harness) takes every port.
  bool output_linked(std::string_view node, std::string_view port) const {
    if (nodes.empty()) return true;
    for (const auto& link : links) {
      if (link.from == node && link.from_port == port) return true;
    }
    return false;
  }
};

// What the runtime offers a node: its name and run, its logger, metrics, control and timers.
class Context {
 public:
  virtual ~Context();
  virtual const std::string& node_name() const = 0;
  virtual const std::string& run_id() const = 0;
  virtual const std::string& run_dir() const = 0;
  virtual Logger& log() = 0;
  // Publishes a point on the telemetry bus under this node's name (e.g. "capture/dropped").
  virtual void metric(std::string_view name, double value, std::int64_t step = -1, std::int64_t epoch = -1) = 0;
  // Asks the whole run to stop gracefully.
  virtual void request_stop(std::string_view reason) = 0;
  virtual bool stop_requested() const = 0;
  // Sends a control message to other nodes (e.g. "checkpoint" to a trainer); returns its id. The
  // replies come on the control bus, which a node reads through an input with Feed::control.
  virtual std::uint64_t send_control(ControlMessage message) = 0;
  // The node's emitter, for packets that come from the node's own threads (a device callback, a
  // worker): usable from any thread between start() and the return of flush().
  virtual Emitter& emitter() = 0;
  // Calls the node's on_tick() every period, the first time one period after start() (at once
  // for a source). Set it in configure() or start(); a period of zero turns it off. A source with
  // a timer is driven by it instead of produce(): on_tick() returning false ends its stream.
  virtual void set_timer(std::chrono::nanoseconds period) = 0;
  // The run as declared; filled in before start().
  virtual const RunView& run() const = 0;
  // Later additions to what the runtime offers, without another ABI break: an interface by name
  // and version, or nullptr where this runtime does not have it.
  virtual void* extension(std::string_view name, std::uint32_t version) = 0;
};

// The extension "tributary.artifacts", version 1: announces a file the node wrote that outlives
// the run (see ArtifactNote). Thread-safe.
class ArtifactAnnouncer {
 public:
  static constexpr std::string_view kName = "tributary.artifacts";
  static constexpr std::uint32_t kVersion = 1;
  virtual void announce(ArtifactNote note) = 0;

 protected:
  ~ArtifactAnnouncer() = default;
};

// Announces an artifact where the runtime records them; a runtime without the extension (an
// older one, a test harness) is told nothing, which is no error.
inline void announce_artifact(Context& context, ArtifactNote note) {
  if (void* ext = context.extension(ArtifactAnnouncer::kName, ArtifactAnnouncer::kVersion))
    static_cast<ArtifactAnnouncer*>(ext)->announce(std::move(note));
}

// Where a node's packets go. The runtime routes them along the links of the port, each link
// keeping its packets in the order they were emitted. Thread-safe: a node may emit from any
// thread of its own, inside or outside its callbacks; a full dropping link drops by its policy
// and counts the drop. Packets emitted after the node's flush() returned are dropped and counted.
class Emitter {
 public:
  virtual ~Emitter();
  virtual void emit(const OutputPort& port, PacketPtr packet) = 0;
  // The node's first output port.
  virtual void emit(PacketPtr packet) = 0;
  // A marker on every output port, in order with the packets emitted before it.
  virtual void mark(const Marker& marker) = 0;
};

class Node {
 public:
  virtual ~Node();
  Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  virtual void configure(const Params& params) { (void)params; }
  virtual void start() {}
  virtual bool produce(Emitter& out) {
    (void)out;
    return false;
  }
  virtual void process(const InputPort& port, const PacketPtr& packet, Emitter& out) {
    (void)port;
    (void)packet;
    (void)out;
  }
  // Epoch and split markers go on to every output by default; end_of_stream stops here.
  virtual void on_marker(const InputPort& port, const Marker& marker, Emitter& out) {
    (void)port;
    if (marker.kind != MarkerKind::end_of_stream) out.mark(marker);
  }
  // For a source with a timer: false ends its stream. For any other node: false stops the timer.
  virtual bool on_tick(Emitter& out) {
    (void)out;
    return false;
  }
  // set and checkpoint aimed at the node (or at every node) come here; the reply says whether it
  // took effect, and at which step. The default refuses: the node type does not handle it.
  virtual ControlReply on_control(const ControlMessage& message, Emitter& out);
  virtual void flush(Emitter& out) { (void)out; }
  virtual void stop() {}

  // A source whose mode depends on its parameters overrides this (read after configure).
  virtual SourceMode source_mode(SourceMode declared) const { return declared; }
  // What an output port emits for this instance, read after configure: a subset of what the port
  // declares (a source that emits audio or video by its parameters), checked at validation.
  virtual PayloadKinds output_kinds(const OutputPort& port) const { return port.kinds; }
  // Whether a bus-fed input (telemetry, logs, control) should be delivered, after configure.
  virtual bool wants(const InputPort& port) const {
    (void)port;
    return true;
  }

  // Set by the runtime (or a test harness) before configure().
  void bind(Context& context) noexcept { context_ = &context; }
  Context& context() const;
  Logger& log() const { return context().log(); }

 private:
  Context* context_ = nullptr;
};

}  // namespace tributary

#pragma once
// The node interface and its declaration (ports, parameters, concurrency).
//
// Lifecycle, driven by the runtime:
//   configure(params)  once, before anything starts; throw ParamError for a bad value
//   start()            once, when the run starts; open files and devices here
//   produce(out)       sources only: called repeatedly; return false at end of stream
//   process(port, p)   for each packet on an input port
//   on_control(msg)    between packets, for control messages addressed to the node; never at
//                      the same time as process(), whatever the node's concurrency
//   flush(out)         once, after end of stream on every linked input
//   stop()             once, at the end of the run, whether it finished or failed
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
  ParamBuilder& input_path();   // a file the node reads (see PathRole)
  ParamBuilder& output_path();  // a file the node writes

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
  void source(SourceMode mode) {
    is_source_ = true;
    source_mode_ = mode;
  }
  // A runnable pipeline snippet shown by `tributary describe`.
  void example(std::string toml) { example_ = std::move(toml); }

  template <typename T>
  ParamBuilder param(std::string name, const T& default_value, std::string doc) {
    return add(ParamSpec{
        std::move(name), ParamTypeOf<T>::value, to_value(default_value), false, {}, {}, {}, std::move(doc), false});
  }
  ParamBuilder param(std::string name, ParamType type, Value default_value, std::string doc) {
    return add(ParamSpec{std::move(name), type, std::move(default_value), false, {}, {}, {}, std::move(doc), false});
  }
  template <typename T>
  ParamBuilder required(std::string name, std::string doc) {
    return add(ParamSpec{std::move(name), ParamTypeOf<T>::value, Value(), true, {}, {}, {}, std::move(doc), false});
  }
  ParamBuilder required(std::string name, ParamType type, std::string doc) {
    return add(ParamSpec{std::move(name), type, Value(), true, {}, {}, {}, std::move(doc), false});
  }

  const std::string& summary() const noexcept { return summary_; }
  const std::string& example() const noexcept { return example_; }
  const std::vector<const InputPort*>& inputs() const noexcept { return inputs_; }
  const std::vector<const OutputPort*>& outputs() const noexcept { return outputs_; }
  const std::vector<ParamSpec>& params() const noexcept { return params_; }
  std::vector<ParamSpec>& params() noexcept { return params_; }
  Concurrency concurrency() const noexcept { return concurrency_; }
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

// What the runtime offers a node: its name and run, its logger, metrics, and control.
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
  // Sends a control message to other nodes (e.g. "checkpoint" to a trainer).
  virtual void send_control(ControlMessage message) = 0;
  // The node's emitter, for packets that come from the node's own threads (a device callback, a
  // worker): usable from any thread between start() and the return of flush().
  virtual Emitter& emitter() = 0;
};

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
  virtual void on_control(const ControlMessage& message, Emitter& out) {
    (void)message;
    (void)out;
  }
  virtual void flush(Emitter& out) { (void)out; }
  virtual void stop() {}

  // A source whose mode depends on its parameters overrides this (read after configure).
  virtual SourceMode source_mode(SourceMode declared) const { return declared; }
  // Whether a bus-fed input (telemetry, logs) should be delivered, after configure.
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

#include "tributary/testing.hpp"

#include <iostream>
#include <map>
#include <mutex>
#include <stdexcept>

namespace tributary {

namespace {

class RecordingLogger final : public Logger {
 public:
  RecordingLogger(const std::string& node, std::vector<LogRecord>& records) : node_(node), records_(records) {}
  void write(LogLevel level, std::string_view message) override {
    records_.push_back(LogRecord{wall_time_s(), node_, level, std::string(message)});
    if (level >= LogLevel::warn) std::cerr << "[" << node_ << "] " << to_string(level) << ": " << message << '\n';
  }
  bool enabled(LogLevel) const override { return true; }

 private:
  const std::string& node_;
  std::vector<LogRecord>& records_;
};

}  // namespace

struct NodeHarness::State final : Context, Emitter {
  NodeType type;
  std::unique_ptr<Node> node;
  Params params;
  std::string name;
  std::string run_id_value = "test";
  std::string run_dir_value;
  std::vector<LogRecord> logs;
  std::vector<MetricPoint> metrics;
  std::vector<ControlMessage> sent;
  RecordingLogger logger{name, logs};
  bool stop = false;
  std::mutex outputs_mutex;  // nodes may emit from threads of their own
  std::map<std::string, std::vector<PacketPtr>, std::less<>> outputs;

  const std::string& node_name() const override { return name; }
  const std::string& run_id() const override { return run_id_value; }
  const std::string& run_dir() const override { return run_dir_value; }
  Logger& log() override { return logger; }
  void metric(std::string_view metric_name, double value, std::int64_t step, std::int64_t epoch) override {
    metrics.push_back(MetricPoint{wall_time_s(), name, std::string(metric_name), step, epoch, value});
  }
  void request_stop(std::string_view) override { stop = true; }
  bool stop_requested() const override { return stop; }
  std::uint64_t send_control(ControlMessage message) override {
    message.id = sent.size() + 1;
    message.sender = name;
    sent.push_back(std::move(message));
    return sent.back().id;
  }
  Emitter& emitter() override { return *this; }
  void set_timer(std::chrono::nanoseconds period) override { timer = period; }
  const RunView& run() const override { return view; }
  void* extension(std::string_view, std::uint32_t) override { return nullptr; }

  std::chrono::nanoseconds timer{0};
  RunView view;
  std::map<std::string, std::vector<Marker>, std::less<>> markers;

  void emit(const OutputPort& port, PacketPtr packet) override {
    bool declared = false;
    for (const auto* p : type.spec.outputs()) declared = declared || p == &port;
    if (!declared) throw std::logic_error(name + " emitted on a port it did not declare: " + port.name);
    if (!packet) throw std::logic_error(name + " emitted an empty packet");
    PayloadKinds kinds = node->output_kinds(port);
    if (!kinds.contains(packet->kind)) {
      throw std::logic_error(name + " emitted a " + to_string(packet->kind) + " packet on port '" + port.name +
                             "', which emits " + to_string(kinds));
    }
    std::lock_guard<std::mutex> lock(outputs_mutex);
    outputs[port.name].push_back(std::move(packet));
  }
  void mark(const Marker& marker) override {
    std::lock_guard<std::mutex> lock(outputs_mutex);
    for (const auto* p : type.spec.outputs()) markers[p->name].push_back(marker);
  }
  void emit(PacketPtr packet) override {
    if (type.spec.outputs().empty()) throw std::logic_error(name + " emitted but declares no output port");
    emit(*type.spec.outputs().front(), std::move(packet));
  }
};

NodeHarness::NodeHarness(NodeType type, const std::vector<TableEntry>& params, std::string run_dir)
    : state_(std::make_unique<State>()) {
  auto& s = *state_;
  s.name = type.name;
  s.run_dir_value = std::move(run_dir);
  s.view.id = s.run_id_value;
  s.view.dir = s.run_dir_value;
  s.view.name = "test";
  s.type = std::move(type);
  std::vector<ParamIssue> issues;
  s.params = Params::build(s.type.spec.params(), params, issues);
  if (!issues.empty()) throw ParamError(issues.front().param, issues.front().message);
  s.node = s.type.create();
  s.node->bind(s);
  s.node->configure(s.params);
}

NodeHarness::~NodeHarness() = default;
NodeHarness::NodeHarness(NodeHarness&&) noexcept = default;
NodeHarness& NodeHarness::operator=(NodeHarness&&) noexcept = default;

Node& NodeHarness::node() { return *state_->node; }
const NodeSpec& NodeHarness::spec() const { return state_->type.spec; }
const Params& NodeHarness::params() const { return state_->params; }
void NodeHarness::start() { state_->node->start(); }

void NodeHarness::push(std::string_view input_port, PacketPtr packet) {
  const InputPort* port = state_->type.spec.find_input(input_port);
  if (port == nullptr) throw std::invalid_argument("node type has no input port '" + std::string(input_port) + "'");
  state_->node->process(*port, packet, *state_);
}

void NodeHarness::push(std::string_view input_port, const Marker& marker) {
  const InputPort* port = state_->type.spec.find_input(input_port);
  if (port == nullptr) throw std::invalid_argument("node type has no input port '" + std::string(input_port) + "'");
  state_->node->on_marker(*port, marker, *state_);
}

bool NodeHarness::produce() { return state_->node->produce(*state_); }
bool NodeHarness::tick() { return state_->node->on_tick(*state_); }
std::chrono::nanoseconds NodeHarness::timer() const { return state_->timer; }

std::size_t NodeHarness::drain(std::size_t max_calls) {
  std::size_t calls = 0;
  while (calls < max_calls && !state_->stop) {
    ++calls;
    if (!produce()) break;
  }
  return calls;
}

ControlReply NodeHarness::control(ControlMessage message) {
  ControlReply reply = state_->node->on_control(message, *state_);
  reply.id = message.id;
  reply.node = state_->name;
  return reply;
}
void NodeHarness::flush() { state_->node->flush(*state_); }
void NodeHarness::stop() { state_->node->stop(); }

const std::vector<PacketPtr>& NodeHarness::output(std::string_view port) const {
  static const std::vector<PacketPtr> kNone;
  std::string_view name = port;
  if (name.empty()) {
    if (state_->type.spec.outputs().empty()) return kNone;
    name = state_->type.spec.outputs().front()->name;
  }
  auto it = state_->outputs.find(name);
  return it == state_->outputs.end() ? kNone : it->second;
}

std::vector<PacketPtr> NodeHarness::output_so_far(std::string_view port) const {
  std::lock_guard<std::mutex> lock(state_->outputs_mutex);
  return output(port);
}

const std::vector<Marker>& NodeHarness::markers(std::string_view port) const {
  static const std::vector<Marker> kNone;
  std::string_view name = port;
  if (name.empty()) {
    if (state_->type.spec.outputs().empty()) return kNone;
    name = state_->type.spec.outputs().front()->name;
  }
  auto it = state_->markers.find(name);
  return it == state_->markers.end() ? kNone : it->second;
}

void NodeHarness::clear_output() {
  state_->outputs.clear();
  state_->markers.clear();
}
const std::vector<LogRecord>& NodeHarness::logs() const { return state_->logs; }
const std::vector<MetricPoint>& NodeHarness::metrics() const { return state_->metrics; }
bool NodeHarness::stop_requested() const { return state_->stop; }
const std::vector<ControlMessage>& NodeHarness::sent_control() const { return state_->sent; }

}  // namespace tributary

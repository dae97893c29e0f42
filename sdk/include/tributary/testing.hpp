#pragma once
// Run one node without a pipeline: configure it, feed it packets, read what it emitted.
// For unit tests of plugins, in tree or out of tree.
//
//   auto h = tributary::NodeHarness::of<Mfcc>({{"n_mfcc", 13}});
//   h.start();
//   h.push("in", audio_packet);
//   REQUIRE(h.output("out").size() == 1);
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "tributary/node.hpp"
#include "tributary/plugin.hpp"

namespace tributary {

class NodeHarness {
 public:
  // Throws ParamError (the first issue) when the parameters do not pass validation.
  NodeHarness(NodeType type, const std::vector<TableEntry>& params, std::string run_dir = ".");
  ~NodeHarness();
  NodeHarness(NodeHarness&&) noexcept;
  NodeHarness& operator=(NodeHarness&&) noexcept;

  template <typename T>
  static NodeHarness of(const std::vector<TableEntry>& params = {}, std::string run_dir = ".") {
    NodeType type;
    type.name = T::kType;
    T::declare(type.spec);
    type.create = [] { return std::unique_ptr<Node>(new T()); };
    return NodeHarness(std::move(type), params, std::move(run_dir));
  }

  Node& node();
  const NodeSpec& spec() const;
  const Params& params() const;

  void start();
  void push(std::string_view input_port, PacketPtr packet);
  void push(std::string_view input_port, const Marker& marker);  // on_marker()
  bool produce();                                                // one call of produce(); false at end of stream
  std::size_t drain(std::size_t max_calls = static_cast<std::size_t>(-1));  // produce until false
  bool tick();                                                              // one call of on_tick()
  std::chrono::nanoseconds timer() const;                                   // the period the node set, zero when none
  ControlReply control(ControlMessage message);
  void flush();
  void stop();

  // Packets emitted on an output port (the first port when empty).
  const std::vector<PacketPtr>& output(std::string_view port = {}) const;
  // The same, copied under the harness's lock: safe while the node emits from threads of its own
  // (a live source's device callbacks), when output() is only safe after flush() or stop().
  std::vector<PacketPtr> output_so_far(std::string_view port = {}) const;
  // Markers emitted with mark(), as each output port received them.
  const std::vector<Marker>& markers(std::string_view port = {}) const;
  void clear_output();
  const std::vector<LogRecord>& logs() const;
  const std::vector<MetricPoint>& metrics() const;
  bool stop_requested() const;
  const std::vector<ControlMessage>& sent_control() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace tributary

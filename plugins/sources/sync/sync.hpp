#pragma once
// Packets of several live inputs lined up by timestamp: when every input has a packet within
// `tolerance_ms` of the others, they leave together as one packet, tensors in input order.
//
//   [pipeline]
//   links = [ "mic -> both.in0", "screen -> both.in1", "both -> model" ]
//   [nodes.both]
//   plugin = "sync"
//   tolerance_ms = 50
#include <cstdint>
#include <deque>
#include <vector>

#include "tributary/node.hpp"

namespace tributary::sources {

class Sync final : public Node {
 public:
  static constexpr const char* kType = "sync";
  static constexpr PayloadKinds kAccepted =
      PayloadKind::audio | PayloadKind::video | PayloadKind::features | PayloadKind::example;
  static constexpr InputPort kIn0{"in0", kAccepted, "the first input; its tensors come first"};
  static constexpr InputPort kIn1{"in1", kAccepted, "the second input"};
  static constexpr InputPort kIn2{"in2", kAccepted, "a third input (inputs = 3 or more)", Feed::links, true};
  static constexpr InputPort kIn3{"in3", kAccepted, "a fourth input (inputs = 4)", Feed::links, true};
  static constexpr OutputPort kOut{"out", PayloadKind::features,
                                   "one packet per match: the tensors of in0, in1... in input order, the earliest "
                                   "timestamp, attributes streams and timestamps_ns"};
  static void declare(NodeSpec& spec);

  void configure(const Params& params) override;
  void start() override;
  void process(const InputPort& port, const PacketPtr& packet, Emitter& out) override;
  void flush(Emitter& out) override;

 private:
  std::size_t index_of(const InputPort& port) const;
  // Emits every match the queues hold and drops what can no longer match.
  void match(Emitter& out);
  void drop_front(std::size_t input);

  std::size_t inputs_ = 2;
  std::int64_t tolerance_ns_ = 50'000'000;
  std::size_t backlog_ = 64;

  std::vector<std::deque<PacketPtr>> queues_;
  std::uint64_t sequence_ = 0;
  std::int64_t dropped_ = 0;
};

}  // namespace tributary::sources

#pragma once
// identity: passes every packet on unchanged, like GStreamer's `identity`.
//
//   [nodes.pass]
//   plugin     = "identity"
//   drop_every = 10   # optional: drop every 10th packet to exercise drop handling downstream
#include <atomic>
#include <cstdint>

#include "tributary/node.hpp"

namespace tributary::features {

class Identity final : public Node {
 public:
  static constexpr const char* kType = "identity";
  static constexpr InputPort kIn{"in", PayloadKinds::any(), "packets of any kind"};
  static constexpr OutputPort kOut{"out", PayloadKinds::any(), "the same packets, unchanged and uncopied"};

  static void declare(NodeSpec& spec);

  void configure(const Params& params) override;
  void process(const InputPort& port, const PacketPtr& packet, Emitter& out) override;
  void flush(Emitter& out) override;

 private:
  std::uint64_t drop_every_ = 0;
  std::uint64_t seen_ = 0;
  std::uint64_t dropped_ = 0;
};

}  // namespace tributary::features

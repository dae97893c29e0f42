#pragma once
// The extension "tributary.downstream_room", version 1: for a node that emits a long run of
// packets from one callback (a cache replaying epochs), the backpressure a pull source gets. The
// runtime's links take every packet a node emits; this waits instead until the blocking links
// below the node have room again. Context::extension gives nullptr where the runtime has no such
// thing (a test harness): emit without waiting.

#include <cstdint>
#include <string_view>

namespace tributary {

class DownstreamRoom {
 public:
  static constexpr std::string_view kName = "tributary.downstream_room";
  static constexpr std::uint32_t kVersion = 1;
  // Returns when every blocking link downstream of the node is below its capacity (at once when
  // it is), or false when the run is stopping: then emit no more.
  virtual bool wait() = 0;

 protected:
  ~DownstreamRoom() = default;
};

}  // namespace tributary

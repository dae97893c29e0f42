#pragma once
// Context::extension(kDownstreamRoom, 1): for a node that emits a long run of packets from one
// callback (a cache replaying epochs), the backpressure a pull source gets. The runtime's links
// take every packet a node emits; this waits instead until the blocking links below the node have
// room again. nullptr where the runtime has no such thing (a test harness): emit without waiting.

namespace tributary {

inline constexpr const char* kDownstreamRoom = "tributary.downstream_room";

class DownstreamRoom {
 public:
  // Returns when every blocking link downstream of the node is below its capacity (at once when
  // it is), or false when the run is stopping: then emit no more.
  virtual bool wait() = 0;

 protected:
  ~DownstreamRoom() = default;
};

}  // namespace tributary

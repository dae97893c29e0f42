#pragma once
// Control messages: one bus carries them from the dashboard, the CLI's signals and the API.
#include <cstdint>
#include <string>

#include "tributary/value.hpp"

namespace tributary {

enum class ControlVerb : std::uint8_t {
  stop,   // graceful: sources stop, queues drain, sinks flush
  pause,  // sources hold; nodes may pause their own work
  resume,
  set,         // set a parameter declared settable: key, value
  checkpoint,  // write a checkpoint now (nodes that keep state)
};
const char* to_string(ControlVerb verb) noexcept;

struct ControlMessage {
  ControlVerb verb = ControlVerb::stop;
  std::string target;  // a node name, or empty for every node
  std::string key;     // for set
  Value value;         // for set
};

}  // namespace tributary

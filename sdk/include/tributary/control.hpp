#pragma once
// Control messages: one bus carries them from the dashboard, the CLI's signals and the API.
//
// Every request gets an id when it is sent and at least one reply, {id, node, accepted, step,
// text}: from the runtime when it refuses the request or handles it itself (stop, pause and
// resume of one node), from the node otherwise (its on_control's return value). Requests,
// replies and the run's state changes travel on the control bus (Feed::control) as packets of
// kind `control`, so a dashboard or a run store sees all of them.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tributary/value.hpp"

namespace tributary {

struct Packet;

enum class ControlVerb : std::uint8_t {
  stop,   // the run: graceful (sources stop, queues drain, sinks flush); one node: its inputs end
  pause,  // the run: sources hold; one node: its inputs are held in the runtime
  resume,
  set,         // set a parameter declared settable: key, value
  checkpoint,  // write a checkpoint now (nodes that keep state)
};
const char* to_string(ControlVerb verb) noexcept;
std::optional<ControlVerb> parse_control_verb(std::string_view text) noexcept;

struct ControlMessage {
  ControlMessage() = default;
  ControlMessage(ControlVerb v, std::string to = {}, std::string k = {}, Value val = {})  // NOLINT
      : verb(v), target(std::move(to)), key(std::move(k)), value(std::move(val)) {}

  ControlVerb verb = ControlVerb::stop;
  std::string target;  // a node name, or empty for every node
  std::string key;     // for set
  Value value;         // for set
  // Filled in by the runtime when the message is sent.
  std::uint64_t id = 0;
  std::string sender;  // the sending node's name, or who sent it from outside ("signal", "http")
};

// What a node answers to a control message, and what the runtime answers for it.
struct ControlReply {
  std::uint64_t id = 0;
  std::string node;  // who answers: a node, or "tributary" for the runtime
  bool accepted = false;
  std::int64_t step = -1;  // the node's step (or packets taken) at which it took effect; -1: none
  std::string text;        // what happened, or why not
  bool handled = true;     // false: the node type has no handler for the verb (Node's default)

  static ControlReply accept(std::string text = {}, std::int64_t step = -1) {
    return ControlReply{0, {}, true, step, std::move(text), true};
  }
  static ControlReply refuse(std::string text) { return ControlReply{0, {}, false, -1, std::move(text), true}; }
};

// The run's state as the control bus announces it: "running" when every node has started, then
// once at the end "finished", "stopped" or "failed" with the reason.
struct RunState {
  std::string state;
  std::string reason;  // stopped: why; failed: the failing node and its message
  std::string node;    // failed: the failing node
  double time = 0.0;   // seconds since the Unix epoch
};

// A file a node wrote that outlives the run (a checkpoint), announced on the control bus so that
// the run store records it and a dashboard lists it. A node announces one through its Context:
// announce_artifact(context(), note).
struct ArtifactNote {
  std::string node;  // filled in by the runtime
  std::string kind;  // "checkpoint"
  std::string path;  // absolute
  std::int64_t step = -1;
  std::int64_t epoch = -1;
  bool best = false;                                     // the best so far of its node
  std::vector<std::pair<std::string, double>> metrics;  // what it was chosen by, e.g. val/loss
  double time = 0.0;                                     // seconds since the Unix epoch
};

// A control-bus packet holds exactly one of these. Each reads it back; nullopt when the packet
// holds another one.
std::optional<ControlMessage> control_request(const Packet& packet);
std::optional<ControlReply> control_reply(const Packet& packet);
std::optional<RunState> run_state(const Packet& packet);
std::optional<ArtifactNote> artifact_note(const Packet& packet);
// Packets for the control bus (the runtime makes them; tests and tools may too).
std::shared_ptr<Packet> control_packet(const ControlMessage& message);
std::shared_ptr<Packet> control_packet(const ControlReply& reply);
std::shared_ptr<Packet> control_packet(const RunState& state);
std::shared_ptr<Packet> control_packet(const ArtifactNote& note);

}  // namespace tributary

#include "tributary/control.hpp"

#include "tributary/abi.hpp"
#include "tributary/packet.hpp"

namespace tributary {

namespace {

// A control-bus packet names what it holds in its stream: "request", "reply" or "run".
constexpr const char* kRequest = "request";
constexpr const char* kReply = "reply";
constexpr const char* kRun = "run";
constexpr const char* kArtifact = "artifact";

const Value* find(const Packet& packet, std::string_view key) { return packet.attribute(key); }

std::string text_of(const Packet& packet, std::string_view key) {
  const Value* v = find(packet, key);
  return v != nullptr && v->type() == ValueType::string ? v->as_string() : std::string();
}

std::int64_t int_of(const Packet& packet, std::string_view key, std::int64_t fallback) {
  const Value* v = find(packet, key);
  return v != nullptr && v->type() == ValueType::integer ? v->as_int() : fallback;
}

std::shared_ptr<Packet> make(const char* what) {
  auto packet = std::make_shared<Packet>();
  packet->kind = PayloadKind::control;
  packet->stream = what;
  packet->timestamp_ns = monotonic_ns();
  return packet;
}

}  // namespace

std::optional<ControlVerb> parse_control_verb(std::string_view text) noexcept {
  for (auto verb :
       {ControlVerb::stop, ControlVerb::pause, ControlVerb::resume, ControlVerb::set, ControlVerb::checkpoint}) {
    if (text == to_string(verb)) return verb;
  }
  return std::nullopt;
}

std::shared_ptr<Packet> control_packet(const ControlMessage& message) {
  auto packet = make(kRequest);
  packet->sequence = message.id;
  packet->set_attribute("id", static_cast<std::int64_t>(message.id));
  packet->set_attribute("verb", to_string(message.verb));
  packet->set_attribute("target", message.target);
  packet->set_attribute("key", message.key);
  packet->set_attribute("value", message.value);
  packet->set_attribute("sender", message.sender);
  return packet;
}

std::shared_ptr<Packet> control_packet(const ControlReply& reply) {
  auto packet = make(kReply);
  packet->sequence = reply.id;
  packet->set_attribute("id", static_cast<std::int64_t>(reply.id));
  packet->set_attribute("node", reply.node);
  packet->set_attribute("accepted", reply.accepted);
  packet->set_attribute("step", reply.step);
  packet->set_attribute("text", reply.text);
  return packet;
}

std::shared_ptr<Packet> control_packet(const RunState& state) {
  auto packet = make(kRun);
  packet->set_attribute("state", state.state);
  packet->set_attribute("reason", state.reason);
  packet->set_attribute("node", state.node);
  packet->set_attribute("time", state.time);
  return packet;
}

std::optional<ControlMessage> control_request(const Packet& packet) {
  if (packet.kind != PayloadKind::control || packet.stream != kRequest) return std::nullopt;
  ControlMessage message;
  auto verb = parse_control_verb(text_of(packet, "verb"));
  if (!verb) return std::nullopt;
  message.verb = *verb;
  message.id = static_cast<std::uint64_t>(int_of(packet, "id", 0));
  message.target = text_of(packet, "target");
  message.key = text_of(packet, "key");
  if (const Value* v = find(packet, "value")) message.value = *v;
  message.sender = text_of(packet, "sender");
  return message;
}

std::optional<ControlReply> control_reply(const Packet& packet) {
  if (packet.kind != PayloadKind::control || packet.stream != kReply) return std::nullopt;
  ControlReply reply;
  reply.id = static_cast<std::uint64_t>(int_of(packet, "id", 0));
  reply.node = text_of(packet, "node");
  const Value* accepted = find(packet, "accepted");
  reply.accepted = accepted != nullptr && accepted->type() == ValueType::boolean && accepted->as_bool();
  reply.step = int_of(packet, "step", -1);
  reply.text = text_of(packet, "text");
  return reply;
}

std::optional<RunState> run_state(const Packet& packet) {
  if (packet.kind != PayloadKind::control || packet.stream != kRun) return std::nullopt;
  RunState state;
  state.state = text_of(packet, "state");
  state.reason = text_of(packet, "reason");
  state.node = text_of(packet, "node");
  const Value* t = find(packet, "time");
  state.time = t != nullptr && t->is_number() ? t->as_number() : 0.0;
  return state;
}

std::shared_ptr<Packet> control_packet(const ArtifactNote& note) {
  auto packet = make(kArtifact);
  packet->set_attribute("node", note.node);
  packet->set_attribute("kind", note.kind);
  packet->set_attribute("path", note.path);
  packet->set_attribute("step", note.step);
  packet->set_attribute("epoch", note.epoch);
  packet->set_attribute("best", note.best);
  packet->set_attribute("time", note.time);
  for (const auto& [name, value] : note.metrics) packet->set_attribute("metric/" + name, value);
  return packet;
}

std::optional<ArtifactNote> artifact_note(const Packet& packet) {
  if (packet.kind != PayloadKind::control || packet.stream != kArtifact) return std::nullopt;
  ArtifactNote note;
  note.node = text_of(packet, "node");
  note.kind = text_of(packet, "kind");
  note.path = text_of(packet, "path");
  note.step = int_of(packet, "step", -1);
  note.epoch = int_of(packet, "epoch", -1);
  const Value* best = find(packet, "best");
  note.best = best != nullptr && best->type() == ValueType::boolean && best->as_bool();
  const Value* t = find(packet, "time");
  note.time = t != nullptr && t->is_number() ? t->as_number() : 0.0;
  for (const Attribute& a : packet.attributes) {
    if (a.key.rfind("metric/", 0) == 0 && a.value.is_number()) note.metrics.emplace_back(a.key.substr(7), a.value.as_number());
  }
  return note;
}

namespace abi {

std::string describe_std_library(std::uint32_t tag) {
  std::uint32_t family = tag / 1000;
  std::string out = family == 1 ? "libstdc++" : family == 2 ? "libc++" : "an unknown C++ standard library";
  if (family == 1) out += (tag / 100) % 10 ? " with the C++11 string ABI" : " with the old string ABI";
  if ((tag / 10) % 10) out += " in debug mode (_GLIBCXX_DEBUG)";
  return out;
}

}  // namespace abi

}  // namespace tributary

#include "tributary/control.hpp"

#include "tributary/abi.hpp"
#include "tributary/packet.hpp"

namespace tributary {

namespace {

// A control-bus packet names what it holds in its stream: "request", "reply" or "run".
constexpr const char* kRequest = "request";
constexpr const char* kReply = "reply";
constexpr const char* kRun = "run";

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

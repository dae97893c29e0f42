#include "tributary/packet.hpp"

#include <chrono>

#include "tributary/control.hpp"
#include "tributary/version.hpp"

namespace tributary {

const char* sdk_version() noexcept { return TRIBUTARY_VERSION_STRING; }
unsigned sdk_abi_version() noexcept { return TRIBUTARY_ABI_VERSION; }

const char* to_string(Split split) noexcept {
  switch (split) {
    case Split::none:
      return "";
    case Split::train:
      return "train";
    case Split::val:
      return "val";
    case Split::test:
      return "test";
  }
  return "";
}

std::optional<Split> parse_split(std::string_view text) noexcept {
  if (text.empty() || text == "none") return Split::none;
  if (text == "train") return Split::train;
  if (text == "val" || text == "validation") return Split::val;
  if (text == "test") return Split::test;
  return std::nullopt;
}

const char* to_string(LogLevel level) noexcept {
  switch (level) {
    case LogLevel::trace:
      return "trace";
    case LogLevel::debug:
      return "debug";
    case LogLevel::info:
      return "info";
    case LogLevel::warn:
      return "warn";
    case LogLevel::error:
      return "error";
  }
  return "info";
}

const char* to_string(PayloadKind kind) noexcept {
  switch (kind) {
    case PayloadKind::audio:
      return "audio";
    case PayloadKind::video:
      return "video";
    case PayloadKind::features:
      return "features";
    case PayloadKind::example:
      return "example";
    case PayloadKind::metrics:
      return "metrics";
    case PayloadKind::log:
      return "log";
    case PayloadKind::blob:
      return "blob";
    case PayloadKind::telemetry:
      return "telemetry";
    case PayloadKind::control:
      return "control";
  }
  return "unknown";
}

std::string to_string(PayloadKinds kinds) {
  if (kinds == PayloadKinds::any()) return "any";
  std::string out;
  for (int i = 0; i < 64; ++i) {
    std::uint64_t bit = std::uint64_t{1} << i;
    if ((kinds.bits & bit) == 0) continue;
    if (!out.empty()) out += '|';
    const char* name = to_string(static_cast<PayloadKind>(bit));
    out += std::string_view(name) == "unknown" ? "kind" + std::to_string(i) : std::string(name);
  }
  return out.empty() ? "nothing" : out;
}

const char* to_string(ControlVerb verb) noexcept {
  switch (verb) {
    case ControlVerb::stop:
      return "stop";
    case ControlVerb::pause:
      return "pause";
    case ControlVerb::resume:
      return "resume";
    case ControlVerb::set:
      return "set";
    case ControlVerb::checkpoint:
      return "checkpoint";
  }
  return "unknown";
}

const Value* Packet::attribute(std::string_view key) const noexcept {
  for (const auto& a : attributes) {
    if (a.key == key) return &a.value;
  }
  return nullptr;
}

void Packet::set_attribute(std::string key, Value value) {
  for (auto& a : attributes) {
    if (a.key == key) {
      a.value = std::move(value);
      return;
    }
  }
  attributes.push_back(Attribute{std::move(key), std::move(value)});
}

double wall_time_s() noexcept {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

std::int64_t monotonic_ns() noexcept {
  using namespace std::chrono;
  return duration_cast<nanoseconds>(steady_clock::now().time_since_epoch()).count();
}

}  // namespace tributary

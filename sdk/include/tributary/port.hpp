#pragma once
// Ports: typed constants declared once per node type and used both in the declaration and in
// process()/emit(), so a node's contract is readable without reading its body.
#include <cstdint>
#include <string>

namespace tributary {

enum class PayloadKind : std::uint64_t {
  audio = 1u << 0,      // tensors [samples, channels] or [samples]; attribute sample_rate
  video = 1u << 1,      // tensors [height, width, channels] u8; attributes width, height, format
  features = 1u << 2,   // feature tensors (frames, spectrograms, embeddings)
  example = 1u << 3,    // a labelled example: features + label + split
  metrics = 1u << 4,    // MetricPoint values
  log = 1u << 5,        // LogRecord values
  blob = 1u << 6,       // opaque bytes (a checkpoint): a u8 tensor + attributes
  telemetry = 1u << 7,  // MetricPoint values published by the runtime for every node
  control = 1u << 8,    // control requests, their replies and the run's state (see control.hpp)
};

const char* to_string(PayloadKind kind) noexcept;
struct PayloadKinds;
std::string to_string(PayloadKinds kinds);  // "audio|features", or "any"

// A set of payload kinds; an input accepts a set, an output produces a set.
// Room for 64 kinds; the kinds above use the low bits, and "any" is all of them.
struct PayloadKinds {
  std::uint64_t bits = 0;
  constexpr PayloadKinds() = default;
  constexpr PayloadKinds(PayloadKind kind) : bits(static_cast<std::uint64_t>(kind)) {}  // NOLINT
  constexpr explicit PayloadKinds(std::uint64_t b) : bits(b) {}
  static constexpr PayloadKinds any() { return PayloadKinds{~std::uint64_t{0}}; }
  constexpr bool contains(PayloadKind kind) const { return (bits & static_cast<std::uint64_t>(kind)) != 0; }
  constexpr bool contains(PayloadKinds other) const { return (bits & other.bits) == other.bits; }
  constexpr bool overlaps(PayloadKinds other) const { return (bits & other.bits) != 0; }
  constexpr bool operator==(PayloadKinds other) const { return bits == other.bits; }
};
constexpr PayloadKinds operator|(PayloadKinds a, PayloadKinds b) { return PayloadKinds{a.bits | b.bits}; }
constexpr PayloadKinds operator|(PayloadKind a, PayloadKind b) { return PayloadKinds(a) | PayloadKinds(b); }

// What feeds an input port: links named in the pipeline file, or one of the runtime's buses,
// which reach every node that declares such a port without any link.
//   telemetry: MetricPoint packets the runtime publishes for every node, and nodes' metric() calls
//   logs: one packet per log line of every node and of the runtime
//   control: control requests, their replies, and the run's start and final status
enum class Feed : std::uint8_t { links, telemetry, logs, control };

struct InputPort {
  const char* name;
  PayloadKinds kinds;
  const char* doc;
  Feed feed = Feed::links;
  bool optional = false;  // a links-fed input that may be left unconnected
};

struct OutputPort {
  const char* name;
  PayloadKinds kinds;
  const char* doc;
  // Lossless: links from this port block (within their capacity) even behind a live source, whose
  // own edge drops instead while they are full. For metrics, checkpoints, anything not to lose.
  bool lossless = false;
};

}  // namespace tributary

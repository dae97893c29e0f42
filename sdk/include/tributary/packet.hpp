#pragma once
// Packets: what travels along links. Immutable once emitted and shared between consumers.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "tributary/port.hpp"
#include "tributary/tensor.hpp"
#include "tributary/value.hpp"

namespace tributary {

// Which part of a data set an example belongs to.
enum class Split : std::uint8_t { none, train, val, test };
const char* to_string(Split split) noexcept;
std::optional<Split> parse_split(std::string_view text) noexcept;

enum class LogLevel : std::uint8_t { trace, debug, info, warn, error };
const char* to_string(LogLevel level) noexcept;

// One metric point, as every export and tool reads it: {time, node, name, step, epoch, value}.
// time is seconds since the Unix epoch; step and epoch are -1 where they do not apply.
struct MetricPoint {
  double time = 0.0;
  std::string node;
  std::string name;
  std::int64_t step = -1;
  std::int64_t epoch = -1;
  double value = 0.0;
};

struct LogRecord {
  double time = 0.0;
  std::string node;
  LogLevel level = LogLevel::info;
  std::string message;
};

// Small key/value metadata: sample_rate, channels, width, height, format, class names, path...
struct Attribute {
  std::string key;
  Value value;
};

struct Packet {
  PayloadKind kind = PayloadKind::features;
  std::string stream;          // where it came from: a source node, a file, a device
  std::uint64_t sequence = 0;  // position within its stream
  std::int64_t timestamp_ns = 0;
  std::optional<std::int64_t> label;
  Split split = Split::none;
  std::vector<Tensor> tensors;  // the payload of audio, video, features, examples and blobs
  std::vector<MetricPoint> metrics;
  std::vector<LogRecord> logs;
  std::vector<Attribute> attributes;

  const Value* attribute(std::string_view key) const noexcept;
  void set_attribute(std::string key, Value value);
};

using PacketPtr = std::shared_ptr<const Packet>;

inline std::shared_ptr<Packet> make_packet(PayloadKind kind) {
  auto packet = std::make_shared<Packet>();
  packet->kind = kind;
  return packet;
}

// Wall-clock seconds since the Unix epoch, as MetricPoint::time uses it.
double wall_time_s() noexcept;
// Monotonic nanoseconds, as Packet::timestamp_ns uses it for live data.
std::int64_t monotonic_ns() noexcept;

// The metric names every trainer, sink and tool agrees on.
namespace metric {
inline constexpr const char* kTrainLoss = "train/loss";
inline constexpr const char* kTrainAccuracy = "train/accuracy";
inline constexpr const char* kValLoss = "val/loss";
inline constexpr const char* kValAccuracy = "val/accuracy";
inline constexpr const char* kValPrecision = "val/precision";
inline constexpr const char* kValRecall = "val/recall";
inline constexpr const char* kValF1 = "val/f1";
inline constexpr const char* kValFpr = "val/fpr";
inline constexpr const char* kValFnr = "val/fnr";
inline constexpr const char* kTestLoss = "test/loss";
inline constexpr const char* kTestAccuracy = "test/accuracy";
inline constexpr const char* kTestPrecision = "test/precision";
inline constexpr const char* kTestRecall = "test/recall";
inline constexpr const char* kTestF1 = "test/f1";
inline constexpr const char* kTestFpr = "test/fpr";
inline constexpr const char* kTestFnr = "test/fnr";
inline constexpr const char* kLearningRate = "lr";
inline constexpr const char* kGradNorm = "grad_norm";
inline constexpr const char* kSamplesPerSecond = "samples_per_s";
inline constexpr const char* kProgress = "progress";
inline constexpr const char* kEtaSeconds = "eta_s";
inline constexpr const char* kEpoch = "epoch";    // epochs done
inline constexpr const char* kEpochs = "epochs";  // epochs the run makes
// Telemetry the runtime publishes for every node.
inline constexpr const char* kPacketsIn = "telemetry/packets_in";
inline constexpr const char* kPacketsOut = "telemetry/packets_out";
inline constexpr const char* kDrops = "telemetry/drops";
inline constexpr const char* kBusySeconds = "telemetry/busy_s";
inline constexpr const char* kQueueDepth = "telemetry/queue_depth";
inline constexpr const char* kBusDrops = "telemetry/bus_drops";  // bus packets the node fell behind on
}  // namespace metric

}  // namespace tributary

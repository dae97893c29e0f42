#include "frame_stats/frame_stats.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <stdexcept>

namespace tributary::features {

namespace {

// The name of each channel of a frame, from its format attribute: rgb -> r, g, b; BGRx -> b, g, r,
// x; gray -> gray. A format that does not name `channels` channels gives c0, c1...
std::vector<std::string> channel_names(const Packet& packet, std::int64_t channels) {
  const Value* attribute = packet.attribute("format");
  std::string format = attribute != nullptr && attribute->type() == ValueType::string ? attribute->as_string() : "";
  std::transform(format.begin(), format.end(), format.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  std::vector<std::string> names;
  if (channels == 1 && (format.empty() || format.rfind("gray", 0) == 0)) return {"gray"};
  if (format.empty() && channels == 3) format = "rgb";  // what the screen and GStreamer give by default
  if (static_cast<std::int64_t>(format.size()) == channels && std::all_of(format.begin(), format.end(), [](char c) {
        return std::string("rgbax").find(c) != std::string::npos;
      })) {
    for (char c : format) names.emplace_back(1, c);
    return names;
  }
  for (std::int64_t c = 0; c < channels; ++c) names.push_back("c" + std::to_string(c));
  return names;
}

const char* name_of(int stat) {
  static const char* const kNames[] = {"mean", "std", "min", "max"};
  return kNames[stat];
}

}  // namespace

void FrameStats::declare(NodeSpec& spec) {
  spec.summary(
      "per-frame statistics of video frames as metric points: per channel mean, std, min, max (0..255) and motion, "
      "the mean absolute difference from the previous frame");
  spec.input(kIn);
  spec.output(kOut);
  spec.concurrency(Concurrency::serial);  // motion compares each frame with the one before it
  spec.param<std::vector<std::string>>(
          "stats", {"mean", "std", "min", "max", "motion"},
          "which statistics, per channel in this order, then motion (the padding channel x of BGRx-like formats "
          "is left out)")
      .choices({"mean", "std", "min", "max", "motion"});
  spec.example(R"([pipeline]
name  = "screen-stats"
links = [ "screen -> stats", "stats -> export" ]

[nodes.screen]
plugin  = "screen"
display = ":99"
fps     = 2

[nodes.stats]
plugin = "frame_stats"

[nodes.export]
plugin = "jsonl"
path   = "${RUN_DIR}/stats.jsonl"
)");
}

void FrameStats::configure(const Params& params) {
  per_channel_.clear();
  motion_ = false;
  const auto stats = params.get<std::vector<std::string>>("stats");
  if (stats.empty()) throw ParamError("stats", "name at least one of mean, std, min, max, motion");
  for (const auto& s : stats) {
    const bool repeated =
        (s == "motion" && motion_) || std::any_of(per_channel_.begin(), per_channel_.end(),
                                                  [&](Stat st) { return s == name_of(static_cast<int>(st)); });
    if (repeated) throw ParamError("stats", "'" + s + "' is listed twice");
    if (s == "motion") {
      motion_ = true;
    } else if (s == "mean") {
      per_channel_.push_back(Stat::mean);
    } else if (s == "std") {
      per_channel_.push_back(Stat::std);
    } else if (s == "min") {
      per_channel_.push_back(Stat::min);
    } else {
      per_channel_.push_back(Stat::max);
    }
  }
  has_previous_ = false;
}

void FrameStats::process(const InputPort&, const PacketPtr& packet, Emitter& out) {
  const std::string& node = context().node_name();
  const Tensor* frame = packet->tensors.empty() ? nullptr : &packet->tensors.front();
  if (frame == nullptr || frame->rank() != 3 || frame->dtype() != DType::u8 || frame->numel() == 0) {
    throw std::runtime_error(
        node +
        ": expected a video frame [height, width, channels] u8 in tensor 0 (as the screen and gst sources "
        "emit), found " +
        (frame == nullptr ? std::string("no tensors")
                          : std::string(to_string(frame->dtype())) + " " + to_string(frame->shape())) +
        " in packet " + std::to_string(packet->sequence) + " of '" + packet->stream + "'");
  }
  const std::int64_t channels = frame->dim(2);
  const auto pixels = static_cast<std::size_t>(frame->dim(0) * frame->dim(1));
  const auto c_count = static_cast<std::size_t>(channels);
  const std::vector<std::string> names = channel_names(*packet, channels);
  const std::uint8_t* at = frame->data<std::uint8_t>();

  std::vector<std::uint64_t> sum(c_count, 0), squares(c_count, 0);
  std::vector<std::uint8_t> low(c_count, 255), high(c_count, 0);
  for (std::size_t p = 0; p < pixels; ++p, at += c_count) {
    for (std::size_t c = 0; c < c_count; ++c) {
      const std::uint8_t v = at[c];
      sum[c] += v;
      squares[c] += static_cast<std::uint64_t>(v) * v;
      low[c] = std::min(low[c], v);
      high[c] = std::max(high[c], v);
    }
  }

  auto result = make_packet(PayloadKind::metrics);
  result->stream = packet->stream;
  result->sequence = packet->sequence;
  result->timestamp_ns = packet->timestamp_ns;
  const double now = wall_time_s();
  const auto step = static_cast<std::int64_t>(packet->sequence);
  const auto point = [&](std::string name, double value) {
    result->metrics.push_back(MetricPoint{now, node, std::move(name), step, -1, value});
  };
  const double n = static_cast<double>(pixels);
  for (std::size_t c = 0; c < c_count; ++c) {
    if (names[c] == "x") continue;  // padding, not a colour
    const double mean = static_cast<double>(sum[c]) / n;
    for (Stat stat : per_channel_) {
      double value = 0.0;
      switch (stat) {
        case Stat::mean:
          value = mean;
          break;
        case Stat::std:
          value = std::sqrt(std::max(0.0, static_cast<double>(squares[c]) / n - mean * mean));
          break;
        case Stat::min:
          value = low[c];
          break;
        case Stat::max:
          value = high[c];
          break;
      }
      point(names[c] + "/" + name_of(static_cast<int>(stat)), value);
    }
  }

  if (motion_) {
    // The first frame, and the first after a change of size, have nothing to compare with.
    if (has_previous_ && previous_.shape() == frame->shape()) {
      const std::uint8_t* a = frame->data<std::uint8_t>();
      const std::uint8_t* b = previous_.data<std::uint8_t>();
      std::vector<std::uint8_t> colour(c_count);
      for (std::size_t c = 0; c < c_count; ++c) colour[c] = names[c] != "x" ? 1 : 0;
      const auto counted = static_cast<std::size_t>(std::count(colour.begin(), colour.end(), 1));
      std::uint64_t difference = 0;
      for (std::size_t i = 0; i < pixels * c_count; i += c_count) {
        for (std::size_t c = 0; c < c_count; ++c) {
          const std::uint8_t u = a[i + c], v = b[i + c];
          difference += colour[c] * static_cast<std::uint64_t>(u > v ? u - v : v - u);
        }
      }
      if (counted > 0) point("motion", static_cast<double>(difference) / (n * static_cast<double>(counted)));
    }
    previous_ = *frame;  // shares the frame's memory: packets are immutable once emitted
    has_previous_ = true;
  }
  out.emit(kOut, std::move(result));
}

}  // namespace tributary::features

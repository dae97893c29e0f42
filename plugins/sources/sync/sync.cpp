#include "sync/sync.hpp"

#include <algorithm>
#include <limits>
#include <stdexcept>

namespace tributary::sources {

void Sync::declare(NodeSpec& spec) {
  spec.summary(
      "lines up packets of several live inputs by timestamp and emits each match as one packet, tensors in input "
      "order, so audio and screen feed one model");
  spec.input(kIn0);
  spec.input(kIn1);
  spec.input(kIn2);
  spec.input(kIn3);
  spec.output(kOut);
  spec.param<std::int64_t>("inputs", 2, "how many inputs to line up: in0, in1 and, with 3 or 4, in2 and in3")
      .range(2, 4);
  spec.param<double>("tolerance_ms", 50.0,
                     "packets match when their timestamps are at most this far apart; a packet that can no longer "
                     "match is dropped and counted in sync/dropped")
      .range(0.0, 3600000.0);
  spec.param<std::int64_t>("backlog", 64, "packets kept per input while waiting for a match; the oldest go first")
      .range(1, 100000);
  spec.example(R"(# A live tone in 100 ms chunks and a live test picture at 10 frames a second, lined up within
# 50 ms and written as JSON Lines; Ctrl-C stops it. Link each input by port: "x -> both.in0".
[pipeline]
name  = "sync-tone-frames"
links = [ "tone -> both.in0", "frames -> both.in1", "both -> out" ]

[nodes.tone]
plugin = "gst"
launch = "audiotestsrc is-live=true samplesperbuffer=1600 ! audioconvert"
caps   = "audio/x-raw,format=F32LE,rate=16000,channels=1"
live   = true

[nodes.frames]
plugin = "gst"
launch = "videotestsrc is-live=true pattern=ball ! videoconvert ! videoscale"
caps   = "video/x-raw,format=GRAY8,width=32,height=24,framerate=10/1"
live   = true

[nodes.both]
plugin       = "sync"
tolerance_ms = 50

[nodes.out]
plugin = "jsonl"
path   = "${RUN_DIR}/pairs.jsonl")");
}

void Sync::configure(const Params& params) {
  inputs_ = static_cast<std::size_t>(params.get<std::int64_t>("inputs"));
  tolerance_ns_ = static_cast<std::int64_t>(params.get<double>("tolerance_ms") * 1e6);
  backlog_ = static_cast<std::size_t>(params.get<std::int64_t>("backlog"));
}

void Sync::start() {
  queues_.assign(inputs_, {});
  sequence_ = 0;
  dropped_ = 0;
}

std::size_t Sync::index_of(const InputPort& port) const {
  const InputPort* ports[] = {&kIn0, &kIn1, &kIn2, &kIn3};
  for (std::size_t i = 0; i < 4; ++i) {
    if (&port == ports[i] || std::string_view(port.name) == ports[i]->name) return i;
  }
  throw std::logic_error("sync: a packet on an unknown port");
}

void Sync::process(const InputPort& port, const PacketPtr& packet, Emitter& out) {
  if (queues_.size() != inputs_) start();
  const std::size_t input = index_of(port);
  if (input >= inputs_) {
    throw std::runtime_error(concat("packets arrive on ", port.name, ", but inputs = ", inputs_,
                                    ": set inputs = ", input + 1, " to line it up"));
  }
  auto& queue = queues_[input];
  if (!queue.empty() && packet->timestamp_ns < queue.back()->timestamp_ns) {
    log().warn(port.name, ": a packet older than the one before it (", packet->timestamp_ns, " < ",
               queue.back()->timestamp_ns, " ns); is the input live?");
  }
  queue.push_back(packet);
  if (queue.size() > backlog_) drop_front(input);
  match(out);
}

void Sync::drop_front(std::size_t input) {
  queues_[input].pop_front();
  ++dropped_;
  context().metric("sync/dropped", static_cast<double>(dropped_));
}

void Sync::match(Emitter& out) {
  for (;;) {
    for (const auto& queue : queues_) {
      if (queue.empty()) return;
    }
    // The latest of the oldest packets sets the time: older ones too far before it never match.
    std::int64_t latest = std::numeric_limits<std::int64_t>::min();
    for (const auto& queue : queues_) latest = std::max(latest, queue.front()->timestamp_ns);
    bool dropped = false;
    for (std::size_t i = 0; i < queues_.size(); ++i) {
      if (latest - queues_[i].front()->timestamp_ns > tolerance_ns_) {
        drop_front(i);
        dropped = true;
      }
    }
    if (dropped) continue;

    auto packet = make_packet(PayloadKind::features);
    packet->stream = context().node_name();
    packet->sequence = sequence_++;
    std::int64_t earliest = latest;
    std::vector<Value> streams;
    std::vector<Value> times;
    for (auto& queue : queues_) {
      const Packet& in = *queue.front();
      earliest = std::min(earliest, in.timestamp_ns);
      packet->tensors.insert(packet->tensors.end(), in.tensors.begin(), in.tensors.end());
      streams.emplace_back(in.stream);
      times.emplace_back(in.timestamp_ns);
      if (!packet->label && in.label) packet->label = in.label;
      queue.pop_front();
    }
    packet->timestamp_ns = earliest;
    packet->set_attribute("streams", Value(std::move(streams)));
    packet->set_attribute("timestamps_ns", Value(std::move(times)));
    out.emit(kOut, std::move(packet));
  }
}

void Sync::flush(Emitter& out) {
  (void)out;
  std::size_t left = 0;
  for (const auto& queue : queues_) left += queue.size();
  if (left > 0) log().info(left, " packets were left without a match at the end of the stream");
}

}  // namespace tributary::sources

#include "window/window.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>

namespace tributary::features {

void FrameWindow::declare(NodeSpec& spec) {
  spec.summary("stacks consecutive feature frames into fixed windows [frames, bins] with a hop");
  spec.input(kIn);
  spec.output(kOut);
  // A stream's windows span packets.
  spec.concurrency(Concurrency::serial);
  spec.param<std::int64_t>("frames", 100, "frames per window").range(1, 1000000);
  spec.param<std::int64_t>("hop", 0, "frames between the starts of windows; 0 = frames (no overlap)").range(0, 1000000);
  spec.param<bool>("pad_end", false,
                   "at the end of a clip or stream, emit the last partial window padded with zeros (otherwise "
                   "frames that fill no window are dropped)");
  spec.example(R"([pipeline]
name  = "window-demo"
links = [ "tone -> mfcc", "mfcc -> clips", "clips -> export" ]

[nodes.tone]
plugin = "synthetic"
signal = "chirp"
count  = 30

[nodes.mfcc]
plugin     = "mfcc"
n_fft      = 512
hop_length = 160
n_mels     = 40
n_mfcc     = 13

[nodes.clips]
plugin = "window"
frames = 100
hop    = 50

[nodes.export]
plugin = "jsonl"
path   = "${RUN_DIR}/windows.jsonl"
)");
}

void FrameWindow::configure(const Params& params) {
  frames_ = static_cast<std::size_t>(params.get<std::int64_t>("frames"));
  const auto hop = static_cast<std::size_t>(params.get<std::int64_t>("hop"));
  hop_ = hop == 0 ? frames_ : hop;
  pad_end_ = params.get<bool>("pad_end");
}

void FrameWindow::cut(Stream& stream, const Packet& like, bool clip, bool end, Emitter& out) {
  const std::size_t bins = stream.bins;
  auto emit_window = [&](std::size_t available) {
    auto p = std::make_shared<Packet>(like);
    p->kind = clip ? PayloadKind::example : PayloadKind::features;
    std::vector<float> values(frames_ * bins, 0.0f);
    std::copy_n(stream.values.begin(), available * bins, values.begin());
    p->tensors.front() =
        Tensor::from_vector(std::move(values), {static_cast<std::int64_t>(frames_), static_cast<std::int64_t>(bins)});
    if (!stream.timestamps.empty()) p->timestamp_ns = stream.timestamps.front();
    if (!clip) p->sequence = stream.sequence++;
    p->set_attribute("first_frame", static_cast<std::int64_t>(stream.first));
    p->set_attribute("window_frames", static_cast<std::int64_t>(frames_));
    out.emit(kOut, std::move(p));
  };
  const auto drop = [&](std::size_t count) {
    count = std::min(count, stream.timestamps.size());
    stream.values.erase(stream.values.begin(), stream.values.begin() + static_cast<std::ptrdiff_t>(count * bins));
    stream.timestamps.erase(stream.timestamps.begin(), stream.timestamps.begin() + static_cast<std::ptrdiff_t>(count));
    stream.first += count;
  };
  while (stream.timestamps.size() >= frames_) {
    emit_window(frames_);
    drop(hop_);
  }
  if (end && pad_end_ && !stream.timestamps.empty()) {
    // The last window: what is left, padded, unless an earlier window already covered it.
    const bool covered = hop_ < frames_ && stream.first > 0 && stream.timestamps.size() <= frames_ - hop_;
    if (!covered) emit_window(stream.timestamps.size());
  }
}

void FrameWindow::process(const InputPort&, const PacketPtr& packet, Emitter& out) {
  const std::string& node = context().node_name();
  if (packet->tensors.empty() || packet->tensors.front().rank() != 2 || packet->tensors.front().dtype() != DType::f32) {
    throw std::runtime_error(
        node + ": expected frames [frames, bins] f32 in tensor 0, found " +
        (packet->tensors.empty() ? std::string("no tensors") : to_string(packet->tensors.front().shape())));
  }
  const Tensor& x = packet->tensors.front();
  const auto n = static_cast<std::size_t>(x.dim(0));
  const auto bins = static_cast<std::size_t>(x.dim(1));
  const bool clip = packet->kind == PayloadKind::example;
  Stream fresh;
  Stream& stream = clip ? fresh : streams_[packet->stream];
  if (stream.bins == 0) stream.bins = bins;
  if (bins != stream.bins) {
    throw std::runtime_error(node + ": stream '" + packet->stream + "' changed from " + std::to_string(stream.bins) +
                             " to " + std::to_string(bins) + " bins per frame");
  }
  const Value* rate = packet->attribute("frame_rate");
  const double step_ns = rate != nullptr && rate->is_number() && rate->as_number() > 0 ? 1e9 / rate->as_number() : 0.0;
  const float* v = x.data<float>();
  stream.values.insert(stream.values.end(), v, v + n * bins);
  for (std::size_t i = 0; i < n; ++i) {
    stream.timestamps.push_back(packet->timestamp_ns + std::llround(static_cast<double>(i) * step_ns));
  }
  stream.last = packet;
  cut(stream, *packet, clip, clip, out);
}

void FrameWindow::flush(Emitter& out) {
  for (auto& [name, stream] : streams_) {
    if (stream.last) cut(stream, *stream.last, false, true, out);
    if (!pad_end_ && !stream.timestamps.empty()) {
      log().debug("stream '", name, "' ended with ", stream.timestamps.size(), " frames that fill no window");
    }
  }
  streams_.clear();
}

}  // namespace tributary::features

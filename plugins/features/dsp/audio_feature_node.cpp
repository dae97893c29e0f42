#include "dsp/audio_feature_node.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

namespace tributary::features {

namespace {

double sample_rate_of(const Packet& packet) {
  const Value* v = packet.attribute("sample_rate");
  if (v == nullptr || !v->is_number()) return 0.0;
  return v->as_number();
}

std::string rate_text(double rate) {
  std::string s = std::to_string(rate);
  s.erase(s.find_last_not_of('0') + 1);
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s + " Hz";
}

}  // namespace

std::string AudioFeatureNode::located(const std::string& message) const {
  return context().node_name() + ": " + message;
}

AudioFeatureNode::Layout AudioFeatureNode::layout_of(const Spectrum& spectrum, std::size_t width) {
  Layout layout;
  layout.spectrum = spectrum.options();
  layout.frame_length = spectrum.frame_length();
  layout.hop = spectrum.options().hop_length;
  layout.pad = spectrum.pad();
  layout.pad_mode = spectrum.options().pad_mode;
  layout.width = width;
  return layout;
}

void AudioFeatureNode::prepare_if_known(double sample_rate) {
  expected_rate_ = sample_rate;
  if (sample_rate > 0.0) use_rate(sample_rate);
}

AudioFeatureNode::Layout AudioFeatureNode::use_rate(double sample_rate) {
  std::lock_guard<std::mutex> lock(prepared_mutex_);
  if (rate_ == sample_rate) return layout_;
  if (rate_ != 0.0) {
    throw std::runtime_error(located("every packet must have the sample rate of the first, " + rate_text(rate_) +
                                     "; found " + rate_text(sample_rate) + " (resample before this node)"));
  }
  layout_ = prepare(sample_rate);
  rate_ = sample_rate;
  return layout_;
}

std::unique_ptr<FrameScratch> AudioFeatureNode::take_scratch() {
  std::lock_guard<std::mutex> lock(prepared_mutex_);
  if (scratch_.empty()) return std::make_unique<FrameScratch>(layout_.spectrum);
  auto scratch = std::move(scratch_.back());
  scratch_.pop_back();
  return scratch;
}

void AudioFeatureNode::give_back(std::unique_ptr<FrameScratch> scratch) {
  std::lock_guard<std::mutex> lock(prepared_mutex_);
  scratch_.push_back(std::move(scratch));
}

std::vector<float> AudioFeatureNode::read_samples(const Packet& packet, std::size_t& channels,
                                                  bool& multichannel) const {
  if (packet.tensors.empty()) {
    throw std::runtime_error(located("expected audio in tensor 0, found a packet with no tensors"));
  }
  const Tensor& x = packet.tensors.front();
  if (x.rank() != 1 && x.rank() != 2) {
    throw std::runtime_error(
        located("expected audio of shape [samples] or [samples, channels], found " + to_string(x.shape())));
  }
  channels = x.rank() == 2 ? static_cast<std::size_t>(x.dim(1)) : 1;
  multichannel = channels > 1;
  if (channels == 0) throw std::runtime_error(located("audio of shape " + to_string(x.shape()) + " has no channels"));
  const auto n = static_cast<std::size_t>(x.numel());
  std::vector<float> samples(n);
  switch (x.dtype()) {
    case DType::f32: {
      const float* p = x.data<float>();
      samples.assign(p, p + n);
      break;
    }
    case DType::f64: {
      const double* p = x.data<double>();
      for (std::size_t i = 0; i < n; ++i) samples[i] = static_cast<float>(p[i]);
      break;
    }
    case DType::i16: {
      // As torchaudio.load(normalize=True) reads 16-bit PCM.
      const std::int16_t* p = x.data<std::int16_t>();
      for (std::size_t i = 0; i < n; ++i) samples[i] = static_cast<float>(p[i]) / 32768.0f;
      break;
    }
    default:
      throw std::runtime_error(
          located("expected audio samples of dtype f32, f64 or i16, found " + std::string(to_string(x.dtype()))));
  }
  return samples;
}

void AudioFeatureNode::check_continuity(Stream& stream, const Packet& packet, std::size_t samples) {
  // A live source that dropped chunks leaves a hole in time; frames are cut across it as if the
  // audio were continuous, and their timestamps count samples, so the user should know.
  const std::uint64_t seen = stream.cutters.front().samples_seen();
  if (seen == 0) return;
  const double expected_ns =
      static_cast<double>(stream.start_ns) + static_cast<double>(seen) * 1e9 / stream.sample_rate;
  const double chunk_ns = static_cast<double>(samples) * 1e9 / stream.sample_rate;
  const double late_ns = static_cast<double>(packet.timestamp_ns) - expected_ns;
  if (late_ns <= std::max(20e6, chunk_ns / 2.0)) return;
  if (stream.gaps++ == 0) {
    log().warn("stream '", packet.stream, "' has a gap of ", std::llround(late_ns / 1e6), " ms before chunk ",
               packet.sequence, " (dropped upstream?): frames are cut across it and their timestamps count samples");
  }
}

void AudioFeatureNode::cut(Stream& stream, const Layout& layout, FrameBlock& block) {
  // Every channel has cut the same number of frames: they see the same samples.
  block.channels = stream.channels;
  block.width = layout.width;
  std::unique_ptr<FrameScratch> scratch = take_scratch();
  std::vector<std::vector<float>> per_channel(stream.channels);
  std::size_t frames = 0;
  for (std::size_t c = 0; c < stream.channels; ++c) {
    auto& values = per_channel[c];
    frames = 0;
    while (stream.cutters[c].next(scratch->frame.data())) {
      values.resize((frames + 1) * layout.width);
      compute(*scratch, values.data() + frames * layout.width);
      ++frames;
    }
  }
  give_back(std::move(scratch));
  block.frames = frames;
  block.values.resize(stream.channels * frames * layout.width);
  for (std::size_t c = 0; c < stream.channels; ++c) {
    std::copy(per_channel[c].begin(), per_channel[c].end(),
              block.values.begin() + static_cast<std::ptrdiff_t>(c * frames * layout.width));
  }
}

std::shared_ptr<Packet> AudioFeatureNode::make_output(const Packet& from, const Layout& layout, double rate,
                                                      FrameBlock& block, bool multichannel) const {
  auto packet = std::make_shared<Packet>(from);
  Shape shape = multichannel ? Shape{static_cast<std::int64_t>(block.channels), static_cast<std::int64_t>(block.frames),
                                     static_cast<std::int64_t>(block.width)}
                             : Shape{static_cast<std::int64_t>(block.frames), static_cast<std::int64_t>(block.width)};
  packet->tensors.front() = Tensor::from_vector(std::move(block.values), std::move(shape));
  packet->set_attribute("hop_length", static_cast<std::int64_t>(layout.hop));
  packet->set_attribute("frame_rate", rate / static_cast<double>(layout.hop));
  packet->set_attribute("first_frame", static_cast<std::int64_t>(0));
  return packet;
}

void AudioFeatureNode::process(const InputPort&, const PacketPtr& packet, Emitter& out) {
  double rate = sample_rate_of(*packet);
  if (rate <= 0.0) rate = expected_rate_;
  if (rate <= 0.0) {
    throw std::runtime_error(located("the packet has no sample_rate attribute: set sample_rate on this node"));
  }
  if (expected_rate_ > 0.0 && rate != expected_rate_) {
    throw std::runtime_error(located("sample_rate is " + rate_text(expected_rate_) + " but the packet's is " +
                                     rate_text(rate) + ": resample first or change sample_rate"));
  }
  Layout layout;
  try {
    layout = use_rate(rate);
  } catch (const ParamError& e) {
    throw std::runtime_error(
        located(e.param() + ": " + e.what() + " (sample_rate " + rate_text(rate) + " from the packet)"));
  }

  Stream fresh;
  const bool clip = packet->kind == PayloadKind::example;
  Stream& stream = clip ? fresh : streams_[packet->stream];
  std::size_t channels = 0;
  bool multichannel = false;
  std::vector<float> samples = read_samples(*packet, channels, multichannel);
  if (stream.cutters.empty()) {
    stream.channels = channels;
    stream.multichannel = multichannel;
    stream.sample_rate = rate;
    stream.start_ns = packet->timestamp_ns;
    for (std::size_t c = 0; c < channels; ++c) {
      stream.cutters.emplace_back(layout.frame_length, layout.hop, layout.pad, layout.pad_mode);
    }
  } else if (channels != stream.channels) {
    throw std::runtime_error(located("stream '" + packet->stream + "' changed from " + std::to_string(stream.channels) +
                                     " to " + std::to_string(channels) + " channels"));
  }
  const std::size_t count = samples.size() / channels;
  if (!clip) check_continuity(stream, *packet, count);
  for (std::size_t c = 0; c < channels; ++c) stream.cutters[c].push(samples.data() + c, count, channels);

  FrameBlock block;
  if (clip) {
    try {
      for (auto& cutter : stream.cutters) cutter.finish();
    } catch (const std::invalid_argument& e) {
      throw std::runtime_error(located(std::string("clip of ") + std::to_string(count) + " samples: " + e.what()));
    }
    cut(stream, layout, block);
    finish_block(block, stream.state, true);
    out.emit(*out_, make_output(*packet, layout, rate, block, multichannel));
    return;
  }
  stream.last = packet;
  cut(stream, layout, block);
  emit_stream(stream, block, out, false);
}

void AudioFeatureNode::emit_stream(Stream& stream, FrameBlock& block, Emitter& out, bool end) {
  const std::size_t computed = block.frames;
  finish_block(block, stream.state, end);
  stream.state.frames_in += computed;
  if (block.frames == 0) return;
  const std::uint64_t first = stream.frames_out;
  stream.frames_out += block.frames;
  auto p = make_output(*stream.last, layout_, rate_, block, stream.multichannel);
  p->kind = PayloadKind::features;
  p->sequence = stream.sequence++;
  const auto offset_samples = static_cast<double>(first) * static_cast<double>(layout_.hop);
  p->timestamp_ns = stream.start_ns + std::llround(offset_samples * 1e9 / stream.sample_rate);
  p->set_attribute("first_frame", static_cast<std::int64_t>(first));
  out.emit(*out_, std::move(p));
}

void AudioFeatureNode::flush(Emitter& out) {
  for (auto& [name, stream] : streams_) {
    if (stream.gaps > 1) log().warn("stream '", name, "' had ", stream.gaps, " gaps in time");
    try {
      for (auto& cutter : stream.cutters) cutter.finish();
    } catch (const std::invalid_argument& e) {
      log().warn("stream '", name, "' ended before its first frame: ", e.what());
      continue;
    }
    FrameBlock block;
    cut(stream, layout_, block);
    emit_stream(stream, block, out, true);
  }
  streams_.clear();
}

}  // namespace tributary::features

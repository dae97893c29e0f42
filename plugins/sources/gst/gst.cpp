#include "gst/gst.hpp"

#include <chrono>

#include "gstreamer/stream.hpp"
#include "gstreamer/tensors.hpp"

namespace tributary::sources {

namespace {
constexpr auto kPollSlice = std::chrono::milliseconds(50);  // a stop request is seen within this
}  // namespace

Gst::Gst() = default;
Gst::~Gst() = default;

void Gst::declare(NodeSpec& spec) {
  spec.summary(
      "any GStreamer launch description (files, cameras, RTP/UDP/TCP/SRT streams...) with an appsink added at its "
      "end; raw audio and video become tensors");
  spec.output(kOut);
  spec.source(SourceMode::pull);
  spec.required<std::string>("launch",
                             "a gst-launch-1.0 description without its sink, e.g. \"audiotestsrc wave=sine ! "
                             "audioconvert\"; the node links an appsink after it");
  spec.param<std::string>("caps", "",
                          "caps the appsink enforces, e.g. \"audio/x-raw,format=F32LE,rate=16000,channels=1\" or "
                          "\"video/x-raw,format=RGB,width=320,height=240\"; empty accepts what the pipeline gives");
  spec.param<bool>("live", false,
                   "a live pipeline (camera, network stream): never wait for downstream, full links drop by policy; "
                   "otherwise the pipeline waits for downstream like a file");
  spec.param<bool>("reconnect", false,
                   "live: when the stream fails or ends (a camera unplugged, a network stream dropped), start the "
                   "pipeline again with backoff instead of ending; counted in capture/reconnects, the time without the "
                   "stream in capture/lost_s");
  spec.param<std::int64_t>("chunk_ms", 0, "raw audio: milliseconds per packet; 0 = one packet per GStreamer buffer")
      .range(0, 60000);
  spec.example(R"(# A test tone as 100 ms chunks of 16 kHz f32 samples in a JSON Lines file. Any other stream is
# one line away: launch = "v4l2src ! videoconvert ! videoscale", caps =
# "video/x-raw,format=RGB,width=320,height=240", live = true for a camera.
[pipeline]
name  = "gst-tone"
links = [ "tone -> chunks" ]

[nodes.tone]
plugin   = "gst"
launch   = "audiotestsrc wave=sine freq=440 num-buffers=20 ! audioconvert ! audioresample"
caps     = "audio/x-raw,format=F32LE,rate=16000,channels=1"
chunk_ms = 100

[nodes.chunks]
plugin = "jsonl"
path   = "${RUN_DIR}/tone.jsonl")");
}

void Gst::configure(const Params& params) {
  launch_ = params.get<std::string>("launch");
  caps_ = params.get<std::string>("caps");
  live_ = params.get<bool>("live");
  chunk_ms_ = params.get<std::int64_t>("chunk_ms");
  reconnect_ = params.get<bool>("reconnect");
  if (reconnect_ && !live_) {
    throw ParamError("reconnect",
                     "'reconnect' applies to live pipelines (live = true): a file or a finite stream ends at its end");
  }
  if (launch_.find_first_not_of(" \t\r\n") == std::string::npos) {
    throw ParamError("launch",
                     "'launch' is empty: give a GStreamer launch description such as \"audiotestsrc ! "
                     "audioconvert\"");
  }
  if (!caps_.empty()) {
    try {
      parse_caps(caps_);
    } catch (const std::invalid_argument&) {
      throw ParamError("caps", "'caps' is \"" + caps_ +
                                   "\", which GStreamer does not read as caps: write e.g. "
                                   "\"audio/x-raw,format=F32LE,rate=16000\"");
    }
  }
  // Parsed once here so a description that does not parse, or needs an element that is not
  // installed, is refused before the run with the parameter's place in the file.
  try {
    check_description(launch_ + " ! appsink name=tributary_check");
  } catch (const StreamError& e) {
    if (e.gst_message().find("tributary_check") != std::string::npos) {
      throw ParamError("launch",
                       "'launch' ends in an element with nothing to link on (a sink?): the node links an "
                       "appsink after the description, so leave the sink out (GStreamer: " +
                           e.gst_message() + ")");
    }
    throw ParamError("launch", e.kind() == StreamError::Kind::missing_element
                                   ? e.gst_message() + " (GStreamer: " + e.debug() + ")"
                                   : e.gst_message());
  }
}

SourceMode Gst::source_mode(SourceMode declared) const { return live_ ? SourceMode::live : declared; }

void Gst::start() {
  sequence_ = 0;
  flushed_ = false;
  chunker_.reset();
  reconnector_ = reconnect_ ? std::make_unique<Reconnector>(context(), "the pipeline", "the stream") : nullptr;
  try {
    open();
  } catch (const StreamError& e) {
    if (!reconnector_) explain(e);
    lose_stream(context().emitter(), e.what());
  }
}

void Gst::open() {
  GstStream::Options options;
  options.description = launch_;
  options.caps = caps_;
  options.live = live_;
  auto stream = std::make_unique<GstStream>(std::move(options));
  if (live_) {
    Emitter& out = context().emitter();
    stream->on_sample([this, &out](MediaSample&& sample) { take(std::move(sample), out); });
  }
  stream->start();
  stream_ = std::move(stream);
  log().info("playing: ", launch_, caps_.empty() ? "" : " ! " + caps_);
}

// With reconnect: the audio held for a chunk goes on first (the next stream's starts anew), the
// stream stops, and the backoff is waited out; false when the run stops meanwhile.
bool Gst::lose_stream(Emitter& out, const std::string& why) {
  if (stream_) stream_->stop();
  stream_.reset();
  if (chunker_) finish_chunks(out);
  chunker_.reset();
  return reconnector_ && reconnector_->wait_after(why);
}

bool Gst::produce(Emitter& out) {
  try {
    if (!stream_) {
      if (!reconnector_) {
        start();
      } else {
        open();
        reconnector_->back();
      }
    }
    if (live_) {
      const bool more = stream_->wait(kPollSlice);
      for (const auto& warning : stream_->take_warnings()) log().warn("GStreamer: ", warning);
      // The stream ended by itself (not by a stop): with reconnect it starts again.
      if (!more && reconnector_ && !flushed_ && !context().stop_requested())
        return lose_stream(context().emitter(), "the stream ended");
      return more;
    }
    auto sample = stream_->pull(kPollSlice, [this] { return !context().stop_requested(); });
    for (const auto& warning : stream_->take_warnings()) log().warn("GStreamer: ", warning);
    if (!sample) {
      if (chunker_ && !stream_->stopped()) finish_chunks(out);
      return false;
    }
    take(std::move(*sample), out);
    return true;
  } catch (const StreamError& e) {
    if (!reconnector_) explain(e);
    return lose_stream(context().emitter(), e.what());
  }
}

void Gst::take(MediaSample&& sample, Emitter& out) {
  const MediaFormat& format = sample.format;
  const std::int64_t ts = sample.pts_ns.value_or(0);
  if (format.kind == MediaFormat::Kind::audio) {
    Tensor samples = audio_tensor(sample);
    if (chunk_ms_ <= 0) return emit_audio(out, std::move(samples), ts, format.rate);
    if (!chunker_ || chunk_rate_ != format.rate) {
      if (chunker_) finish_chunks(out);
      chunker_ = std::make_unique<AudioChunker>(std::max<std::int64_t>(1, format.rate * chunk_ms_ / 1000));
      chunk_rate_ = format.rate;
    }
    chunker_->push(samples, sample.pts_ns, format.rate,
                   [&](Tensor chunk, std::int64_t ns) { emit_audio(out, std::move(chunk), ns, chunk_rate_); });
    return;
  }
  if (format.kind == MediaFormat::Kind::video) {
    auto packet = make_packet(PayloadKind::video);
    packet->timestamp_ns = ts;
    packet->tensors.push_back(video_tensor(sample));
    packet->set_attribute("width", std::int64_t{format.width});
    packet->set_attribute("height", std::int64_t{format.height});
    packet->set_attribute("channels", std::int64_t{format.channels});
    packet->set_attribute("format", format.format);
    if (format.fps > 0.0) packet->set_attribute("fps", format.fps);
    emit(out, std::move(packet));
    return;
  }
  if (format.media == "audio/x-raw" || format.media == "video/x-raw") {
    // Raw, but in a layout with no tensor shape (planar audio, multi-plane video): say what to add.
    if (format.media == "audio/x-raw") audio_tensor(sample);
    video_tensor(sample);
  }
  auto packet = make_packet(PayloadKind::blob);
  packet->timestamp_ns = ts;
  packet->tensors.push_back(byte_tensor(sample));
  packet->set_attribute("caps", format.caps);
  emit(out, std::move(packet));
}

void Gst::emit_audio(Emitter& out, Tensor samples, std::int64_t timestamp_ns, int rate) {
  auto packet = make_packet(PayloadKind::audio);
  packet->timestamp_ns = timestamp_ns;
  packet->set_attribute("sample_rate", std::int64_t{rate});
  packet->set_attribute("channels", samples.dim(1));
  packet->tensors.push_back(std::move(samples));
  emit(out, std::move(packet));
}

void Gst::finish_chunks(Emitter& out) {
  chunker_->finish([&](Tensor chunk, std::int64_t ns) { emit_audio(out, std::move(chunk), ns, chunk_rate_); });
}

void Gst::emit(Emitter& out, std::shared_ptr<Packet> packet) {
  packet->stream = context().node_name();
  packet->sequence = sequence_++;
  out.emit(kOut, std::move(packet));
}

void Gst::flush(Emitter& out) {
  if (!live_ || flushed_) return;
  flushed_ = true;
  if (stream_) stream_->stop();
  if (chunker_) finish_chunks(out);
}

void Gst::stop() {
  if (stream_) stream_->stop();
  stream_.reset();
}

void Gst::explain(const std::exception& error) const {
  const auto* e = dynamic_cast<const StreamError*>(&error);
  if (e == nullptr) throw std::runtime_error(error.what());
  if (e->kind() == StreamError::Kind::missing_element) throw std::runtime_error(e->gst_message());
  if (e->kind() == StreamError::Kind::negotiation) {
    throw std::runtime_error("the pipeline's elements do not agree on a format" +
                             (caps_.empty() ? std::string() : " with caps = \"" + caps_ + "\"") +
                             ": add converters before the end (audioconvert ! audioresample, or videoconvert ! "
                             "videoscale) (GStreamer: " +
                             e->what() + ")");
  }
  throw std::runtime_error((e->element().empty() ? std::string("GStreamer") : e->element()) + ": " + e->what());
}

}  // namespace tributary::sources

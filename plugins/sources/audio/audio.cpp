#include "audio/audio.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <system_error>
#include <thread>

#include "gstreamer/stream.hpp"
#include "gstreamer/tensors.hpp"

namespace tributary::sources {

namespace {

constexpr auto kPollSlice = std::chrono::milliseconds(50);  // a stop request is seen within this
constexpr const char* kAlsaPrefix = "alsa:";

bool starts_with(const std::string& text, const std::string& prefix) { return text.rfind(prefix, 0) == 0; }

std::string device_listing_hint() {
  return "`pactl list short sources` lists the PulseAudio sources (a sink's '.monitor' captures what it plays), "
         "`arecord -L` the ALSA devices (use them as device = \"alsa:NAME\"), and \"default\" takes the system's "
         "default";
}

}  // namespace

Audio::Audio() = default;
Audio::~Audio() = default;

void Audio::declare(NodeSpec& spec) {
  spec.summary(
      "audio from a capture device (live) or a file or URI (decoded by GStreamer), resampled and cut into f32 chunks "
      "[samples, channels]");
  spec.output(kOut);
  spec.source(SourceMode::pull);
  spec.param<std::string>(
      "device", "",
      "capture from a device: \"default\", a PulseAudio source name (`pactl list short "
      "sources`; a sink's .monitor captures what it plays), or \"alsa:hw:0\" for an ALSA device (`arecord "
      "-L`); live: never waits for downstream, publishes capture/gaps and capture/latency_ms. Set "
      "exactly one of device, path, uri");
  spec.param<std::string>("path", "", "decode an audio file (WAV, FLAC, OGG, MP3 where plugins exist)").input_path();
  spec.param<std::string>("uri", "", "decode a URI GStreamer can open (file://, http://, rtsp://...)");
  spec.param<std::int64_t>("rate", 16000, "samples per second of the output, resampled by GStreamer")
      .range(1000, 384000);
  spec.param<std::int64_t>("channels", 1, "channels of the output, mixed or duplicated by GStreamer").range(1, 64);
  spec.param<std::int64_t>("chunk_ms", 100, "milliseconds of audio per packet; the last chunk of a file may be shorter")
      .range(1, 60000);
  spec.param<bool>("reconnect", false,
                   "device only: when the device fails or disappears, retry with backoff (0.25 s doubling to 5 s) "
                   "instead of failing the run; counted in capture/reconnects, the time without it in capture/lost_s");
  spec.example(R"(# The microphone as 100 ms chunks of 16 kHz samples in a CSV file, one chunk a row; Ctrl-C
# stops it. A file instead: --set mic.device= --set mic.path=/tmp/seven.wav
[pipeline]
name  = "mic-export"
links = [ "mic -> samples" ]

[nodes.mic]
plugin   = "audio"
device   = "default"
rate     = 16000
chunk_ms = 100

[nodes.samples]
plugin = "csv"
path   = "${RUN_DIR}/mic.csv")");
}

void Audio::configure(const Params& params) {
  device_ = params.get<std::string>("device");
  path_ = params.get<std::string>("path");
  uri_ = params.get<std::string>("uri");
  const int given = int{!device_.empty()} + int{!path_.empty()} + int{!uri_.empty()};
  if (given != 1) {
    const char* param = !device_.empty() ? "device" : !path_.empty() ? "path" : "uri";
    throw ParamError(given == 0 ? "device" : param,
                     given == 0 ? "set one of 'device' (e.g. \"default\"), 'path' (an audio file) or 'uri'"
                                : "set only one of 'device', 'path' and 'uri'");
  }
  input_ = !device_.empty() ? Input::device : !path_.empty() ? Input::path : Input::uri;
  if (input_ == Input::device && starts_with(device_, kAlsaPrefix) && device_.size() == std::strlen(kAlsaPrefix)) {
    throw ParamError("device", "'device' is \"alsa:\" without a device: name one, e.g. \"alsa:hw:0\" (`arecord -L`)");
  }
  rate_ = params.get<int>("rate");
  channels_ = params.get<int>("channels");
  chunk_ms_ = params.get<std::int64_t>("chunk_ms");
  reconnect_ = params.get<bool>("reconnect");
  if (reconnect_ && input_ != Input::device) {
    throw ParamError("reconnect", "'reconnect' applies to capture devices; a file or URI ends at its end");
  }
}

SourceMode Audio::source_mode(SourceMode declared) const {
  return input_ == Input::device ? SourceMode::live : declared;
}

void Audio::start() {
  if (input_ == Input::path) {
    std::error_code ec;
    const auto status = std::filesystem::status(path_, ec);
    if (!std::filesystem::exists(status)) {
      throw std::runtime_error("audio file '" + path_ + "' does not exist (path = \"" + path_ +
                               "\"): check the path; a relative one is read from " +
                               std::filesystem::current_path(ec).string());
    }
    if (std::filesystem::is_directory(status)) {
      throw std::runtime_error("'" + path_ +
                               "' is a directory, not an audio file: name a file in it, or read the "
                               "folder with the audio_dataset node");
    }
  }
  sequence_ = 0;
  pulse_device_ = false;
  gaps_ = 0;
  gaps_reported_ = 0;
  reconnector_ =
      reconnect_ ? std::make_unique<Reconnector>(context(), "capture from " + device_, "the device") : nullptr;
  flushed_ = false;
  latency_sum_ns_ = 0;
  latency_count_ = 0;
  latency_max_ns_ = 0;
  latency_reported_at_ns_ = monotonic_ns();
  try {
    open();
  } catch (const StreamError& e) {
    if (!reconnect_ || !reconnect_after(e)) explain(e);
  }
}

void Audio::open() {
  const auto chunk = static_cast<std::int64_t>(rate_) * chunk_ms_ / 1000;
  chunker_ = std::make_unique<AudioChunker>(std::max<std::int64_t>(chunk, 1));
  GstStream::Options options;
  options.caps = concat("audio/x-raw,format=F32LE,layout=interleaved,rate=", rate_, ",channels=", channels_);
  const std::string convert = " ! audioconvert ! audioresample";
  if (input_ == Input::path) {
    options.description = "filesrc name=src ! decodebin" + convert;
    options.properties.push_back({"src", "location", path_});
  } else if (input_ == Input::uri) {
    options.description = "uridecodebin name=src" + convert;
    options.properties.push_back({"src", "uri", uri_});
  } else {
    options.live = true;
    const std::string period_us = std::to_string(chunk_ms_ * 1000);
    if (device_ == "default") {
      options.description = "autoaudiosrc name=src" + convert;
    } else if (starts_with(device_, kAlsaPrefix)) {
      options.description = "alsasrc name=src" + convert;
      options.properties.push_back({"src", "device", device_.substr(std::strlen(kAlsaPrefix))});
    } else {
      options.description = "pulsesrc name=src" + convert;
      pulse_device_ = true;
      options.properties.push_back({"src", "device", device_});
    }
    if (device_ != "default") {
      // Device buffers of one chunk each, so most chunks are views of them.
      options.properties.push_back({"src", "latency-time", period_us});
      options.properties.push_back({"src", "buffer-time", std::to_string(chunk_ms_ * 1000 * 4)});
    }
  }
  auto stream = std::make_unique<GstStream>(std::move(options));
  if (input_ == Input::device) {
    Emitter& out = context().emitter();
    stream->on_sample([this, &out](MediaSample&& sample) { take(std::move(sample), out); });
  }
  stream->start();
  stream_ = std::move(stream);
  log().info("capturing ",
             input_ == Input::device ? "device " + device_
             : input_ == Input::path ? path_
                                     : uri_,
             " as ", rate_, " Hz, ", channels_, " channel", channels_ == 1 ? "" : "s", ", chunks of ", chunk_ms_,
             " ms");
}

bool Audio::produce(Emitter& out) {
  if (!stream_ && !reconnect_) start();
  if (input_ == Input::device) {
    try {
      if (!stream_) {
        open();
        reconnector_->back();
      }
      const bool more = stream_->wait(kPollSlice);
      report_warnings();
      check_device();
      if (const auto gaps = gaps_.load(std::memory_order_relaxed); gaps != gaps_reported_) {
        gaps_reported_ = gaps;
        context().metric("capture/gaps", static_cast<double>(gaps));
      }
      report_latency();
      return more;
    } catch (const std::exception& e) {
      if (!reconnect_) explain(e);
      return reconnect_after(e);
    }
  }
  std::optional<MediaSample> sample;
  try {
    sample = stream_->pull(kPollSlice, [this] { return !context().stop_requested(); });
  } catch (const StreamError& e) {
    explain(e);
  }
  report_warnings();
  if (!sample) {
    if (!stream_->stopped()) chunker_->finish([&](Tensor chunk, std::int64_t ns) { emit_chunk(out, chunk, ns); });
    return false;
  }
  take(std::move(*sample), out);
  return true;
}

bool Audio::reconnect_after(const std::exception& error) {
  if (stream_) stream_->stop();
  stream_.reset();
  return reconnector_->wait_after(error.what());
}

void Audio::take(MediaSample&& sample, Emitter& out) {
  if (sample.discont && sequence_ > 0) gaps_.fetch_add(1, std::memory_order_relaxed);
  chunker_->push(audio_tensor(sample), sample.pts_ns, rate_,
                 [&](Tensor chunk, std::int64_t ns) { emit_chunk(out, std::move(chunk), ns); });
}

void Audio::emit_chunk(Emitter& out, Tensor chunk, std::int64_t timestamp_ns) {
  auto packet = make_packet(PayloadKind::audio);
  packet->stream = context().node_name();
  packet->sequence = sequence_++;
  packet->timestamp_ns = timestamp_ns;
  if (input_ == Input::device) {
    // From the capture time GStreamer gives the chunk's first sample to the chunk's emission.
    const std::int64_t delay = monotonic_ns() - timestamp_ns;
    latency_sum_ns_.fetch_add(delay, std::memory_order_relaxed);
    latency_count_.fetch_add(1, std::memory_order_relaxed);
    std::int64_t seen = latency_max_ns_.load(std::memory_order_relaxed);
    while (delay > seen && !latency_max_ns_.compare_exchange_weak(seen, delay)) {
    }
  }
  packet->tensors.push_back(std::move(chunk));
  packet->set_attribute("sample_rate", std::int64_t{rate_});
  packet->set_attribute("channels", std::int64_t{channels_});
  out.emit(kOut, std::move(packet));
}

void Audio::flush(Emitter& out) {
  if (input_ != Input::device || flushed_) return;
  flushed_ = true;
  // The streaming thread stops first, so the chunk it was filling can be handed on from here.
  if (stream_) stream_->stop();
  if (chunker_) chunker_->finish([&](Tensor chunk, std::int64_t ns) { emit_chunk(out, std::move(chunk), ns); });
}

void Audio::stop() {
  if (stream_) stream_->stop();
  stream_.reset();
}

void Audio::report_latency() {
  const std::int64_t now = monotonic_ns();
  if (now - latency_reported_at_ns_ < 1'000'000'000) return;
  latency_reported_at_ns_ = now;
  const std::int64_t count = latency_count_.exchange(0);
  const std::int64_t sum = latency_sum_ns_.exchange(0);
  const std::int64_t most = latency_max_ns_.exchange(0);
  if (count == 0) return;
  context().metric("capture/latency_ms", static_cast<double>(sum) / static_cast<double>(count) * 1e-6);
  context().metric("capture/latency_max_ms", static_cast<double>(most) * 1e-6);
}

void Audio::check_device() {
  if (!pulse_device_) return;
  // PulseAudio moves a capture whose source went away to another source instead of ending it.
  const std::string current = stream_->property("src", "current-device");
  if (!current.empty() && current != device_) {
    throw std::runtime_error("the audio device '" + device_ +
                             "' disappeared mid-run (PulseAudio moved the capture to '" + current +
                             "'): set reconnect = true to wait for it to come back");
  }
}

void Audio::report_warnings() {
  for (const auto& warning : stream_ ? stream_->take_warnings() : std::vector<std::string>{}) {
    log().warn("GStreamer: ", warning);
  }
}

void Audio::explain(const std::exception& error) const {
  const auto* stream_error = dynamic_cast<const StreamError*>(&error);
  if (stream_error == nullptr) throw std::runtime_error(error.what());
  using Kind = StreamError::Kind;
  const std::string gst = stream_error->gst_message();
  const std::string detail = stream_error->debug().empty() ? "" : " [" + stream_error->debug() + "]";
  switch (stream_error->kind()) {
    case Kind::missing_element:
      throw std::runtime_error(stream_error->gst_message());
    case Kind::not_found:
    case Kind::cannot_open:
      if (input_ == Input::device) {
        throw std::runtime_error("the audio device '" + device_ + "' cannot be opened by " + stream_error->element() +
                                 " (GStreamer: " + gst + "): " + device_listing_hint());
      }
      throw std::runtime_error("'" + (input_ == Input::path ? path_ : uri_) + "' cannot be read (GStreamer: " + gst +
                               ")" + detail);
    case Kind::decode:
    case Kind::missing_plugin:
    case Kind::negotiation:
      if (input_ != Input::device) {
        const std::string& what = input_ == Input::path ? path_ : uri_;
        throw std::runtime_error("'" + what + "' could not be decoded as audio (GStreamer: " + gst +
                                 "): is it a complete WAV, FLAC, OGG or MP3 file? `gst-discoverer-1.0 " + what +
                                 "` shows what GStreamer makes of it" + detail);
      }
      [[fallthrough]];
    default:
      throw std::runtime_error((input_ == Input::device ? "capture from '" + device_ + "'"
                                                        : "'" + (input_ == Input::path ? path_ : uri_) + "'") +
                               " failed in " +
                               (stream_error->element().empty() ? "GStreamer" : stream_error->element()) + ": " + gst +
                               detail);
  }
}

}  // namespace tributary::sources

#include "gstreamer/stream.hpp"

#include <gst/app/gstappsink.h>
#include <gst/audio/audio.h>
#include <gst/gst.h>
#include <gst/pbutils/missing-plugins.h>
#include <gst/video/video.h>

#include <cstring>
#include <exception>
#include <mutex>
#include <utility>

namespace tributary::sources {

namespace {

constexpr const char* kSinkName = "tributary_sink";

struct ElementPackage {
  const char* element;
  const char* package;
};

// The elements the sources and their users reach for most, and where Debian 12 ships them.
constexpr ElementPackage kPackages[] = {
    {"filesrc", "libgstreamer1.0-0"},
    {"queue", "libgstreamer1.0-0"},
    {"capsfilter", "libgstreamer1.0-0"},
    {"fakesink", "libgstreamer1.0-0"},
    {"identity", "libgstreamer1.0-0"},
    {"tee", "libgstreamer1.0-0"},
    {"appsink", "gstreamer1.0-plugins-base"},
    {"appsrc", "gstreamer1.0-plugins-base"},
    {"decodebin", "gstreamer1.0-plugins-base"},
    {"uridecodebin", "gstreamer1.0-plugins-base"},
    {"audioconvert", "gstreamer1.0-plugins-base"},
    {"audioresample", "gstreamer1.0-plugins-base"},
    {"audiotestsrc", "gstreamer1.0-plugins-base"},
    {"videoconvert", "gstreamer1.0-plugins-base"},
    {"videoscale", "gstreamer1.0-plugins-base"},
    {"videorate", "gstreamer1.0-plugins-base"},
    {"videotestsrc", "gstreamer1.0-plugins-base"},
    {"oggdemux", "gstreamer1.0-plugins-base"},
    {"vorbisdec", "gstreamer1.0-plugins-base"},
    {"opusdec", "gstreamer1.0-plugins-base"},
    {"tcpclientsrc", "gstreamer1.0-plugins-base"},
    {"tcpserversrc", "gstreamer1.0-plugins-base"},
    {"alsasrc", "gstreamer1.0-alsa"},
    {"pulsesrc", "gstreamer1.0-pulseaudio"},
    {"pulsesink", "gstreamer1.0-pulseaudio"},
    {"autoaudiosrc", "gstreamer1.0-plugins-good"},
    {"ximagesrc", "gstreamer1.0-plugins-good"},
    {"v4l2src", "gstreamer1.0-plugins-good"},
    {"wavparse", "gstreamer1.0-plugins-good"},
    {"flacdec", "gstreamer1.0-plugins-good"},
    {"mpg123audiodec", "gstreamer1.0-plugins-good"},
    {"udpsrc", "gstreamer1.0-plugins-good"},
    {"rtpbin", "gstreamer1.0-plugins-good"},
    {"rtspsrc", "gstreamer1.0-plugins-good"},
    {"souphttpsrc", "gstreamer1.0-plugins-good"},
    {"jpegdec", "gstreamer1.0-plugins-good"},
    {"srtsrc", "gstreamer1.0-plugins-bad"},
    {"x264enc", "gstreamer1.0-plugins-ugly"},
    {"avdec_h264", "gstreamer1.0-libav"},
    {"avdec_aac", "gstreamer1.0-libav"},
};

std::string text_of(const gchar* text) { return text != nullptr ? std::string(text) : std::string(); }

// The factory name of the element that posted a message ("pulsesrc"), or the object's name.
std::string source_of(GstMessage* message) {
  GstObject* source = GST_MESSAGE_SRC(message);
  if (source == nullptr) return {};
  if (GST_IS_ELEMENT(source)) {
    if (GstElementFactory* factory = gst_element_get_factory(GST_ELEMENT(source))) {
      return text_of(gst_plugin_feature_get_name(GST_PLUGIN_FEATURE(factory)));
    }
  }
  return text_of(GST_OBJECT_NAME(source));
}

StreamError::Kind kind_of(const GError* error, const std::string& debug) {
  if (error->domain == GST_RESOURCE_ERROR) {
    if (error->code == GST_RESOURCE_ERROR_NOT_FOUND) return StreamError::Kind::not_found;
    return StreamError::Kind::cannot_open;
  }
  if (error->domain == GST_CORE_ERROR && error->code == GST_CORE_ERROR_MISSING_PLUGIN) {
    return StreamError::Kind::missing_plugin;
  }
  if (debug.find("not-negotiated") != std::string::npos) return StreamError::Kind::negotiation;
  if (error->domain == GST_STREAM_ERROR) {
    switch (error->code) {
      case GST_STREAM_ERROR_TYPE_NOT_FOUND:
      case GST_STREAM_ERROR_WRONG_TYPE:
      case GST_STREAM_ERROR_DECODE:
      case GST_STREAM_ERROR_DEMUX:
      case GST_STREAM_ERROR_FORMAT:
        return StreamError::Kind::decode;
      case GST_STREAM_ERROR_CODEC_NOT_FOUND:
        return StreamError::Kind::missing_plugin;
      default:
        break;
    }
  }
  return StreamError::Kind::other;
}

MediaFormat format_of(GstCaps* caps) {
  MediaFormat format;
  if (caps == nullptr || gst_caps_get_size(caps) == 0) return format;
  gchar* text = gst_caps_to_string(caps);
  format.caps = text_of(text);
  g_free(text);
  const GstStructure* structure = gst_caps_get_structure(caps, 0);
  format.media = text_of(gst_structure_get_name(structure));
  format.format = text_of(gst_structure_get_string(structure, "format"));
  if (format.media == "audio/x-raw") {
    GstAudioInfo info;
    if (gst_audio_info_from_caps(&info, caps)) {
      format.kind = MediaFormat::Kind::audio;
      format.rate = GST_AUDIO_INFO_RATE(&info);
      format.channels = GST_AUDIO_INFO_CHANNELS(&info);
      format.interleaved = GST_AUDIO_INFO_LAYOUT(&info) == GST_AUDIO_LAYOUT_INTERLEAVED;
    }
  } else if (format.media == "video/x-raw") {
    GstVideoInfo info;
    if (gst_video_info_from_caps(&info, caps)) {
      format.kind = MediaFormat::Kind::video;
      format.width = GST_VIDEO_INFO_WIDTH(&info);
      format.height = GST_VIDEO_INFO_HEIGHT(&info);
      format.stride = GST_VIDEO_INFO_PLANE_STRIDE(&info, 0);
      format.channels = GST_VIDEO_INFO_N_PLANES(&info) == 1 ? GST_VIDEO_INFO_COMP_PSTRIDE(&info, 0) : 0;
      if (GST_VIDEO_INFO_FPS_D(&info) > 0) {
        format.fps = static_cast<double>(GST_VIDEO_INFO_FPS_N(&info)) / GST_VIDEO_INFO_FPS_D(&info);
      }
    }
  }
  return format;
}

// Parses a launch description; throws StreamError when it does not parse.
GstElement* parse(const std::string& description) {
  ensure_gstreamer();
  GstParseContext* context = gst_parse_context_new();
  GError* error = nullptr;
  GstElement* pipeline = gst_parse_launch_full(description.c_str(), context, GST_PARSE_FLAG_FATAL_ERRORS, &error);
  if (error != nullptr) {
    std::string message = text_of(error->message);
    const bool missing = error->domain == GST_PARSE_ERROR && error->code == GST_PARSE_ERROR_NO_SUCH_ELEMENT;
    g_error_free(error);
    std::string element;
    if (gchar** names = gst_parse_context_get_missing_elements(context)) {
      if (names[0] != nullptr) element = names[0];
      g_strfreev(names);
    }
    gst_parse_context_free(context);
    if (pipeline != nullptr) gst_object_unref(pipeline);
    if (missing && !element.empty()) {
      throw StreamError(StreamError::Kind::missing_element, element, missing_element_advice(element), message);
    }
    throw StreamError(StreamError::Kind::bad_description, element, "the launch description does not parse: " + message,
                      {});
  }
  gst_parse_context_free(context);
  return pipeline;
}

// The error an ERROR message reports; `missing_plugin` is what a missing-plugin message said before.
StreamError error_of(GstMessage* message, const std::string& missing_plugin) {
  GError* error = nullptr;
  gchar* debug = nullptr;
  gst_message_parse_error(message, &error, &debug);
  std::string debug_text = text_of(debug);
  std::string text = text_of(error->message);
  StreamError::Kind kind = kind_of(error, debug_text);
  g_error_free(error);
  g_free(debug);
  if (!missing_plugin.empty()) {
    kind = StreamError::Kind::missing_plugin;
    text += " GStreamer needs: " + missing_plugin;
  }
  return StreamError(kind, source_of(message), text, debug_text);
}

// Keeps a sample's buffer mapped for reading until the last tensor over it is gone.
struct MappedSample {
  GstSample* sample = nullptr;
  GstBuffer* buffer = nullptr;
  GstMapInfo map{};
  bool mapped = false;
  ~MappedSample() {
    if (mapped) gst_buffer_unmap(buffer, &map);
    if (sample != nullptr) gst_sample_unref(sample);
  }
};

}  // namespace

StreamError::StreamError(Kind kind, std::string element, std::string message, std::string debug)
    : std::runtime_error(message + (debug.empty() ? std::string() : " (" + debug + ")")),
      kind_(kind),
      element_(std::move(element)),
      message_(std::move(message)),
      debug_(std::move(debug)) {}
StreamError::~StreamError() = default;

std::string debian_package_of(const std::string& element) {
  for (const auto& entry : kPackages) {
    if (element == entry.element) return entry.package;
  }
  return {};
}

std::string missing_element_advice(const std::string& element) {
  const std::string package = debian_package_of(element);
  return "the GStreamer element '" + element + "' is not installed: " +
         (package.empty() ? std::string("it ships in one of gstreamer1.0-plugins-{base,good,bad,ugly} or "
                                        "gstreamer1.0-libav (`apt-file search` finds which)")
                          : "install the Debian package " + package + " (sudo apt-get install " + package + ")") +
         "; `gst-inspect-1.0 " + element + "` shows whether GStreamer finds it";
}

std::string quoted_value(const std::string& value) {
  std::string out = "\"";
  for (char c : value) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

void check_description(const std::string& description) { gst_object_unref(parse(description)); }

void ensure_gstreamer() {
  GError* error = nullptr;
  if (!gst_init_check(nullptr, nullptr, &error)) {
    std::string message = error != nullptr ? text_of(error->message) : "unknown reason";
    if (error != nullptr) g_error_free(error);
    throw std::runtime_error("GStreamer could not be initialised: " + message);
  }
}

MediaFormat parse_caps(const std::string& caps) {
  ensure_gstreamer();
  GstCaps* parsed = gst_caps_from_string(caps.c_str());
  if (parsed == nullptr) throw std::invalid_argument("'" + caps + "' is not GStreamer caps");
  MediaFormat format = format_of(parsed);
  gst_caps_unref(parsed);
  return format;
}

struct GstStream::State {
  GstElement* pipeline = nullptr;
  GstElement* sink = nullptr;
  GstBus* bus = nullptr;
  std::function<void(MediaSample&&)> callback;
  bool live = false;
  std::vector<std::string> warnings;
  bool eos = false;
  // The caps of the last sample and what they say: caps change rarely, samples often.
  std::mutex caps_mutex;
  GstCaps* last_caps = nullptr;
  MediaFormat last_format;

  ~State() {
    if (pipeline != nullptr) {
      gst_element_set_state(pipeline, GST_STATE_NULL);
      gst_object_unref(pipeline);
    }
    if (sink != nullptr) gst_object_unref(sink);
    if (bus != nullptr) gst_object_unref(bus);
    if (last_caps != nullptr) gst_caps_unref(last_caps);
  }

  MediaSample wrap(GstSample* sample) {
    auto mapped = std::make_shared<MappedSample>();
    mapped->sample = sample;
    mapped->buffer = gst_sample_get_buffer(sample);
    MediaSample out;
    if (mapped->buffer != nullptr) {
      mapped->mapped = gst_buffer_map(mapped->buffer, &mapped->map, GST_MAP_READ) != 0;
      if (mapped->mapped) {
        out.data = mapped->map.data;
        out.size = mapped->map.size;
      }
      if (GST_BUFFER_PTS_IS_VALID(mapped->buffer)) {
        out.pts_ns = static_cast<std::int64_t>(GST_BUFFER_PTS(mapped->buffer));
        // A live pipeline runs on the monotonic system clock: base time + running time is the
        // moment of capture on the clock Packet::timestamp_ns uses for live data.
        if (live) *out.pts_ns += static_cast<std::int64_t>(gst_element_get_base_time(pipeline));
      }
      out.discont = GST_BUFFER_FLAG_IS_SET(mapped->buffer, GST_BUFFER_FLAG_DISCONT);
    }
    GstCaps* caps = gst_sample_get_caps(sample);
    {
      std::lock_guard<std::mutex> lock(caps_mutex);
      if (caps != last_caps && (caps == nullptr || last_caps == nullptr || !gst_caps_is_equal(caps, last_caps))) {
        last_format = format_of(caps);
      }
      if (caps != last_caps) {
        if (last_caps != nullptr) gst_caps_unref(last_caps);
        last_caps = caps != nullptr ? gst_caps_ref(caps) : nullptr;
      }
      out.format = last_format;
    }
    out.owner = std::move(mapped);
    return out;
  }

  // Exceptions must not unwind through GStreamer's C code: the first one stops the stream and
  // is thrown again from the node's own thread.
  std::mutex error_mutex;
  std::exception_ptr callback_error;

  static GstFlowReturn on_new_sample(GstAppSink* sink, gpointer data) {
    auto* self = static_cast<State*>(data);
    GstSample* sample = gst_app_sink_pull_sample(sink);
    if (sample == nullptr) return GST_FLOW_EOS;
    try {
      self->callback(self->wrap(sample));
    } catch (...) {
      std::lock_guard<std::mutex> lock(self->error_mutex);
      if (!self->callback_error) self->callback_error = std::current_exception();
      return GST_FLOW_ERROR;
    }
    return GST_FLOW_OK;
  }

  void rethrow_callback_error() {
    std::lock_guard<std::mutex> lock(error_mutex);
    if (callback_error) std::rethrow_exception(std::exchange(callback_error, nullptr));
  }
};

GstStream::GstStream(Options options) : options_(std::move(options)), state_(std::make_unique<State>()) {}

GstStream::~GstStream() = default;

void GstStream::on_sample(std::function<void(MediaSample&&)> callback) { state_->callback = std::move(callback); }

void GstStream::start(std::chrono::milliseconds preroll) {
  ensure_gstreamer();
  GstElement* pipeline = parse(options_.description + " ! appsink name=" + kSinkName);
  if (!GST_IS_PIPELINE(pipeline)) {
    // A description of one element parses to that element; wrap it so it has a bus and a clock.
    GstElement* wrapper = gst_pipeline_new(nullptr);
    gst_bin_add(GST_BIN(wrapper), pipeline);
    pipeline = wrapper;
  }
  state_->pipeline = pipeline;
  state_->bus = gst_element_get_bus(pipeline);
  state_->sink = gst_bin_get_by_name(GST_BIN(pipeline), kSinkName);

  set_properties(options_.properties);

  // Elements may have queried their devices while the description was linked, before the
  // properties above were set; what they posted then is about the wrong device.
  gst_bus_set_flushing(state_->bus, TRUE);
  gst_bus_set_flushing(state_->bus, FALSE);

  GstAppSink* sink = GST_APP_SINK(state_->sink);
  if (!options_.caps.empty()) {
    GstCaps* caps = gst_caps_from_string(options_.caps.c_str());
    if (caps == nullptr) {
      throw StreamError(StreamError::Kind::bad_description, kSinkName, "'" + options_.caps + "' is not GStreamer caps",
                        {});
    }
    gst_app_sink_set_caps(sink, caps);
    gst_caps_unref(caps);
  }
  // Samples are handed on as they come: the graph, not the clock, sets the pace of a file.
  g_object_set(G_OBJECT(sink), "sync", FALSE, nullptr);
  if (options_.live) {
    // Devices bring clocks of their own (pulsesrc); the system clock (monotonic unless an
    // application changed it) makes the timestamps of every live source comparable with each
    // other and with monotonic_ns().
    GstClock* clock = gst_system_clock_obtain();
    gst_pipeline_use_clock(GST_PIPELINE(pipeline), clock);
    gst_object_unref(clock);
    state_->live = true;
    GstAppSinkCallbacks callbacks{};
    callbacks.new_sample = &State::on_new_sample;
    gst_app_sink_set_callbacks(sink, &callbacks, state_.get(), nullptr);
  } else {
    gst_app_sink_set_max_buffers(sink, static_cast<guint>(options_.max_buffers));
    gst_app_sink_set_drop(sink, FALSE);
  }

  play(preroll);
}

void GstStream::set_properties(const std::vector<Options::Property>& properties) {
  for (const auto& property : properties) {
    GstElement* element = gst_bin_get_by_name(GST_BIN(state_->pipeline), property.element.c_str());
    if (element == nullptr) {
      throw StreamError(StreamError::Kind::bad_description, property.element,
                        "no element named '" + property.element + "' in the pipeline", {});
    }
    gst_util_set_object_arg(G_OBJECT(element), property.name.c_str(), property.value.c_str());
    gst_object_unref(element);
  }
}

void GstStream::play(std::chrono::milliseconds preroll) {
  GstElement* pipeline = state_->pipeline;
  const GstStateChangeReturn changed = gst_element_set_state(pipeline, GST_STATE_PLAYING);
  if (changed == GST_STATE_CHANGE_FAILURE) {
    check_bus(GST_SECOND);
    throw StreamError(StreamError::Kind::other, {}, "the pipeline failed to start, and GStreamer said nothing why", {});
  }
  if (changed == GST_STATE_CHANGE_ASYNC && !options_.live) {
    const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(preroll).count();
    if (gst_element_get_state(pipeline, nullptr, nullptr, static_cast<GstClockTime>(ns)) == GST_STATE_CHANGE_FAILURE) {
      check_bus(GST_SECOND);
      throw StreamError(StreamError::Kind::other, {}, "the pipeline failed to start, and GStreamer said nothing why",
                        {});
    }
  }
  check_bus(0);
}

void GstStream::check_bus(std::int64_t timeout_ns) {
  state_->rethrow_callback_error();
  if (state_->bus == nullptr) return;
  auto types =
      static_cast<GstMessageType>(GST_MESSAGE_ERROR | GST_MESSAGE_EOS | GST_MESSAGE_WARNING | GST_MESSAGE_ELEMENT);
  std::string missing_plugin;
  GstClockTime wait = static_cast<GstClockTime>(timeout_ns);
  while (GstMessage* message = gst_bus_timed_pop_filtered(state_->bus, wait, types)) {
    wait = 0;
    switch (GST_MESSAGE_TYPE(message)) {
      case GST_MESSAGE_EOS:
        state_->eos = true;
        break;
      case GST_MESSAGE_ELEMENT:
        if (gst_is_missing_plugin_message(message)) {
          gchar* description = gst_missing_plugin_message_get_description(message);
          missing_plugin = text_of(description);
          g_free(description);
        }
        break;
      case GST_MESSAGE_WARNING: {
        GError* error = nullptr;
        gchar* debug = nullptr;
        gst_message_parse_warning(message, &error, &debug);
        state_->warnings.push_back(source_of(message) + ": " + text_of(error->message));
        g_error_free(error);
        g_free(debug);
        break;
      }
      case GST_MESSAGE_ERROR: {
        StreamError error = error_of(message, missing_plugin);
        gst_message_unref(message);
        state_->rethrow_callback_error();  // the cause of a stream stopped by the callback
        throw error;
      }
      default:
        break;
    }
    gst_message_unref(message);
  }
}

std::optional<MediaSample> GstStream::pull(std::chrono::milliseconds timeout,
                                           const std::function<bool()>& keep_waiting) {
  GstAppSink* sink = GST_APP_SINK(state_->sink);
  const auto ns = static_cast<GstClockTime>(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count());
  for (;;) {
    check_bus(0);
    if (GstSample* sample = gst_app_sink_try_pull_sample(sink, ns)) return state_->wrap(sample);
    if (gst_app_sink_is_eos(sink)) {
      check_bus(0);  // an error that ended the stream is reported, not taken for its end
      return std::nullopt;
    }
    if (keep_waiting && !keep_waiting()) {
      stopped_ = true;
      return std::nullopt;
    }
  }
}

bool GstStream::wait(std::chrono::milliseconds timeout) {
  check_bus(std::chrono::duration_cast<std::chrono::nanoseconds>(timeout).count());
  return !state_->eos;
}

void GstStream::stop() {
  if (state_->pipeline != nullptr) gst_element_set_state(state_->pipeline, GST_STATE_NULL);
}

std::string GstStream::property(const std::string& element, const std::string& name) const {
  if (state_->pipeline == nullptr) return {};
  GstElement* found = gst_bin_get_by_name(GST_BIN(state_->pipeline), element.c_str());
  if (found == nullptr) return {};
  std::string text;
  if (GParamSpec* spec = g_object_class_find_property(G_OBJECT_GET_CLASS(found), name.c_str())) {
    GValue value = G_VALUE_INIT;
    g_value_init(&value, spec->value_type);
    g_object_get_property(G_OBJECT(found), name.c_str(), &value);
    if (G_VALUE_HOLDS_STRING(&value)) {
      text = text_of(g_value_get_string(&value));
    } else if (gchar* contents = gst_value_serialize(&value)) {
      text = contents;
      g_free(contents);
    }
    g_value_unset(&value);
  }
  gst_object_unref(found);
  return text;
}

std::vector<std::string> GstStream::take_warnings() { return std::exchange(state_->warnings, {}); }

}  // namespace tributary::sources

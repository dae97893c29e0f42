#include "screen/screen.hpp"

#include <cmath>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "gstreamer/stream.hpp"
#include "gstreamer/tensors.hpp"
#include "screen/x_connection.hpp"

namespace tributary::sources {

namespace {
constexpr auto kPollSlice = std::chrono::milliseconds(50);  // a stop request is seen within this

// Captures whose X connection broke: their streaming thread is held inside Xlib for good, so
// their pipelines can be neither stopped nor freed, not even when the process exits (freeing one
// waits for its thread). Kept here, reachable and never destroyed.
std::mutex abandoned_mutex;
std::vector<std::unique_ptr<GstStream>>& abandoned() {
  static auto* streams = new std::vector<std::unique_ptr<GstStream>>();
  return *streams;
}
}  // namespace

Screen::Screen() = default;
Screen::~Screen() = default;

void Screen::declare(NodeSpec& spec) {
  spec.summary("the X11 screen or a region of it as u8 video frames, captured by ximagesrc and scaled by GStreamer");
  spec.output(kOut);
  spec.source(SourceMode::live);
  spec.param<std::string>("display", "", "the X display, e.g. \":0\"; empty for $DISPLAY");
  spec.param<std::int64_t>("x", 0, "left edge of the captured region, in screen pixels").min(0);
  spec.param<std::int64_t>("y", 0, "top edge of the captured region, in screen pixels").min(0);
  spec.param<std::int64_t>("width", 0, "width of the captured region; 0 = to the right edge of the screen").min(0);
  spec.param<std::int64_t>("height", 0, "height of the captured region; 0 = to the bottom of the screen").min(0);
  spec.param<double>("fps", 10.0, "frames per second").range(0.01, 240.0);
  spec.param<std::int64_t>("out_width", 0, "width of the emitted frames, scaled by GStreamer; 0 = as captured")
      .range(0, 16384);
  spec.param<std::int64_t>("out_height", 0, "height of the emitted frames, scaled by GStreamer; 0 = as captured")
      .range(0, 16384);
  spec.param<std::string>("format", "rgb", "pixel format: rgb (3 channels) or gray (1 channel)")
      .choices({"rgb", "gray"});
  spec.param<bool>("reconnect", false,
                   "when the X server goes away (it quit, was killed or restarted), wait for it with backoff and "
                   "capture again instead of failing the run; counted in capture/reconnects, the time without it in "
                   "capture/lost_s");
  spec.example(R"(# A virtual screen (Xvfb :99 -screen 0 1280x720x24 &) at 5 frames a second, scaled to 320 x 180
# gray, its statistics (frame_stats: mean, std, min, max, motion) in a JSON Lines file; Ctrl-C
# stops it.
[pipeline]
name  = "screen-stats"
links = [ "screen -> stats", "stats -> export" ]

[nodes.screen]
plugin     = "screen"
display    = ":99"
fps        = 5
out_width  = 320
out_height = 180
format     = "gray"

[nodes.stats]
plugin = "frame_stats"

[nodes.export]
plugin = "jsonl"
path   = "${RUN_DIR}/stats.jsonl")");
}

void Screen::configure(const Params& params) {
  display_ = params.get<std::string>("display");
  x_ = params.get<std::int64_t>("x");
  y_ = params.get<std::int64_t>("y");
  width_ = params.get<std::int64_t>("width");
  height_ = params.get<std::int64_t>("height");
  fps_ = params.get<double>("fps");
  out_width_ = params.get<std::int64_t>("out_width");
  out_height_ = params.get<std::int64_t>("out_height");
  gray_ = params.get<std::string>("format") == "gray";
  reconnect_ = params.get<bool>("reconnect");
  if ((out_width_ == 0) != (out_height_ == 0)) {
    throw ParamError(out_width_ == 0 ? "out_width" : "out_height",
                     "set both 'out_width' and 'out_height' to scale the frames, or neither");
  }
}

SourceMode Screen::source_mode(SourceMode declared) const {
  (void)declared;
  return SourceMode::live;
}

std::string Screen::display_name() const {
  if (!display_.empty()) return display_;
  const char* env = std::getenv("DISPLAY");
  return env != nullptr ? env : "";
}

void Screen::start() {
  sequence_ = 0;
  if (display_name().empty()) {
    throw std::runtime_error(
        "no X display to capture: set 'display' (e.g. \":0\") or the DISPLAY environment variable; for a virtual "
        "screen start `Xvfb :99 -screen 0 1280x720x24 &` and use display = \":99\"");
  }
  x11::guard_connections();
  breaks_seen_ = x11::broken(display_name());
  reconnector_ = reconnect_
                     ? std::make_unique<Reconnector>(context(), "capture of display " + display_name(), "the display")
                     : nullptr;
  try {
    open();
  } catch (const StreamError& e) {
    if (!reconnector_) explain(e);
    lose_stream(e.what());
  }
}

void Screen::open() {
  GstStream::Options options;
  options.live = true;
  // ximagesrc opens its display as soon as it is linked: the name goes into the description.
  options.description = "ximagesrc name=src display-name=" + quoted_value(display_name()) +
                        " use-damage=false show-pointer=false ! videoconvert ! videoscale";
  options.properties.push_back({"src", "startx", std::to_string(x_)});
  options.properties.push_back({"src", "starty", std::to_string(y_)});
  // ximagesrc's end corner is inclusive; 0 means the screen's edge.
  if (width_ > 0) options.properties.push_back({"src", "endx", std::to_string(x_ + width_ - 1)});
  if (height_ > 0) options.properties.push_back({"src", "endy", std::to_string(y_ + height_ - 1)});
  const auto fps_milli = static_cast<std::int64_t>(std::llround(fps_ * 1000.0));
  options.caps = concat("video/x-raw,format=", gray_ ? "GRAY8" : "RGB", ",framerate=", fps_milli, "/1000");
  if (out_width_ > 0) options.caps += concat(",width=", out_width_, ",height=", out_height_, ",pixel-aspect-ratio=1/1");
  auto stream = std::make_unique<GstStream>(std::move(options));
  Emitter& out = context().emitter();
  stream->on_sample([this, &out](MediaSample&& sample) { take(std::move(sample), out); });
  stream->start();
  stream_ = std::move(stream);
  log().info("capturing display ", display_name(), " at ", fps_, " fps",
             width_ > 0 || height_ > 0 || x_ > 0 || y_ > 0 ? concat(", region ", x_, ",", y_, " ", width_, "x", height_)
                                                           : std::string());
}

bool Screen::produce(Emitter& out) {
  (void)out;
  try {
    if (!stream_) {
      if (!reconnector_) {
        start();
      } else {
        breaks_seen_ = x11::broken(display_name());
        open();
        reconnector_->back();
      }
    }
    const bool more = stream_->wait(kPollSlice);
    for (const auto& warning : stream_->take_warnings()) log().warn("GStreamer: ", warning);
    if (x11::broken(display_name()) != breaks_seen_) {
      const std::string why = "the X server of display " + display_name() + " went away (its connection broke)";
      if (!reconnector_) {
        lose_stream(why);
        throw std::runtime_error("capture of display " + display_name() + " ended: " + why +
                                 "; set reconnect = true to wait for it to come back");
      }
      return lose_stream(why);
    }
    return more;
  } catch (const StreamError& e) {
    if (!reconnector_) explain(e);
    return lose_stream(e.what());
  }
}

// Leaves the capture: one whose X connection broke is kept aside for good (its streaming thread
// cannot be joined), any other is stopped. With reconnect, waits out the backoff.
bool Screen::lose_stream(const std::string& why) {
  end_stream();
  breaks_seen_ = x11::broken(display_name());
  return reconnector_ && reconnector_->wait_after(why);
}

void Screen::end_stream() {
  if (stream_ && x11::broken(display_name()) != breaks_seen_) {
    std::lock_guard<std::mutex> lock(abandoned_mutex);
    abandoned().push_back(std::move(stream_));
  }
  if (stream_) stream_->stop();
  stream_.reset();
}

void Screen::take(MediaSample&& sample, Emitter& out) {
  auto packet = make_packet(PayloadKind::video);
  packet->stream = context().node_name();
  packet->sequence = sequence_++;
  packet->timestamp_ns = sample.pts_ns.value_or(0);
  packet->tensors.push_back(video_tensor(sample));
  packet->set_attribute("width", std::int64_t{sample.format.width});
  packet->set_attribute("height", std::int64_t{sample.format.height});
  packet->set_attribute("channels", std::int64_t{sample.format.channels});
  packet->set_attribute("format", gray_ ? "gray" : "rgb");
  out.emit(kOut, std::move(packet));
}

void Screen::flush(Emitter& out) {
  (void)out;
  if (stream_ && x11::broken(display_name()) == breaks_seen_) stream_->stop();  // no frame arrives after flush
}

void Screen::stop() { end_stream(); }

void Screen::explain(const std::exception& error) const {
  const auto* e = dynamic_cast<const StreamError*>(&error);
  if (e == nullptr) throw std::runtime_error(error.what());
  if (e->kind() == StreamError::Kind::missing_element) throw std::runtime_error(e->gst_message());
  if (e->kind() == StreamError::Kind::not_found || e->kind() == StreamError::Kind::cannot_open) {
    throw std::runtime_error("cannot open the X display '" + display_name() + "' (GStreamer: " + e->gst_message() +
                             "): is an X server running there? `xdpyinfo -display " + display_name() +
                             "` checks; `Xvfb " + display_name() + " -screen 0 1280x720x24 &` starts a virtual one");
  }
  if (e->kind() == StreamError::Kind::negotiation) {
    throw std::runtime_error("the screen cannot be captured as asked (region " + std::to_string(x_) + "," +
                             std::to_string(y_) + " " + std::to_string(width_) + "x" + std::to_string(height_) +
                             " on display '" + display_name() +
                             "'): is the region inside the screen? (GStreamer: " + e->what() + ")");
  }
  throw std::runtime_error("capture of display '" + display_name() + "' failed in " +
                           (e->element().empty() ? std::string("GStreamer") : e->element()) + ": " + e->what());
}

}  // namespace tributary::sources

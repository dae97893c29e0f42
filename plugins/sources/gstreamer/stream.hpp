#pragma once
// A GStreamer pipeline that ends in an appsink, seen through plain C++ types: the source nodes
// (audio, gst, screen, audio_dataset) build a launch description, and read what reaches the sink
// as samples whose memory stays owned by GStreamer until the last tensor over it is gone.
//
//   GstStream stream({"audiotestsrc num-buffers=10 ! audioconvert", "audio/x-raw,format=F32LE", false});
//   stream.start();
//   while (auto sample = stream.pull(std::chrono::milliseconds(50))) { ... }
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

namespace tributary::sources {

// What the caps of a sample say, for the layouts the nodes map to tensors.
struct MediaFormat {
  enum class Kind { audio, video, other };
  Kind kind = Kind::other;
  std::string media;   // "audio/x-raw", "video/x-raw", "application/x-rtp"...
  std::string format;  // "F32LE", "S16LE", "RGB", "GRAY8"...
  std::string caps;    // the whole caps as text
  int rate = 0;        // audio
  int channels = 0;    // audio: interleaved channels; video: bytes per pixel
  bool interleaved = true;
  int width = 0;   // video
  int height = 0;  // video
  int stride = 0;  // video: bytes per row, padding included
  double fps = 0.0;
};

// One buffer that reached the sink. `owner` keeps the sample mapped; `data` is valid while it lives.
struct MediaSample {
  std::shared_ptr<void> owner;
  void* data = nullptr;
  std::size_t size = 0;
  // Presentation time: from the start of the stream for pull pipelines; for live ones the
  // monotonic clock time of capture (the clock of monotonic_ns()).
  std::optional<std::int64_t> pts_ns;
  bool discont = false;  // the source lost data before this buffer
  MediaFormat format;
};

// A failure GStreamer reported, sorted so each node can say what to do about it.
class StreamError : public std::runtime_error {
 public:
  enum class Kind {
    missing_element,  // an element is not installed; `element` names it
    bad_description,  // the launch description does not parse
    not_found,        // a file, device or display the pipeline opens does not exist
    cannot_open,      // it exists but cannot be opened or read
    decode,           // the data cannot be decoded (corrupt, or no decoder installed)
    missing_plugin,   // decodebin needs a plugin that is not installed
    negotiation,      // the elements do not agree on a format
    other,
  };
  StreamError(Kind kind, std::string element, std::string message, std::string debug);
  ~StreamError() override;
  Kind kind() const noexcept { return kind_; }
  const std::string& element() const noexcept { return element_; }  // factory or element name
  const std::string& gst_message() const noexcept { return message_; }
  const std::string& debug() const noexcept { return debug_; }

 private:
  Kind kind_;
  std::string element_;
  std::string message_;
  std::string debug_;
};

// The Debian package that ships a GStreamer element, or an empty string when it is not known.
std::string debian_package_of(const std::string& element);
// "the GStreamer element 'x' is not installed: ..." with the package and how to check.
std::string missing_element_advice(const std::string& element);

// A property value written into a launch description: quoted, with quotes and backslashes escaped.
std::string quoted_value(const std::string& value);

// Parses a launch description and frees what it made: throws StreamError (missing_element or
// bad_description) when it does not parse.
void check_description(const std::string& description);

// Initialises GStreamer once (it is idempotent); throws std::runtime_error when it cannot.
void ensure_gstreamer();

class GstStream {
 public:
  struct Options {
    std::string description;  // a launch description; the appsink is linked after it
    std::string caps;         // caps the appsink accepts; empty for any
    bool live = false;        // true: samples go to on_sample from the streaming thread
    int max_buffers = 4;      // pull mode: buffers the sink holds before upstream waits
    // Properties set on named elements after parsing, so paths and names need no quoting:
    // {"src", "location", "/data/a b.wav"}. An element that opens its device while the
    // description is linked (ximagesrc) needs its device in the description instead.
    struct Property {
      std::string element;
      std::string name;
      std::string value;
    };
    std::vector<Property> properties;
  };

  explicit GstStream(Options options);
  ~GstStream();
  GstStream(const GstStream&) = delete;
  GstStream& operator=(const GstStream&) = delete;

  // Live mode: called from GStreamer's streaming thread for every sample; set before start().
  void on_sample(std::function<void(MediaSample&&)> callback);

  // Parses the description, links the sink and starts playing; waits up to `preroll` for a
  // pull pipeline to preroll. Throws StreamError.
  void start(std::chrono::milliseconds preroll = std::chrono::seconds(10));
  // Pull mode: the next sample, or nullopt at end of stream. Waits at most `timeout` per try and
  // gives up early when `keep_waiting` returns false (then returns nullopt with stopped() true).
  // Throws StreamError for an error on the bus.
  std::optional<MediaSample> pull(std::chrono::milliseconds timeout, const std::function<bool()>& keep_waiting);
  // Live mode: waits up to `timeout` for bus messages; false at end of stream; throws StreamError.
  bool wait(std::chrono::milliseconds timeout);
  // Stops the pipeline and frees it; safe to call twice.
  void stop();

  // A property of a named element as text ("" when the element or property does not exist).
  std::string property(const std::string& element, const std::string& name) const;

  bool stopped() const noexcept { return stopped_; }
  // Warnings GStreamer posted since the last call (e.g. a live source that lost data).
  std::vector<std::string> take_warnings();

 private:
  struct State;
  void check_bus(std::int64_t timeout_ns);
  void play(std::chrono::milliseconds preroll);
  void set_properties(const std::vector<Options::Property>& properties);
  Options options_;
  std::unique_ptr<State> state_;
  bool stopped_ = false;
};

// Reads caps text into a MediaFormat (for tests and for caps given as parameters).
// Throws std::invalid_argument when the text is not caps.
MediaFormat parse_caps(const std::string& caps);

}  // namespace tributary::sources

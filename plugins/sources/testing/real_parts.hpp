#pragma once
// The real parts the source tests run against: speech spoken by espeak-ng, files made by sox, a
// PulseAudio server with a null sink, an X server (Xvfb). Each test starts and stops its own
// servers in directories of its own, so tests can run side by side. A program the setup script
// installs that is missing fails the test with what to install; nothing passes silently.
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tributary/testing.hpp"

namespace tributary::sources::testing {

namespace fs = std::filesystem;

// Runs a source to its end (start, produce until false, flush, stop); returns what it emitted.
template <typename Source>
std::vector<PacketPtr> run_to_end(const std::vector<TableEntry>& params) {
  auto h = NodeHarness::of<Source>(params);
  h.start();
  h.drain();
  h.flush();
  h.stop();
  return h.output("out");
}

// The message of what running a source to its end throws, or "(no error)".
template <typename Source>
std::string error_of(const std::vector<TableEntry>& params) {
  try {
    run_to_end<Source>(params);
  } catch (const std::exception& e) {
    return e.what();
  }
  return "(no error)";
}

inline std::string find_program(const std::string& name) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path != nullptr ? path : "/usr/bin:/bin");
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    const fs::path candidate = fs::path(dir) / name;
    if (::access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return {};
}

// The program's full path; fails the test, naming the package, when it is not installed.
inline std::string require_program(const std::string& name, const std::string& package) {
  const std::string found = find_program(name);
  if (found.empty()) FAIL(name << " is not installed: run scripts/setup.sh (Debian package " << package << ")");
  return found;
}

inline std::string quote(const std::string& text) {
  std::string out = "'";
  for (char c : text) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Runs a shell command; returns its standard output, fails the test when it exits non-zero.
inline std::string shell(const std::string& command) {
  std::string out;
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  REQUIRE(pipe != nullptr);
  char buffer[4096];
  while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
  const int status = ::pclose(pipe);
  INFO("command: " << command << "\noutput: " << out);
  REQUIRE(status == 0);
  return out;
}

class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    path_ = fs::temp_directory_path() /
            ("tributary-sources-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    fs::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;

  std::string file(const std::string& name) const { return (path_ / name).string(); }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
};

// `word` spoken by espeak-ng into a WAV file (22050 Hz, mono, 16-bit), returned as its path.
inline std::string spoken_wav(const ScratchDir& dir, const std::string& word, const std::string& name) {
  const std::string espeak = require_program("espeak-ng", "espeak-ng");
  const std::string out = dir.file(name);
  shell(quote(espeak) + " -w " + quote(out) + " " + quote(word));
  return out;
}

#ifdef TRIBUTARY_SOURCE_DIR
// A small run of scripts/make-kws-dataset.sh into `out`: one folder per class.
inline void make_kws_dataset(const std::string& out, int per_class, const std::string& keywords, int seed = 1) {
  require_program("espeak-ng", "espeak-ng");
  require_program("sox", "sox");
  shell(quote(std::string(TRIBUTARY_SOURCE_DIR) + "/scripts/make-kws-dataset.sh") + " " + quote(out) + " --per-class " +
        std::to_string(per_class) + " --keywords " + quote(keywords) + " --seed " + std::to_string(seed));
}
#endif

// Converts an audio file with sox ("sox IN [options] OUT"), e.g. to FLAC at 44.1 kHz stereo.
inline std::string sox_convert(const std::string& in, const std::string& out, const std::string& options) {
  const std::string sox = require_program("sox", "sox");
  shell(quote(sox) + " " + quote(in) + " " + options + " " + quote(out));
  return out;
}

inline double sox_duration_s(const std::string& file) {
  const std::string soxi = require_program("soxi", "sox");
  return std::stod(shell(quote(soxi) + " -D " + quote(file)));
}

// A child process of the test, stopped with SIGTERM when this goes out of scope.
class Child {
 public:
  Child() = default;
  Child(const std::vector<std::string>& argv, const std::vector<std::pair<std::string, std::string>>& env,
        const std::string& log) {
    pid_ = ::fork();
    REQUIRE(pid_ >= 0);
    if (pid_ == 0) {
      for (const auto& [k, v] : env) ::setenv(k.c_str(), v.c_str(), 1);
      std::FILE* out = std::fopen(log.c_str(), "w");
      if (out != nullptr) {
        ::dup2(::fileno(out), 1);
        ::dup2(::fileno(out), 2);
      }
      std::vector<char*> args;
      for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
      args.push_back(nullptr);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
  }
  Child(Child&& other) noexcept : pid_(std::exchange(other.pid_, -1)) {}
  Child& operator=(Child&& other) noexcept {
    end();
    pid_ = std::exchange(other.pid_, -1);
    return *this;
  }
  ~Child() { end(); }
  bool running() {
    if (pid_ <= 0) return false;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) == 0) return true;
    pid_ = -1;  // reaped: never signal the number again
    return false;
  }
  void end() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    int status = 0;
    ::waitpid(pid_, &status, 0);
    pid_ = -1;
  }

 private:
  pid_t pid_ = -1;
};

inline std::string read_text(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// A PulseAudio server of the test's own with a null sink: what is played into `sink` comes back
// on the source `monitor`. PULSE_SERVER points this process (and its children) at it.
class PulseServer {
 public:
  static constexpr const char* kSink = "tributary_null";
  PulseServer() {
    const std::string pulseaudio = require_program("pulseaudio", "pulseaudio");
    pactl_ = require_program("pactl", "pulseaudio-utils");
    socket_ = dir_.file("native");
    const std::string home = dir_.file("home");
    fs::create_directories(home);
    server_ = Child(
        {pulseaudio, "-n", "--daemonize=no", "--exit-idle-time=-1", "--use-pid-file=no", "--disallow-module-loading=no",
         "--log-target=stderr", "--load=module-native-protocol-unix socket=" + socket_ + " auth-anonymous=1",
         std::string("--load=module-null-sink sink_name=") + kSink + " rate=48000 channels=1"},
        {{"HOME", home}, {"XDG_RUNTIME_DIR", dir_.path().string()}, {"XDG_CONFIG_HOME", home}},
        dir_.file("pulseaudio.log"));
    ::setenv("PULSE_SERVER", ("unix:" + socket_).c_str(), 1);
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!fs::exists(socket_) || !sink_ready()) {
      if (!server_.running() || std::chrono::steady_clock::now() > deadline) {
        FAIL("the PulseAudio server did not start: " << read_text(dir_.file("pulseaudio.log")));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
  }
  ~PulseServer() {
    server_.end();
    ::unsetenv("PULSE_SERVER");
  }
  std::string monitor() const { return std::string(kSink) + ".monitor"; }
  std::string pactl(const std::string& args) const { return shell(quote(pactl_) + " " + args); }
  // Plays a sine tone into a sink until the returned child is stopped; returns once the sink
  // runs (an idle null sink hands its monitor data in bursts of seconds).
  Child play_tone(double hz, const std::string& sink = kSink) const {
    const std::string gst = require_program("gst-launch-1.0", "gstreamer1.0-tools");
    Child child({gst, "-q", "audiotestsrc", "wave=sine", "freq=" + std::to_string(hz), "volume=0.5", "is-live=true",
                 "!", "audio/x-raw,rate=48000,channels=1", "!", "pulsesink", "device=" + sink},
                {{"PULSE_SERVER", "unix:" + socket_}}, dir_.file("tone.log"));
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    for (;;) {
      const std::string sinks = pactl("list short sinks");
      const auto line = sinks.find(sink + "\t");
      if (line != std::string::npos && sinks.find("RUNNING", line) < sinks.find('\n', line)) break;
      if (!child.running() || std::chrono::steady_clock::now() > deadline) {
        FAIL("the tone did not start playing into " << sink << ": " << read_text(dir_.file("tone.log")));
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    // The sink's latency settles once the stream has played for a moment.
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    return child;
  }

 private:
  bool sink_ready() const {
    const std::string command = quote(pactl_) + " -s unix:" + socket_ + " list short sinks 2>/dev/null";
    FILE* pipe = ::popen(command.c_str(), "r");
    if (pipe == nullptr) return false;
    std::string out;
    char buffer[1024];
    while (std::size_t n = std::fread(buffer, 1, sizeof buffer, pipe)) out.append(buffer, n);
    return ::pclose(pipe) == 0 && out.find(kSink) != std::string::npos;
  }

  ScratchDir dir_;
  std::string pactl_;
  std::string socket_;
  Child server_;
};

// An X server of the test's own (Xvfb) on a display no one else uses: Xvfb picks a free one
// itself and names it once it takes connections (-displayfd), so tests side by side never pick
// the same one between a look at the lock files and the server's start.
class XServer {
 public:
  // `display` (":N"): that display, as a server started again where one was ended takes it.
  XServer(int width, int height, const std::string& display = {}) {
    const std::string xvfb = require_program("Xvfb", "xvfb");
    int ready[2];
    REQUIRE(::pipe(ready) == 0);
    std::vector<std::string> argv{xvfb};
    if (!display.empty()) argv.push_back(display);
    for (const std::string& a : {std::string("-displayfd"), std::to_string(ready[1]), std::string("-screen"),
                                 std::string("0"), std::to_string(width) + "x" + std::to_string(height) + "x24",
                                 std::string("-nolisten"), std::string("tcp"), std::string("-noreset")})
      argv.push_back(a);
    server_ = Child(argv, {}, dir_.file("xvfb.log"));
    ::close(ready[1]);
    std::string number;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    while (number.find('\n') == std::string::npos && std::chrono::steady_clock::now() < deadline) {
      pollfd fd{ready[0], POLLIN, 0};
      if (::poll(&fd, 1, 100) <= 0) continue;
      char buffer[16];
      const ssize_t n = ::read(ready[0], buffer, sizeof buffer);
      if (n <= 0) break;  // Xvfb ended without naming a display
      number.append(buffer, static_cast<std::size_t>(n));
    }
    ::close(ready[0]);
    if (number.find('\n') == std::string::npos || !server_.running()) {
      FAIL("Xvfb did not start: " << read_text(dir_.file("xvfb.log")));
    }
    display_ = ":" + number.substr(0, number.find('\n'));
  }
  const std::string& display() const { return display_; }
  // Ends the server (SIGTERM), as a user quitting it would.
  void stop() { server_.end(); }
  // Tiles the root window with an XBM bitmap (rows of '1' and '0' characters) in two colours.
  void draw_tiles(const std::vector<std::string>& rows, const std::string& fg, const std::string& bg) const {
    const std::string xsetroot = require_program("xsetroot", "x11-xserver-utils");
    const std::size_t width = rows.at(0).size();
    std::ostringstream xbm;
    // xsetroot reads the bits from the lines after the opening brace, as bitmap(1) writes them.
    xbm << "#define tile_width " << width << "\n#define tile_height " << rows.size()
        << "\nstatic unsigned char tile_bits[] = {\n   ";
    bool first = true;
    for (const auto& row : rows) {
      for (std::size_t byte = 0; byte < (width + 7) / 8; ++byte) {
        unsigned value = 0;
        for (std::size_t bit = 0; bit < 8 && byte * 8 + bit < width; ++bit) {
          if (row[byte * 8 + bit] == '1') value |= 1u << bit;
        }
        xbm << (first ? "" : ", ") << "0x" << std::hex << std::setw(2) << std::setfill('0') << value << std::dec;
        first = false;
      }
    }
    xbm << "};\n";
    std::ofstream(dir_.file("tile.xbm")) << xbm.str();
    shell(quote(xsetroot) + " -display " + display_ + " -bitmap " + quote(dir_.file("tile.xbm")) + " -fg " + quote(fg) +
          " -bg " + quote(bg));
  }

 private:
  ScratchDir dir_;
  std::string display_;
  Child server_;
};

}  // namespace tributary::sources::testing

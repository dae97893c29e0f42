// The shipped source pipelines as a user runs them, on real devices: pipelines/mic-rms.toml on a
// PulseAudio server of the test's own whose null sink plays a known tone, and
// pipelines/screen-stats.toml on an Xvfb screen showing a known picture. The CLI runs each until
// the file it writes holds enough rows, then stops it with SIGINT as a user would.
#include <signal.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "process.hpp"
#include "testing/real_parts.hpp"

namespace fs = std::filesystem;
using tributary::sources::testing::PulseServer;
using tributary::sources::testing::read_text;
using tributary::sources::testing::ScratchDir;
using tributary::sources::testing::XServer;
using tributary::testing::ProcessOptions;
using tributary::testing::ProcessResult;
using tributary::testing::run_process;

namespace {

const std::string kCli = TRIBUTARY_CLI;
const fs::path kPipelines = fs::path(TRIBUTARY_SOURCE_DIR) / "pipelines";

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// Runs `tributary run PIPELINE --run-dir RUN ARGS...` and sends SIGINT once `enough` says the
// output so far is enough (checked on the file, not on a time); the run has two minutes.
ProcessResult run_until(const std::string& pipeline, const fs::path& run, const std::vector<std::string>& args,
                        const std::function<bool()>& enough) {
  std::vector<std::string> argv{kCli, "run", (kPipelines / pipeline).string(), "--run-dir", run.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions options;
  bool signalled = false;
  options.while_running = [&](pid_t pid, const ProcessResult&) {
    if (!signalled && enough()) {
      ::kill(pid, SIGINT);
      signalled = true;
    }
  };
  return run_process(argv, options);
}

}  // namespace

TEST_CASE("mic-rms writes the RMS level of a tone played into a PulseAudio null sink, 100 ms a row") {
  PulseServer pulse;
  const double amplitude = 0.5;  // play_tone's volume: a sine of peak 0.5, RMS 0.5 / sqrt(2)
  auto tone = pulse.play_tone(1000.0);
  ScratchDir dir;
  const fs::path run = dir.path() / "run";
  const fs::path csv = run / "rms.csv";
  const auto r = run_until("mic-rms.toml", run, {"--set", "mic.device=" + pulse.monitor()},
                           [&] { return lines_of(read_text(csv.string())).size() > 30; });
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  const auto rows = lines_of(read_text(csv.string()));
  REQUIRE(rows.size() > 30);
  CHECK(rows[0] == "stream,sequence,timestamp_ns,label,split,x0");

  std::vector<double> levels;
  std::vector<std::int64_t> times;
  for (std::size_t i = 1; i < rows.size(); ++i) {
    std::vector<std::string> fields;
    std::istringstream line(rows[i]);
    for (std::string field; std::getline(line, field, ',');) fields.push_back(field);
    INFO("row " << i << ": " << rows[i]);
    REQUIRE(fields.size() == 6);
    times.push_back(std::stoll(fields[2]));
    levels.push_back(std::stod(fields[5]));
  }
  // One row per 100 ms chunk, stamped with its capture time.
  for (std::size_t i = 1; i < times.size(); ++i) CHECK(times[i] - times[i - 1] == Approx(100e6).margin(15e6));
  // The first rows may hold the moment the capture started; past them, every row is the tone's.
  const double expected = amplitude / std::sqrt(2.0);
  std::vector<double> settled(levels.begin() + 5, levels.end());
  std::sort(settled.begin(), settled.end());
  const double median = settled[settled.size() / 2];
  INFO("median RMS " << median << ", lowest " << settled.front() << ", highest " << settled.back());
  CHECK(median == Approx(expected).epsilon(0.03));
  CHECK(settled.front() > expected * 0.9);
  CHECK(settled.back() < expected * 1.1);
}

TEST_CASE("screen-stats writes the statistics of a known picture on an Xvfb screen, frame by frame") {
  // Each row of the screen: 4 pixels of (200, 50, 20), 4 of (32, 64, 128), over and over; the
  // width is a multiple of 8, so each colour covers exactly half of the screen.
  XServer x(320, 240);
  x.draw_tiles({"11110000"}, "#c83214", "#204080");
  ScratchDir dir;
  const fs::path run = dir.path() / "run";
  const fs::path jsonl = run / "stats.jsonl";
  auto motion_points = [&] {
    std::size_t n = 0;
    for (const auto& line : lines_of(read_text(jsonl.string()))) n += line.find("\"motion\"") != std::string::npos;
    return n;
  };
  const auto r = run_until("screen-stats.toml", run, {"--set", "screen.display=" + x.display()},
                           [&] { return motion_points() >= 3; });
  INFO(r.all());
  REQUIRE(r.exit_code == 0);

  // step (the frame) -> name -> value
  std::map<std::int64_t, std::map<std::string, double>> frames;
  for (const auto& line : lines_of(read_text(jsonl.string()))) {
    const auto point = nlohmann::json::parse(line);
    CHECK(point["node"] == "stats");
    CHECK(point["epoch"] == -1);
    frames[point["step"].get<std::int64_t>()][point["name"].get<std::string>()] = point["value"].get<double>();
  }
  REQUIRE(frames.size() >= 4);
  const std::map<std::string, double> picture{
      {"r/mean", 116.0}, {"r/std", 84.0}, {"r/min", 32.0}, {"r/max", 200.0},  //
      {"g/mean", 57.0},  {"g/std", 7.0},  {"g/min", 50.0}, {"g/max", 64.0},   //
      {"b/mean", 74.0},  {"b/std", 54.0}, {"b/min", 20.0}, {"b/max", 128.0},
  };
  bool first = true;
  for (const auto& [step, values] : frames) {
    INFO("frame " << step);
    CHECK(values.size() == picture.size() + (first ? 0 : 1));  // the first frame has no motion
    for (const auto& [name, expected] : picture) {
      INFO(name);
      REQUIRE(values.count(name) == 1);
      CHECK(values.at(name) == Approx(expected).margin(1e-9));
    }
    if (!first) CHECK(values.at("motion") == 0.0);  // a still picture
    first = false;
  }
}

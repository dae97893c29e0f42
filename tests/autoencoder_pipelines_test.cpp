// The trainer's online autoencoders as a user runs them through the CLI: a live synthetic tone,
// pipelines/mic_autoencoder.toml on a PulseAudio server of the test's own whose null sink plays a
// steady tone, pipelines/screen_autoencoder.toml on an Xvfb screen showing a still picture; and a
// torchscript model whose path is relative to the pipeline file. Each run goes until its metrics
// file holds enough steps (checked on the file, not on a time), then stops with SIGINT as a user
// would.
#include <signal.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <filesystem>
#include <fstream>
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

struct Point {
  std::string name;
  std::int64_t step = 0;
  double value = 0.0;
};

// The rows of a metrics.csv (time,node,name,step,epoch,value) named `name`.
std::vector<Point> points(const fs::path& csv, const std::string& name) {
  std::vector<Point> out;
  std::istringstream in(read_text(csv.string()));
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::vector<std::string> f;
    std::istringstream fields(line);
    for (std::string field; std::getline(fields, field, ',');) f.push_back(field);
    if (f.size() != 6 || f[2] != name) continue;
    out.push_back({f[2], std::stoll(f[3]), std::stod(f[5])});
  }
  return out;
}

std::int64_t last_step(const fs::path& csv) {
  const auto losses = points(csv, "train/loss");
  return losses.empty() ? 0 : losses.back().step;
}

// Runs `tributary run PIPELINE --run-dir RUN ARGS...`, sending SIGINT once `enough` holds.
ProcessResult run_until(const fs::path& pipeline, const fs::path& run, const std::vector<std::string>& args,
                        const std::function<bool()>& enough) {
  std::vector<std::string> argv{kCli, "run", pipeline.string(), "--run-dir", run.string()};
  argv.insert(argv.end(), args.begin(), args.end());
  ProcessOptions options;
  options.timeout = std::chrono::seconds(300);
  bool signalled = false;
  options.while_running = [&](pid_t pid, const ProcessResult&) {
    if (!signalled && enough()) {
      ::kill(pid, SIGINT);
      signalled = true;
    }
  };
  return run_process(argv, options);
}

// The mean of the first and of the last `n` windowed losses.
std::pair<double, double> first_and_last(const std::vector<Point>& losses, std::size_t n) {
  REQUIRE(losses.size() >= 2 * n);
  double first = 0.0, last = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    first += losses[i].value / static_cast<double>(n);
    last += losses[losses.size() - 1 - i].value / static_cast<double>(n);
  }
  return {first, last};
}

std::size_t checkpoints_in(const fs::path& dir) {
  std::size_t n = 0;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(dir, ec)) n += entry.path().extension() == ".pt";
  return n;
}

}  // namespace

TEST_CASE("an online autoencoder fed by a live synthetic tone through a lossy link: the loss falls") {
  ScratchDir dir;
  const fs::path pipeline = dir.path() / "online.toml";
  std::ofstream(pipeline) << R"([pipeline]
name  = "online-tone"
links = [ "tone -> ae", "ae.metrics -> log", "ae.checkpoint -> ckpt" ]

[nodes.tone]
plugin  = "synthetic"
signal  = "sine"
chunk   = 256
rate_hz = 100
live    = true
count   = 0

[nodes.ae]
plugin    = "trainer"
mode      = "online"
model     = { kind = "autoencoder", hidden = [64, 16] }
lr        = 0.003
batch     = 16
replay    = 256
log_every = 10

[nodes.log]
plugin = "csv"
path   = "${RUN_DIR}/metrics.csv"

[nodes.ckpt]
plugin = "checkpoint"
)";
  const fs::path run = dir.path() / "run";
  const fs::path csv = run / "metrics.csv";
  const auto r = run_until(pipeline, run, {}, [&] { return last_step(csv) >= 300; });
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  const auto [first, last] = first_and_last(points(csv, "train/loss"), 3);
  INFO("train/loss " << first << " -> " << last);
  CHECK(last < 0.2 * first);
  // The live source's link is lossy (drop_oldest): the source never waits for the trainer. The
  // stop wrote a last checkpoint.
  CHECK(checkpoints_in(run / "checkpoints") >= 1);
}

TEST_CASE("mic_autoencoder learns a steady tone played into a PulseAudio null sink: the loss falls") {
  PulseServer pulse;
  auto tone = pulse.play_tone(440.0);
  ScratchDir dir;
  const fs::path run = dir.path() / "run";
  const fs::path csv = run / "metrics.csv";
  const auto r = run_until(kPipelines / "mic_autoencoder.toml", run, {"--set", "mic.device=" + pulse.monitor()},
                           [&] { return last_step(csv) >= 200; });
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  const auto losses = points(csv, "train/loss");
  const auto [first, last] = first_and_last(losses, 3);
  INFO("train/loss " << first << " -> " << last << " over " << losses.back().step << " steps");
  CHECK(last < 0.5 * first);
  CHECK(points(csv, "train/accuracy").empty());
  CHECK(checkpoints_in(run / "checkpoints") >= 1);
}

TEST_CASE("screen_autoencoder learns a still picture on an Xvfb screen: the loss falls") {
  XServer x(320, 240);
  x.draw_tiles({"11110000", "00001111"}, "#c83214", "#204080");
  ScratchDir dir;
  const fs::path run = dir.path() / "run";
  const fs::path csv = run / "metrics.csv";
  const auto r = run_until(kPipelines / "screen_autoencoder.toml", run, {"--set", "screen.display=" + x.display()},
                           [&] { return last_step(csv) >= 200; });
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  const auto losses = points(csv, "train/loss");
  const auto [first, last] = first_and_last(losses, 3);
  INFO("train/loss " << first << " -> " << last << " over " << losses.back().step << " steps");
  CHECK(last < 0.5 * first);
  CHECK(checkpoints_in(run / "checkpoints") >= 1);
}

TEST_CASE("a torchscript model's path is taken from the pipeline file's folder") {
  if (std::system("/usr/bin/python3 -c 'import torch' >/dev/null 2>&1") != 0) {
    WARN("skipped: /usr/bin/python3 has no torch (scripts/setup.sh installs python3-torch)");
    return;
  }
  ScratchDir dir;
  const fs::path folder = dir.path() / "pipeline";
  fs::create_directories(folder);
  std::ofstream(folder / "make.py") << R"(import sys, torch
torch.manual_seed(0)
class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.out = torch.nn.Linear(2, 3)
    def forward(self, x):
        return self.out(x)
torch.jit.script(Net()).save(sys.argv[1])
)";
  REQUIRE(std::system(
              ("/usr/bin/python3 " + (folder / "make.py").string() + " " + (folder / "model.pt").string()).c_str()) ==
          0);
  std::ofstream(folder / "blobs.toml") << R"([pipeline]
name  = "blobs-torchscript"
links = [ "rows -> train", "train.metrics -> log" ]

[nodes.rows]
plugin = "synthetic"
signal = "blobs"
count  = 2000

[nodes.train]
plugin = "trainer"
model  = { kind = "torchscript", path = "model.pt" }
lr     = 0.05

[nodes.log]
plugin = "csv"
path   = "${RUN_DIR}/metrics.csv"
)";
  // Run from another folder: the relative path is the pipeline file's.
  ProcessOptions options;
  options.cwd = dir.path().string();
  const fs::path run = dir.path() / "run";
  const auto r = run_process({kCli, "run", (folder / "blobs.toml").string(), "--run-dir", run.string()}, options);
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.all(), Catch::Contains("torchscript " + (folder / "model.pt").string()));
  REQUIRE_FALSE(points(run / "metrics.csv", "test/accuracy").empty());
  CHECK(points(run / "metrics.csv", "test/accuracy").back().value > 0.8);

  // Given with --set, the path is relative to the current directory.
  const auto set = run_process({kCli, "validate", (folder / "blobs.toml").string(), "--set",
                                "train.model.path=pipeline/model.pt"},
                               options);
  INFO(set.all());
  CHECK(set.exit_code == 0);

  // A file that is not there is found before the run, at the key that names it.
  fs::remove(folder / "model.pt");
  const auto missing = run_process(
      {kCli, "run", (folder / "blobs.toml").string(), "--run-dir", (dir.path() / "run2").string()}, options);
  INFO(missing.all());
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains((folder / "blobs.toml").string() + ":12:"));
  CHECK_THAT(missing.err, Catch::Contains("node 'train' (trainer): input file " + (folder / "model.pt").string() +
                                          " does not exist"));
}

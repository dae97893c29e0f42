// The tributary command as a user meets it: real plugins, real files, real signals.
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>
#include <thread>

#include "process.hpp"

namespace fs = std::filesystem;
using tributary::testing::ProcessOptions;
using tributary::testing::ProcessResult;
using tributary::testing::run_process;

namespace {

const std::string kCli = TRIBUTARY_CLI;
const fs::path kSource = TRIBUTARY_SOURCE_DIR;
const fs::path kWork = fs::path(TRIBUTARY_TEST_BINARY_DIR) / "cli-work";

ProcessResult cli(std::vector<std::string> args, ProcessOptions options = {}) {
  args.insert(args.begin(), kCli);
  return run_process(args, options);
}

ProcessOptions in_dir(const fs::path& dir) {
  ProcessOptions o;
  o.cwd = dir.string();
  return o;
}

ProcessOptions with_env(const std::string& name, const std::string& value) {
  ProcessOptions o;
  o.env.emplace_back(name, value);
  return o;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

fs::path fresh_dir(const std::string& name) {
  fs::path dir = kWork / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

fs::path write_file(const fs::path& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}

// The lines in a file that a run is writing (0 while it does not exist).
std::size_t lines_in(const fs::path& path) {
  std::string text = read_file(path);
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The packets a node took in, from the table `tributary run` prints at the end.
std::uint64_t packets_in(const std::string& out, const std::string& node) {
  std::smatch m;
  std::regex row("(^|\\n)" + node + " +[a-z_]+ +([0-9]+) +([0-9]+)");
  if (!std::regex_search(out, m, row)) return 0;
  return std::stoull(m[2]);
}

}  // namespace

TEST_CASE("the version flag names the version and the plugin ABI") {
  auto r = cli({"--version"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("tributary 0.2.0 (plugin ABI 2)"));
}

TEST_CASE("a wrong command line exits with 2 and says what is wrong") {
  auto r = cli({"runn", "x.toml"});
  CHECK(r.exit_code == 2);
  CHECK_FALSE(r.err.empty());
  auto missing = cli({"validate"});
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains("file is required"));
}

TEST_CASE("plugins lists the node types found beside the CLI without any environment variable") {
  auto r = cli({"plugins"});
  REQUIRE(r.exit_code == 0);
  for (const char* type : {"synthetic", "table", "csv", "jsonl", "checkpoint", "identity", "standardize", "trainer"}) {
    CHECK_THAT(r.out, Catch::Contains(std::string("\n") + type + " ") || Catch::StartsWith(std::string(type) + " "));
  }
  auto json = cli({"plugins", "--json"});
  REQUIRE(json.exit_code == 0);
  auto types = nlohmann::json::parse(json.out);
  REQUIRE(types.is_array());
  CHECK(types.size() >= 7);
  auto table = std::find_if(types.begin(), types.end(), [](const nlohmann::json& t) { return t["name"] == "table"; });
  REQUIRE(table != types.end());
  CHECK((*table)["family"] == "sources");
  CHECK_FALSE((*table)["params"].empty());
}

TEST_CASE("describe prints a node type's ports and parameters, and suggests a name for a typo") {
  auto r = cli({"describe", "trainer"});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("inputs:") && Catch::Contains("outputs:") && Catch::Contains("metrics [metrics]") &&
                        Catch::Contains("checkpoint [blob]"));
  CHECK_THAT(r.out, Catch::Contains("model (table, default { kind = \"linear\" })"));
  CHECK_THAT(r.out, Catch::Contains("lr (number, default 0.001) >= 0 [settable while running]"));
  auto typo = cli({"describe", "trainr"});
  auto synthetic = cli({"describe", "synthetic"});
  CHECK_THAT(synthetic.out, Catch::Contains("chunk (integer, default 1600) range 1..1048576"));
  CHECK_THAT(cli({"describe", "table"}).out, Catch::Contains("path (string, required) [input file]"));
  CHECK(typo.exit_code == 2);
  CHECK_THAT(typo.err, Catch::Contains("did you mean 'trainer'?"));
}

TEST_CASE("describe --json gives defaults as typed JSON values") {
  auto r = cli({"describe", "synthetic", "--json"});
  REQUIRE(r.exit_code == 0);
  auto params = nlohmann::json::parse(r.out)["params"];
  auto param = [&](const std::string& name) {
    for (const auto& p : params) {
      if (p["name"] == name) return p;
    }
    return nlohmann::json();
  };
  CHECK(param("signal")["default"] == "sine");
  CHECK(param("count")["default"] == 100);
  CHECK(param("live")["default"] == false);
  CHECK(param("split")["default"] == nlohmann::json::array({0.8, 0.1, 0.1}));
  auto csv = nlohmann::json::parse(cli({"describe", "csv", "--json"}).out)["params"];
  CHECK(csv[0]["name"] == "path");
  CHECK(csv[0]["path"] == "output");
}

TEST_CASE("every pipeline shipped in pipelines/ validates") {
  // The keyword pipelines read the data set folder, which validation checks is there.
  const fs::path kws = fresh_dir("shipped-kws");
  int count = 0;
  for (const auto& entry : fs::directory_iterator(kSource / "pipelines")) {
    if (entry.path().extension() != ".toml") continue;
    ++count;
    auto r = cli({"validate", entry.path().string()}, with_env("KWS", kws.string()));
    INFO(entry.path().string() << "\n" << r.all());
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.out, Catch::Contains("valid pipeline"));
  }
  CHECK(count >= 3);
}

TEST_CASE("each broken pipeline fails validation with exit code 2 and a located, useful message") {
  fs::remove_all(kWork / "never");  // left by an earlier build that ran one of them
  int count = 0;
  fs::remove_all(kWork / "never");
  for (const auto& entry : fs::directory_iterator(kSource / "tests" / "pipelines" / "broken")) {
    ++count;
    std::string text = read_file(entry.path());
    auto r = cli({"validate", entry.path().string()});
    INFO(entry.path().filename().string() << "\n" << r.all());
    CHECK(r.exit_code == 2);
    std::regex located(std::regex_replace(entry.path().filename().string(), std::regex("\\."), "\\.") +
                       ":[0-9]+:[0-9]+: error: ");
    CHECK(std::regex_search(r.err, located));
    for (const auto& line : lines_of(text)) {
      if (line.rfind("# expect: ", 0) == 0) CHECK_THAT(r.err, Catch::Contains(line.substr(10)));
    }
    // `run` refuses the same file before anything starts.
    auto run = cli({"run", entry.path().string(), "--run-dir", (kWork / "never").string()});
    CHECK(run.exit_code == 2);
    CHECK_FALSE(fs::exists(kWork / "never"));
  }
  CHECK(count >= 15);
}

TEST_CASE("the default pipeline trains a classifier and writes metric points to the run directory") {
  fs::path dir = fresh_dir("default-run");
  auto r = cli({"run", (kSource / "pipelines" / "iris_linear.toml").string(), "--run-dir", (dir / "run").string()},
               in_dir(dir));
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("run directory: " + (dir / "run").string()));
  CHECK(fs::exists(dir / "run" / "pipeline.toml"));
  auto rows = lines_of(read_file(dir / "run" / "metrics.csv"));
  REQUIRE(rows.size() > 10);
  CHECK(rows[0] == "time,node,name,step,epoch,value");
  auto has_metric = [&](const std::string& name) {
    return std::any_of(rows.begin(), rows.end(),
                       [&](const std::string& row) { return row.find("," + name + ",") != std::string::npos; });
  };
  CHECK(has_metric("train/loss"));
  CHECK(has_metric("val/accuracy"));
  CHECK(has_metric("test/accuracy"));
  // The final test accuracy is good: iris is easy.
  double test_accuracy = 0;
  for (const auto& row : rows) {
    if (row.find(",test/accuracy,") != std::string::npos) test_accuracy = std::stod(row.substr(row.rfind(',') + 1));
  }
  CHECK(test_accuracy > 0.8);
  // The JSON Lines sink also got telemetry and log lines, without links.
  std::string events = read_file(dir / "run" / "events.jsonl");
  CHECK_THAT(events, Catch::Contains("\"telemetry/packets_in\""));
  CHECK_THAT(events, Catch::Contains("\"message\""));
  CHECK_THAT(events, Catch::Contains("read 150 rows"));  // logged while the source started
}

TEST_CASE("a training run shows its progress, as plain lines off a terminal, and a summary at the end") {
  fs::path dir = fresh_dir("progress-run");
  auto r = cli({"run", (kSource / "pipelines" / "iris_linear.toml").string(), "--run-dir", (dir / "run").string()},
               in_dir(dir));
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  // One line per epoch on stderr: no terminal, so no redrawn bar.
  CHECK(std::regex_search(r.err, std::regex("\nprogress: epoch [0-9]+/60  ")));
  CHECK_THAT(r.err, Catch::Contains("  step "));
  CHECK_THAT(r.err, !Catch::Contains("\033[K"));
  CHECK_THAT(r.out, Catch::Contains("test:  accuracy "));
  CHECK(std::regex_search(r.out, std::regex("\n  class +FPR +FNR\n  setosa +[0-9.]+ +[0-9.]+\n")));
  CHECK_THAT(r.out, Catch::Contains("best checkpoint: " + (dir / "run" / "checkpoints").string()));
  std::smatch id;
  REQUIRE(std::regex_search(r.out, id, std::regex("recorded as run ([0-9a-z-]+)")));
  CHECK_THAT(r.out, Catch::Contains("look again: tributary runs show " + id[1].str()));
  CHECK_THAT(r.out, Catch::Contains("go on:      tributary runs resume " + id[1].str()));

  // --progress bar draws the line in place even here; off shows neither line nor summary.
  auto bar = cli({"run", (kSource / "pipelines" / "iris_linear.toml").string(), "--run-dir", (dir / "bar").string(),
                  "--progress", "bar", "--no-store"},
                 in_dir(dir));
  CHECK(bar.exit_code == 0);
  CHECK_THAT(bar.err, Catch::Contains("\r\033[K"));
  auto off = cli({"run", (kSource / "pipelines" / "iris_linear.toml").string(), "--run-dir", (dir / "off").string(),
                  "--progress", "off", "--no-store"},
                 in_dir(dir));
  CHECK(off.exit_code == 0);
  CHECK_THAT(off.err, !Catch::Contains("progress:"));
  CHECK_THAT(off.out, !Catch::Contains("test:  accuracy"));
}

TEST_CASE("the default pipeline trains the keyword spotter end to end on a tiny data set") {
  fs::path dir = fresh_dir("default-kws");
  // Two keywords, unknown and silence, five clips each: espeak-ng and sox make them in seconds.
  auto made = run_process({"/bin/bash", (kSource / "scripts" / "make-kws-dataset.sh").string(), (dir / "kws").string(),
                           "--per-class", "5", "--keywords", "yes,no", "--jobs", "2"});
  INFO(made.all());
  REQUIRE(made.exit_code == 0);
  ProcessOptions options = with_env("KWS", (dir / "kws").string());
  options.cwd = dir.string();
  // The dashboard stays up once the data is done, as on a terminal, until the SIGINT that follows
  // a look at its page and status.
  options.signal = SIGINT;
  options.signal_when = "the dashboard stays up at ";
  std::string page, status;
  options.before_signal = [&](const ProcessResult& so_far) {
    std::smatch url;
    if (!std::regex_search(so_far.err, url, std::regex("stays up at (http://127\\.0\\.0\\.1:[0-9]+/)"))) return;
    page = run_process({"/usr/bin/curl", "-sS", "--max-time", "10", url[1].str()}).out;
    status = run_process({"/usr/bin/curl", "-sS", "--max-time", "10", url[1].str() + "api/run"}).out;
  };
  auto r = cli({"run", (kSource / "pipelines" / "default.toml").string(), "--run-dir", (dir / "run").string(), "--set",
                "cache.epochs=2", "--set", "clips.split=[0.5, 0.25, 0.25]", "--set", "train.model.channels=[8, 8]",
                "--set", "train.batch=4", "--set", "dash.port=0", "--set", "dash.linger=true"},
               options);
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  // The run counts as finished: Ctrl-C only closed the dashboard.
  CHECK_THAT(r.out, Catch::Contains("finished in "));
  CHECK_THAT(page, Catch::Contains("<title>"));
  CHECK_THAT(page, Catch::Contains("assets/app.js"));
  INFO("status: " << status);
  REQUIRE_FALSE(status.empty());
  const auto run_status = nlohmann::json::parse(status);
  CHECK(run_status.at("state") == "finished");
  CHECK(run_status.at("epoch") == 2);
  CHECK(run_status.at("epochs") == 2);
  // The run store has it, finished, with its checkpoints.
  std::smatch id;
  REQUIRE(std::regex_search(r.out, id, std::regex("recorded as run ([0-9a-z-]+)")));
  auto shown = cli({"runs", "show", id[1].str()}, in_dir(dir));
  INFO(shown.all());
  CHECK(shown.exit_code == 0);
  CHECK_THAT(shown.out, Catch::Contains("finished"));
  CHECK_THAT(shown.out, Catch::Contains("step-"));
  // The source gave each file once (decoded once); the cache gave the second epoch.
  CHECK(packets_in(r.out, "cache") == 20);
  CHECK(packets_in(r.out, "train") == 40);
  auto rows = lines_of(read_file(dir / "run" / "metrics.csv"));
  REQUIRE(rows.size() > 10);
  CHECK(rows[0] == "time,node,name,step,epoch,value");
  auto has_metric = [&](const std::string& name) {
    return std::any_of(rows.begin(), rows.end(),
                       [&](const std::string& row) { return row.find("," + name + ",") != std::string::npos; });
  };
  CHECK(has_metric("train/loss"));
  CHECK(has_metric("val/accuracy"));
  CHECK(has_metric("test/accuracy"));
  // Per-class rates under the data set's class names.
  for (const char* cls : {"no", "silence", "unknown", "yes"}) {
    CHECK(has_metric(std::string("test/fpr/") + cls));
    CHECK(has_metric(std::string("test/fnr/") + cls));
  }
  CHECK(has_metric("epoch"));
  bool checkpoint = false;
  for (const auto& entry : fs::directory_iterator(dir / "run" / "checkpoints")) {
    checkpoint = checkpoint || entry.path().extension() == ".pt";
  }
  CHECK(checkpoint);
}

TEST_CASE("runs go to runs/<pipeline>/<run id>/ and ${RUN_DIR} points there") {
  fs::path dir = fresh_dir("run-dirs");
  auto r = cli({"run", (kSource / "pipelines" / "iris_linear.toml").string(), "--set", "rows.epochs=2"}, in_dir(dir));
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  REQUIRE(fs::is_directory(dir / "runs" / "iris-linear"));
  auto run = fs::directory_iterator(dir / "runs" / "iris-linear")->path();
  CHECK(std::regex_match(run.filename().string(), std::regex("[0-9]{8}-[0-9]{6}-[0-9a-f]{4}")));
  CHECK(fs::exists(run / "metrics.csv"));
  CHECK_THAT(read_file(run / "pipeline.toml"), Catch::Contains("epochs = 2") && Catch::Contains(run.string()));
}

TEST_CASE("an override with --set swaps a source's plugin without editing the file") {
  fs::path dir = fresh_dir("swap");
  fs::path file = write_file(dir / "p.toml", R"([pipeline]
name = "swap"
links = [ "data -> out" ]
[nodes.data]
plugin = "synthetic"
signal = "blobs"
count = 10
[nodes.out]
plugin = "csv"
path = "${RUN_DIR}/rows.csv"
)");
  std::string iris = "/usr/lib/python3/dist-packages/sklearn/datasets/data/iris.csv";
  auto r = cli({"run", file.string(), "--run-dir", (dir / "run").string(), "--set", "data.plugin=table", "--set",
                "data.path=" + iris, "--set", "data.signal=blobs"});
  // `signal` belongs to synthetic: the swapped node must say so, at the override.
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains("--set data.signal=blobs: error: node 'data' (table): unknown parameter 'signal'"));
  std::string swapped = R"([pipeline]
name = "swap"
links = [ "data -> out" ]
[nodes.data]
plugin = "synthetic"
[nodes.out]
plugin = "csv"
path = "${RUN_DIR}/rows.csv"
)";
  write_file(file, swapped);
  auto good = cli({"run", file.string(), "--run-dir", (dir / "run").string(), "--set", "data.plugin=table", "--set",
                   "data.path=" + iris});
  INFO(good.all());
  REQUIRE(good.exit_code == 0);
  CHECK(lines_of(read_file(dir / "run" / "rows.csv")).size() == 151);  // header + 150 flowers
}

TEST_CASE("a node that throws ends the run with exit code 1 and the node's name, and sinks keep what they got") {
  fs::path dir = fresh_dir("failing");
  fs::path file = write_file(dir / "p.toml", R"([pipeline]
name = "failing"
links = [ "points -> train", "points -> copy", "train -> log" ]
[nodes.points]
plugin = "synthetic"
signal = "blobs"
classes = 3
count = 2000
[nodes.train]
plugin = "trainer"
classes = 2
[nodes.copy]
plugin = "csv"
path = "${RUN_DIR}/points.csv"
[nodes.log]
plugin = "csv"
path = "${RUN_DIR}/metrics.csv"
)");
  auto r = cli({"run", file.string(), "--run-dir", (dir / "run").string()});
  INFO(r.all());
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("error: node 'train' failed:") && Catch::Contains("label 2"));
  auto rows = lines_of(read_file(dir / "run" / "points.csv"));
  CHECK(rows.size() >= 2);
  CHECK(rows.size() - 1 == packets_in(r.out, "copy"));
}

TEST_CASE("SIGINT mid-run stops gracefully: every packet the CSV sink accepted is in the file") {
  fs::path dir = fresh_dir("sigint");
  fs::path file = write_file(dir / "p.toml", R"([pipeline]
name = "endless"
links = [ "tone -> id", "id -> out" ]
[nodes.tone]
plugin = "synthetic"
signal = "sine"
count = 0
rate_hz = 400
chunk = 16
[nodes.id]
plugin = "identity"
[nodes.out]
plugin = "csv"
path = "${RUN_DIR}/tone.csv"
)");
  ProcessOptions options;
  options.signal = SIGINT;
  options.signal_when = "run directory:";
  options.signal_after = std::chrono::milliseconds(1500);
  // However slow the start (an ASan build on a loaded machine), the signal comes once rows are in.
  options.before_signal = [&](const ProcessResult&) {
    for (int i = 0; i < 600 && lines_of(read_file(dir / "run" / "tone.csv")).size() < 3; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  };
  auto r = cli({"run", file.string(), "--run-dir", (dir / "run").string()}, options);
  INFO(r.all());
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("SIGINT: stopping gracefully"));
  CHECK_THAT(r.out, Catch::Contains("stopped after"));
  std::string csv = read_file(dir / "run" / "tone.csv");
  REQUIRE_FALSE(csv.empty());
  CHECK(csv.back() == '\n');
  auto rows = lines_of(csv);
  CHECK(rows[0].rfind("stream,sequence,timestamp_ns,label,split,x0,", 0) == 0);
  CHECK(rows.size() > 1);  // some packets went through before the signal, however slow the start (ASan)
  CHECK(rows.size() - 1 == packets_in(r.out, "out"));
  CHECK(packets_in(r.out, "out") == packets_in(r.out, "id"));
}

TEST_CASE("a plugin built for another ABI is refused with a message naming the file and both versions") {
  std::string folder = std::string(TRIBUTARY_TEST_BINARY_DIR) + "/refused-abi";
  auto r = cli({"plugins", "--plugin-path", folder});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains(folder + "/libfuture_plugin.so was built for Tributary plugin ABI 3, but this "
                                             "runtime uses ABI 2"));
  // A plugin from SDK 0.1: its shorter info block is read no further than ABI 1 had it.
  CHECK_THAT(r.err, Catch::Contains(folder + "/libold_plugin.so was built for Tributary plugin ABI 1, but this "
                                             "runtime uses ABI 2; rebuild the plugin against Tributary SDK 0.2.0"));
  CHECK_THAT(r.out, Catch::Contains("synthetic"));  // the other plugins still load
  auto stray = cli({"plugins", "--plugin-path", std::string(TRIBUTARY_TEST_BINARY_DIR) + "/refused-stray"});
  CHECK(stray.exit_code == 0);
  CHECK_THAT(stray.err, Catch::Contains("libstray.so is not a Tributary plugin"));
  // A file that is no shared library at all: the loader's reason, and nothing else.
  fs::path junk = fresh_dir("junk-plugin");
  write_file(junk / "libjunk.so", "not a library\n");
  auto garbage = cli({"plugins", "--plugin-path", junk.string()});
  CHECK(garbage.exit_code == 0);
  CHECK_THAT(garbage.err, Catch::Contains("warning: plugin " + (junk / "libjunk.so").string() +
                                          " cannot be loaded: file too short\n"));
  // A pipeline that needs a type nobody provides hears about the refused library too.
  fs::path dir = fresh_dir("abi");
  fs::path file = write_file(dir / "p.toml", "[pipeline]\nlinks = []\n[nodes.x]\nplugin = \"future_node\"\n");
  auto v = cli({"validate", file.string(), "--plugin-path", folder});
  CHECK(v.exit_code == 2);
  CHECK_THAT(v.err,
             Catch::Contains("refused: " + folder + "/libfuture_plugin.so was built for Tributary plugin ABI 3"));
}

TEST_CASE("a plugin built with another standard library mode or another SDK layout is refused, not loaded") {
  std::string debug = std::string(TRIBUTARY_TEST_BINARY_DIR) + "/refused-std";
  auto r = cli({"plugins", "--plugin-path", debug});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains(debug + "/libdebug_plugin.so was built with libstdc++ with the C++11 string ABI "
                                            "in debug mode (_GLIBCXX_DEBUG), but this runtime uses libstdc++ with "
                                            "the C++11 string ABI; rebuild the plugin with the same standard "
                                            "library settings"));
  CHECK_THAT(r.out, !Catch::Contains("debug_mode_node"));
  std::string skewed = std::string(TRIBUTARY_TEST_BINARY_DIR) + "/refused-layout";
  auto l = cli({"plugins", "--plugin-path", skewed});
  CHECK(l.exit_code == 0);
  CHECK_THAT(l.err, Catch::Contains(skewed + "/libskewed_plugin.so was built against SDK headers whose types have "
                                             "another layout"));
  CHECK_THAT(l.err, Catch::Contains("rebuild the plugin against the headers of Tributary SDK 0.2.0"));
}

TEST_CASE("a plugin's own version is listed beside its family") {
  std::string folder = std::string(TRIBUTARY_TEST_BINARY_DIR) + "/versioned";
  auto r = cli({"plugins", "--plugin-path", folder});
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("versioned_node") && Catch::Contains("versioned 3.1.4"));
  auto json = cli({"plugins", "--json", "--plugin-path", folder});
  auto types = nlohmann::json::parse(json.out);
  auto it =
      std::find_if(types.begin(), types.end(), [](const nlohmann::json& t) { return t["name"] == "versioned_node"; });
  REQUIRE(it != types.end());
  CHECK((*it)["version"] == "3.1.4");
}

TEST_CASE("a sink that cannot write (a full disk) fails the run with the path and the reason") {
  fs::path dir = fresh_dir("full");
  fs::path file = write_file(dir / "p.toml", R"([pipeline]
links = [ "tone -> out" ]
[nodes.tone]
plugin = "synthetic"
count = 50
[nodes.out]
plugin = "jsonl"
path = "/dev/full"
)");
  auto r = cli({"run", file.string(), "--run-dir", (dir / "run").string()});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("node 'out' failed") && Catch::Contains("/dev/full") &&
                        Catch::Contains("No space left on device"));
}

TEST_CASE("a data file that is missing is refused before the run, one that is corrupt fails the run with the path") {
  fs::path dir = fresh_dir("corrupt");
  write_file(dir / "bad.csv", "1,2,0\n3,x,1\n");
  fs::path file = write_file(dir / "p.toml", R"([pipeline]
links = [ "rows -> out" ]
[nodes.rows]
plugin = "table"
path = "${DATA_FILE}"
[nodes.out]
plugin = "csv"
path = "${RUN_DIR}/out.csv"
)");
  auto missing = cli({"run", file.string(), "--run-dir", (dir / "run1").string()},
                     with_env("DATA_FILE", (dir / "nope.csv").string()));
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains("p.toml:5:8: error: node 'rows' (table): input file " +
                                          (dir / "nope.csv").string() + " does not exist"));
  CHECK_FALSE(fs::exists(dir / "run1"));
  auto corrupt = cli({"run", file.string(), "--run-dir", (dir / "run2").string()},
                     with_env("DATA_FILE", (dir / "bad.csv").string()));
  CHECK(corrupt.exit_code == 1);
  CHECK_THAT(corrupt.err, Catch::Contains((dir / "bad.csv").string() + ":2"));
}

TEST_CASE("graph prints the pipeline as Graphviz dot or Mermaid") {
  auto dot = cli({"graph", (kSource / "pipelines" / "iris_linear.toml").string()});
  REQUIRE(dot.exit_code == 0);
  CHECK_THAT(dot.out, Catch::StartsWith("digraph \"iris-linear\"") &&
                          Catch::Contains("\"train\" -> \"log\" [label=\"metrics -> in\"]"));
  auto mermaid = cli({"graph", (kSource / "pipelines" / "iris_linear.toml").string(), "--format", "mermaid"});
  REQUIRE(mermaid.exit_code == 0);
  CHECK_THAT(mermaid.out, Catch::StartsWith("flowchart LR") && Catch::Contains("(trainer)"));
}

TEST_CASE("logs go to stderr as JSON lines on request, one logger per node") {
  auto r =
      cli({"validate", (kSource / "pipelines" / "iris_linear.toml").string(), "--log-json", "--log-level", "debug"});
  CHECK(r.exit_code == 0);
  auto bad = cli({"validate", (kSource / "pipelines" / "iris_linear.toml").string(), "--log-level", "loud"});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("unknown level 'loud'"));
  fs::path dir = fresh_dir("jsonlog");
  auto run = cli({"run", (kSource / "pipelines" / "iris_linear.toml").string(), "--run-dir", (dir / "run").string(),
                  "--set", "rows.epochs=1", "--log-json"});
  REQUIRE(run.exit_code == 0);
  int json_lines = 0;
  for (const auto& line : lines_of(run.err)) {
    auto j = nlohmann::json::parse(line);
    CHECK(j.contains("time"));
    CHECK(j.contains("level"));
    CHECK(j.contains("node"));
    CHECK(j.contains("message"));
    ++json_lines;
  }
  CHECK(json_lines >= 1);
}

TEST_CASE("SIGUSR1 asks every node for a checkpoint through the control bus") {
  fs::path dir = fresh_dir("sigusr1");
  fs::path file = write_file(dir / "p.toml", R"([pipeline]
name = "checkpoint"
links = [ "points -> train", "train -> log", "train.checkpoint -> ckpt" ]
[nodes.points]
plugin = "synthetic"
signal = "blobs"
count = 0
rate_hz = 500
[nodes.train]
plugin = "trainer"
batch = 4
[nodes.log]
plugin = "jsonl"
path = "${RUN_DIR}/metrics.jsonl"
[nodes.ckpt]
plugin = "checkpoint"
)");
  const fs::path metrics = dir / "run" / "metrics.jsonl";
  const fs::path manifest = dir / "run" / "checkpoints" / "checkpoints.json";
  ProcessOptions usr1;
  bool asked = false;
  std::size_t metrics_at_checkpoint = 0;
  // The trainer has a model to save once it reports a loss: then SIGUSR1. Once the checkpoint is
  // written and the run still goes on (more metrics), SIGKILL: the checkpoint must not stop it.
  usr1.while_running = [&](pid_t pid, const ProcessResult&) {
    if (!asked) {
      if (read_file(metrics).find("\"train/loss\"") == std::string::npos) return;
      kill(pid, SIGUSR1);
      asked = true;
    } else if (metrics_at_checkpoint == 0) {
      if (read_file(manifest).find("\"reason\": \"control\"") != std::string::npos) {
        metrics_at_checkpoint = std::max<std::size_t>(1, lines_in(metrics));
      }
    } else if (lines_in(metrics) > metrics_at_checkpoint) {
      kill(pid, SIGKILL);
    }
  };
  auto r = cli({"run", file.string(), "--run-dir", (dir / "run").string()}, usr1);
  INFO(r.all());
  CHECK(r.exit_code == 128 + SIGKILL);  // still running after the checkpoint, until killed
  CHECK_THAT(r.err, Catch::Contains("SIGUSR1: checkpoint requested"));
  CHECK_THAT(read_file(dir / "run" / "checkpoints" / "checkpoints.json"), Catch::Contains("\"reason\": \"control\""));
}

TEST_CASE("a second SIGINT ends a run at once, when the graceful stop would take long") {
  fs::path dir = fresh_dir("second-sigint");
  // The sink writes into a pipe that nobody reads: once the pipe is full it waits in write(), and
  // the graceful stop, which lets it finish, would take forever.
  const fs::path fifo = dir / "unread.fifo";
  REQUIRE(mkfifo(fifo.c_str(), 0600) == 0);
  const int unread = open(fifo.c_str(), O_RDONLY | O_NONBLOCK);
  REQUIRE(unread >= 0);
  fs::path file = write_file(dir / "p.toml", R"([pipeline]
name = "slow"
links = [ "tone -> out" ]
[nodes.tone]
plugin = "synthetic"
count = 100000
chunk = 4096
[nodes.out]
plugin = "csv"
path = ")" + fifo.string() + R"("
)");
  // The first SIGINT once the pipe is full; the second half a second after the CLI said it stops
  // gracefully: a second request, not the same one delivered twice.
  ProcessOptions options;
  int sent = 0;
  std::chrono::steady_clock::time_point stopping_seen, second_sent;
  options.while_running = [&](pid_t pid, const ProcessResult& so_far) {
    const auto now = std::chrono::steady_clock::now();
    int queued = 0;
    if (sent == 0 && ioctl(unread, FIONREAD, &queued) == 0 && queued > 0 && queued == fcntl(unread, F_GETPIPE_SZ)) {
      kill(pid, SIGINT);
      sent = 1;
    } else if (sent == 1 && so_far.err.find("stopping gracefully") != std::string::npos) {
      if (stopping_seen == std::chrono::steady_clock::time_point{}) stopping_seen = now;
      if (now - stopping_seen >= std::chrono::milliseconds(500)) {
        kill(pid, SIGINT);
        second_sent = now;
        sent = 2;
      }
    }
  };
  auto r = cli({"run", file.string(), "--run-dir", (dir / "run").string()}, options);
  auto elapsed = std::chrono::steady_clock::now() - second_sent;
  close(unread);
  INFO(r.all());
  REQUIRE(sent == 2);
  CHECK(r.exit_code == 130);
  CHECK_THAT(r.err, Catch::Contains("second signal: stopping at once"));
  CHECK(elapsed < std::chrono::seconds(6));
}

namespace {

// A source that never ends on its own, into a CSV sink in the run directory.
fs::path endless_pipeline(const fs::path& dir) {
  return write_file(dir / "p.toml", R"([pipeline]
name = "endless"
links = [ "tone -> id", "id -> out" ]
[nodes.tone]
plugin = "synthetic"
signal = "sine"
count = 0
rate_hz = 400
chunk = 16
[nodes.id]
plugin = "identity"
[nodes.out]
plugin = "csv"
path = "${RUN_DIR}/tone.csv"
)");
}

}  // namespace

TEST_CASE("stop signals that arrive together are one graceful stop request") {
  fs::path dir = fresh_dir("signals-together");
  fs::path file = endless_pipeline(dir);
  // What GNU timeout does: SIGTERM to the process, then to its group; here two kinds at once,
  // so the kernel cannot merge them, once rows are in the file.
  ProcessOptions together;
  bool sent = false;
  together.while_running = [&](pid_t pid, const ProcessResult&) {
    if (sent || lines_in(dir / "run" / "tone.csv") < 3) return;
    kill(pid, SIGTERM);
    kill(pid, SIGINT);
    sent = true;
  };
  auto r = cli({"run", file.string(), "--run-dir", (dir / "run").string()}, together);
  INFO(r.all());
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, !Catch::Contains("second signal"));
  CHECK_THAT(r.out, Catch::Contains("stopped after"));
  auto rows = lines_of(read_file(dir / "run" / "tone.csv"));
  REQUIRE(rows.size() >= 2);
  CHECK(rows.size() - 1 == packets_in(r.out, "out"));

  // GNU timeout itself: its SIGALRM is the time running out, sent here once rows are in the file.
  ProcessOptions expire;
  expire.signal = SIGALRM;
  expire.signal_when = "run directory:";
  expire.before_signal = [&](const ProcessResult&) {
    for (int i = 0; i < 600 && lines_in(dir / "run-timeout" / "tone.csv") < 3; ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  };
  auto t = run_process({"/usr/bin/timeout", "--preserve-status", "600", kCli, "run", file.string(), "--run-dir",
                        (dir / "run-timeout").string()},
                       expire);
  INFO(t.all());
  CHECK(t.exit_code == 0);
  CHECK_THAT(t.out, Catch::Contains("stopped after"));
}

TEST_CASE("a file-size limit fails the run as a write error, with the path and the reason") {
  fs::path dir = fresh_dir("ulimit-f");
  fs::path file = write_file(dir / "p.toml", R"([pipeline]
links = [ "tone -> out" ]
[nodes.tone]
plugin = "synthetic"
count = 2000
chunk = 64
[nodes.out]
plugin = "jsonl"
path = "${RUN_DIR}/tone.jsonl"
)");
  auto r = run_process({"/bin/sh", "-c", "ulimit -f 8; exec \"$0\" \"$@\"", kCli, "run", file.string(), "--run-dir",
                        (dir / "run").string()});
  INFO(r.all());
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("node 'out' failed") && Catch::Contains((dir / "run" / "tone.jsonl").string()) &&
                        Catch::Contains("File too large"));
}

TEST_CASE("a closed stdout ends the CLI's output quietly") {
  fs::path dir = fresh_dir("closed-stdout");
  fs::path file = write_file(dir / "p.toml", R"([pipeline]
links = [ "tone -> out" ]
[nodes.tone]
plugin = "synthetic"
count = 200
[nodes.out]
plugin = "csv"
path = "${RUN_DIR}/tone.csv"
)");
  auto r = run_process({"/bin/bash", "-c", "\"$0\" \"$@\" | head -c 1 >/dev/null; echo \"exit ${PIPESTATUS[0]}\"", kCli,
                        "run", file.string(), "--run-dir", (dir / "run").string()});
  INFO(r.all());
  CHECK_THAT(r.out, Catch::Contains("exit 0"));
  CHECK_THAT(r.err, !Catch::Contains("error"));
}

TEST_CASE("a folder given as the pipeline file is reported as a directory") {
  fs::path dir = fresh_dir("folder-as-file");
  auto r = cli({"run", dir.string(), "--run-dir", (dir / "run").string()});
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(dir.string() + ": error: is a directory"));
  CHECK_FALSE(fs::exists(dir / "run"));
}

TEST_CASE("relative paths are relative to the pipeline file's folder, or to the current directory with --set") {
  fs::path dir = fresh_dir("relative-paths");
  fs::create_directories(dir / "project" / "data");
  fs::create_directories(dir / "elsewhere");
  write_file(dir / "project" / "data" / "rows.csv", "1,2,0\n3,4,1\n");
  write_file(dir / "elsewhere" / "more.csv", "1,2,0\n3,4,1\n5,6,0\n");
  fs::path file = write_file(dir / "project" / "p.toml", R"([pipeline]
links = [ "rows -> out" ]
[nodes.rows]
plugin = "table"
path = "data/rows.csv"
[nodes.out]
plugin = "csv"
path = "out/rows.csv"
)");
  auto r = cli({"run", file.string(), "--run-dir", (dir / "run1").string()}, in_dir(dir / "elsewhere"));
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  CHECK(lines_of(read_file(dir / "project" / "out" / "rows.csv")).size() == 3);
  auto set = cli({"run", file.string(), "--run-dir", (dir / "run2").string(), "--set", "rows.path=more.csv", "--set",
                  "out.path=more-out.csv"},
                 in_dir(dir / "elsewhere"));
  INFO(set.all());
  REQUIRE(set.exit_code == 0);
  CHECK(lines_of(read_file(dir / "elsewhere" / "more-out.csv")).size() == 4);
}

TEST_CASE("a log level for a node the pipeline does not have is refused, as --set refuses one") {
  auto file = (kSource / "pipelines" / "blobs.toml").string();
  auto unknown = cli({"validate", file, "--log-level", "tarin=debug"});
  CHECK(unknown.exit_code == 2);
  CHECK_THAT(unknown.err, Catch::Contains("--log-level tarin=debug: error: no node named 'tarin' to set the log level "
                                          "of\n  hint: did you mean 'train'?"));
  auto nameless = cli({"validate", file, "--log-level", "=debug"});
  CHECK(nameless.exit_code == 2);
  CHECK_THAT(nameless.err, Catch::Contains("'=debug' names no node"));
  CHECK(cli({"validate", file, "--log-level", "train=debug", "--log-level", "tributary=warn"}).exit_code == 0);
}

TEST_CASE("swapping a node's plugin with --set drops the keys the new plugin does not declare, in a note") {
  auto file = (kSource / "pipelines" / "blobs.toml").string();
  std::string iris = "/usr/lib/python3/dist-packages/sklearn/datasets/data/iris.csv";
  auto r = cli({"validate", file, "--set", "points.plugin=table", "--set", "points.path=" + iris});
  INFO(r.all());
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err,
             Catch::Contains("--set points.plugin=table: note: node 'points' is now of type 'table': dropped classes, "
                             "count, dims, signal, which table does not declare"));
  // A key given with --set is the user's own: still checked.
  auto own =
      cli({"validate", file, "--set", "points.plugin=table", "--set", "points.path=" + iris, "--set", "points.dims=3"});
  CHECK(own.exit_code == 2);
  CHECK_THAT(own.err, Catch::Contains("--set points.dims=3: error: node 'points' (table): unknown parameter 'dims'"));
}

TEST_CASE("a pipeline setting is overridden with --set pipeline.KEY=VALUE") {
  auto file = (kSource / "pipelines" / "blobs.toml").string();
  auto r = cli({"validate", file, "--set", "pipeline.threads=2", "--set", "pipeline.name=other"});
  INFO(r.all());
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::Contains("valid pipeline 'other'"));
  auto bad = cli({"validate", file, "--set", "pipeline.threads=5000"});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("--set pipeline.threads=5000: error: 'threads' must be an integer between 0"));
  auto links = cli({"validate", file, "--set", "pipeline.links=[\"points -> trian\"]"});
  CHECK(links.exit_code == 2);
  CHECK_THAT(links.err, Catch::Contains("--set pipeline.links=[\"points -> trian\"]: error: link \"points -> trian\" "
                                        "names no node 'trian'"));
}

TEST_CASE("with --log-json, validation errors and warnings are JSON lines too") {
  auto r = cli({"validate", (kSource / "tests" / "pipelines" / "broken" / "typo_param.toml").string(), "--log-json"});
  CHECK(r.exit_code == 2);
  auto line = nlohmann::json::parse(lines_of(r.err).at(0));
  CHECK(line["level"] == "error");
  CHECK(line["message"] == "node 'train' (trainer): unknown parameter 'clases'");
  CHECK(line["line"] == 10);
  CHECK(line["column"] == 1);
  CHECK(line["hint"] == "did you mean 'classes'?");
  fs::path junk = fresh_dir("junk-plugin-json");
  write_file(junk / "libjunk.so", "not a library\n");
  auto warned = cli({"plugins", "--plugin-path", junk.string(), "--log-json"});
  auto warning = nlohmann::json::parse(lines_of(warned.err).at(0));
  CHECK(warning["level"] == "warn");
  CHECK(warning["message"] == "plugin " + (junk / "libjunk.so").string() + " cannot be loaded: file too short");
}

TEST_CASE("a run directory that holds an earlier run, or cannot be made, is refused before the run") {
  fs::path dir = fresh_dir("run-dir-reuse");
  auto file = (kSource / "pipelines" / "iris_linear.toml").string();
  auto first = cli({"run", file, "--run-dir", (dir / "run").string()});
  INFO(first.all());
  REQUIRE(first.exit_code == 0);
  auto again = cli({"run", file, "--run-dir", (dir / "run").string()});
  CHECK(again.exit_code == 2);
  CHECK_THAT(again.err, Catch::Contains("--run-dir " + (dir / "run").string() + ": error: run directory " +
                                        (dir / "run").string() + " is not empty"));
  write_file(dir / "runs", "a file where the runs folder would go\n");
  auto blocked = cli({"validate", file}, in_dir(dir));
  CHECK(blocked.exit_code == 2);
  CHECK_THAT(blocked.err, Catch::Contains((dir / "runs").string() + " is not a folder"));
}

TEST_CASE("a pipeline file that cannot be read is located at its start, with the reason") {
  // Permissions do not hold back root: the check runs as nobody then, from a folder nobody can
  // reach (the build tree may sit under a private one), with a copy of the CLI and its libraries.
  std::string cli_path = kCli;
  fs::path dir = fresh_dir("unreadable");
  std::vector<std::string> prefix;
  if (geteuid() == 0) {
    char pattern[] = "/tmp/tributary-unreadable-XXXXXX";
    REQUIRE(mkdtemp(pattern) != nullptr);
    dir = pattern;
    fs::create_directories(dir / "bin");
    fs::create_directories(dir / "lib");
    fs::copy_file(kCli, dir / "bin" / "tributary");
    for (const auto& entry : fs::directory_iterator(fs::path(kCli).parent_path().parent_path() / "lib")) {
      if (entry.is_regular_file() || entry.is_symlink())
        fs::copy(entry.path(), dir / "lib" / entry.path().filename(), fs::copy_options::copy_symlinks);
    }
    fs::permissions(dir, fs::perms::owner_all | fs::perms::group_read | fs::perms::group_exec | fs::perms::others_read |
                             fs::perms::others_exec);
    cli_path = (dir / "bin" / "tributary").string();
    // The build tree's CLI finds its libraries by an absolute run path into the build tree.
    prefix = {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534",
              "--clear-groups",   "/usr/bin/env",  "LD_LIBRARY_PATH=" + (dir / "lib").string()};
  }
  fs::path file = write_file(dir / "p.toml", "[nodes.a]\nplugin = \"synthetic\"\n");
  fs::permissions(file, fs::perms::none);
  std::vector<std::string> args = prefix;
  args.insert(args.end(), {cli_path, "validate", file.string()});
  auto r = run_process(args);
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(file.string() + ":1:1: error: cannot read the pipeline file: Permission denied"));
  fs::permissions(file, fs::perms::owner_all);
  if (geteuid() == 0) fs::remove_all(dir);
}

TEST_CASE("the shipped plugins say more at --log-level debug") {
  fs::path dir = fresh_dir("debug-logs");
  auto r = cli({"run", (kSource / "pipelines" / "iris_linear.toml").string(), "--run-dir", (dir / "run").string(),
                "--set", "rows.epochs=2", "--log-level", "debug", "--log-json"});
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  std::set<std::string> debug_from;
  for (const auto& line : lines_of(r.err)) {
    if (line.empty() || line[0] != '{') continue;
    auto j = nlohmann::json::parse(line);
    if (j["level"] == "debug") debug_from.insert(j["node"].get<std::string>());
  }
  for (const char* node : {"rows", "train", "log", "events"}) {
    INFO(node);
    CHECK(debug_from.count(node) == 1);
  }
  auto quiet = cli({"run", (kSource / "pipelines" / "iris_linear.toml").string(), "--run-dir", (dir / "quiet").string(),
                    "--set", "flowers.epochs=2"});
  CHECK_THAT(quiet.err, !Catch::Contains("epoch 1 of 2"));
}

TEST_CASE("the node the README's tour adds to the live-features pipeline runs there") {
  std::string readme = read_file(kSource / "README.md");
  auto tour = readme.find("## A 60-second tour");
  REQUIRE(tour != std::string::npos);
  auto begin = readme.find("```toml\n", tour);
  REQUIRE(begin != std::string::npos);
  begin += 8;
  const std::string added = readme.substr(begin, readme.find("```", begin) - begin);
  std::string pipeline = read_file(kSource / "pipelines" / "live-features.toml");
  const std::string last_link = "\"clips -> export\" ]";
  REQUIRE(pipeline.find(last_link) != std::string::npos);
  pipeline.replace(pipeline.find(last_link), last_link.size(),
                   "\"clips -> export\", \"clean -> stats\", \"stats -> stats_out\" ]");
  fs::path dir = fresh_dir("readme-tour");
  fs::path file = write_file(dir / "live.toml", pipeline + "\n" + added);
  auto r = cli({"run", file.string(), "--run-dir", (dir / "run").string(), "--set", "mic.count=100", "--no-store"});
  INFO(r.all());
  CHECK(r.exit_code == 0);
  const auto rows = lines_of(read_file(dir / "run" / "spectral.jsonl"));
  REQUIRE(rows.size() > 10);
  CHECK(nlohmann::json::parse(rows[1]).at("shape").at(1) == 3);  // centroid, rolloff, rms per frame
}

TEST_CASE("the pipeline shown in the README is whole and runs as it is") {
  std::string readme = read_file(kSource / "README.md");
  auto section = readme.find("## Pipeline files");
  REQUIRE(section != std::string::npos);
  auto begin = readme.find("```toml\n", section);
  REQUIRE(begin != std::string::npos);
  begin += 8;
  auto end = readme.find("```", begin);
  fs::path dir = fresh_dir("readme-pipeline");
  fs::path file = write_file(dir / "iris.toml", readme.substr(begin, end - begin));
  auto r = cli({"run", file.string(), "--run-dir", (dir / "run").string()});
  INFO(r.all());
  CHECK(r.exit_code == 0);
  CHECK(lines_of(read_file(dir / "run" / "metrics.csv")).size() > 10);
  CHECK(fs::exists(dir / "run" / "checkpoints" / "checkpoints.json"));
}

TEST_CASE("the trainer's README pipeline runs as it is and reaches a test accuracy") {
  std::string readme = read_file(kSource / "plugins" / "models" / "trainer" / "README.md");
  auto begin = readme.find("```toml\n");
  REQUIRE(begin != std::string::npos);
  begin += 8;
  auto end = readme.find("```", begin);
  fs::path dir = fresh_dir("trainer-readme");
  fs::path file = write_file(dir / "trainer.toml", readme.substr(begin, end - begin));
  auto r = cli({"run", file.string(), "--run-dir", (dir / "run").string()});
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  CHECK_THAT(read_file(dir / "run" / "metrics.csv"), Catch::Contains("test/accuracy"));
  CHECK(fs::exists(dir / "run" / "checkpoints" / "checkpoints.json"));
}

TEST_CASE("a GStreamer source's end of stream ends the run, and a file it cannot decode fails it naming the file") {
  fs::path dir = fresh_dir("gst-source");
  fs::path file = write_file(dir / "p.toml", R"([pipeline]
name = "gst-source"
links = [ "src -> out" ]
[nodes.src]
plugin = "gst"
launch = "audiotestsrc num-buffers=5 samplesperbuffer=1600 ! audioconvert"
caps = "audio/x-raw,format=F32LE,rate=16000,channels=1"
[nodes.out]
plugin = "csv"
path = "${RUN_DIR}/chunks.csv"
)");
  auto r = cli({"run", file.string(), "--run-dir", (dir / "run").string()});
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  CHECK(lines_of(read_file(dir / "run" / "chunks.csv")).size() == 6);  // header + 5 chunks

  const fs::path noise = write_file(dir / "noise.wav", std::string(4096, '\x5a'));
  fs::path bad_file = write_file(dir / "bad.toml", R"([pipeline]
name = "bad-audio"
links = [ "src -> out" ]
[nodes.src]
plugin = "audio"
path = "${NOISE}"
[nodes.out]
plugin = "csv"
path = "${RUN_DIR}/chunks.csv"
)");
  auto bad = cli({"run", bad_file.string(), "--run-dir", (dir / "bad").string()}, with_env("NOISE", noise.string()));
  CHECK(bad.exit_code == 1);
  CHECK_THAT(bad.err, Catch::Contains("node 'src'") && Catch::Contains(noise.string()) &&
                          Catch::Contains("could not be decoded"));
}

TEST_CASE("feature nodes fed whole clips compute them at the same time and give what one at a time gives") {
  fs::path dir = fresh_dir("clips-in-parallel");
  auto made = run_process({"/bin/bash", (kSource / "scripts" / "make-kws-dataset.sh").string(), (dir / "kws").string(),
                           "--per-class", "15", "--keywords", "yes,no", "--jobs", "2"});
  INFO(made.all());
  REQUIRE(made.exit_code == 0);
  fs::path file = write_file(dir / "p.toml", R"([pipeline]
name = "clips-features"
links = [ "clips -> aug", "aug -> mfcc", "mfcc -> export", "clips -> mel", "mel -> mels" ]
[nodes.clips]
plugin = "audio_dataset"
path = "${KWS}"
[nodes.aug]
plugin = "augment"
gain_db = [-3.0, 3.0]
[nodes.mfcc]
plugin = "mfcc"
n_mfcc = 13
deltas = 2
[nodes.mel]
plugin = "mel"
n_mels = 40
log = "db"
top_db = 80
[nodes.export]
plugin = "jsonl"
path = "${RUN_DIR}/mfcc.jsonl"
[nodes.mels]
plugin = "jsonl"
path = "${RUN_DIR}/mel.jsonl"
)");
  // The data set's examples reach mfcc through augment, which keeps their kind: both run ordered.
  const ProcessOptions kws = with_env("KWS", (dir / "kws").string());
  auto graph = cli({"graph", file.string(), "--format", "mermaid"}, kws);
  INFO(graph.all());
  CHECK_THAT(graph.out, Catch::Contains("(mfcc, ordered)") && Catch::Contains("(mel, ordered)"));
  auto two = cli({"run", file.string(), "--run-dir", (dir / "two").string(), "--no-store"}, kws);
  auto one = cli(
      {"run", file.string(), "--run-dir", (dir / "one").string(), "--no-store", "--set", "pipeline.threads=1"}, kws);
  INFO(two.all() << one.all());
  REQUIRE(two.exit_code == 0);
  REQUIRE(one.exit_code == 0);
  for (const char* out : {"mfcc.jsonl", "mel.jsonl"}) {
    const std::string parallel = read_file(dir / "two" / out);
    CHECK(lines_of(parallel).size() == 60);
    CHECK(parallel == read_file(dir / "one" / out));
  }
}

TEST_CASE("an indexed plugin library that no longer loads is refused with the loader's reason, and the type named") {
  fs::path dir = fresh_dir("plugin-index-stale");
  const fs::path plugins = dir / "plugins";
  fs::create_directories(plugins);
  for (const char* name : {"libdependent_plugin.so", "libtest_dependency.so"}) {
    fs::copy_file(fs::path(TRIBUTARY_TEST_BINARY_DIR) / "dependent" / name, plugins / name);
  }
  ProcessOptions options = with_env("TRIBUTARY_PLUGIN_INDEX", (dir / "index.tsv").string());
  options.cwd = dir.string();
  fs::path file = write_file(dir / "p.toml", R"([pipeline]
links = ["src -> out"]
[nodes.src]
plugin = "dependent_source"
[nodes.out]
plugin = "csv"
path = "${RUN_DIR}/x.csv"
)");
  auto run = [&](const std::string& name) {
    return cli(
        {"run", file.string(), "--no-store", "--plugin-path", plugins.string(), "--run-dir", (dir / name).string()},
        options);
  };
  auto first = run("first");
  INFO(first.all());
  REQUIRE(first.exit_code == 0);
  CHECK_THAT(read_file(dir / "index.tsv"),
             Catch::Contains("dependent_plugin.so\t") && Catch::Contains("\tdependent_source\n"));
  // The plugin's file is as indexed, but a library it needs is gone.
  fs::remove(plugins / "libtest_dependency.so");
  auto second = run("second");
  INFO(second.all());
  CHECK(second.exit_code == 2);
  CHECK_THAT(second.err, Catch::Contains("plugin 'dependent_source' for node 'src' could not be loaded") &&
                             Catch::Contains("refused: " + (plugins / "libdependent_plugin.so").string()) &&
                             Catch::Contains("libtest_dependency.so"));
  CHECK_FALSE(fs::exists(dir / "second" / "x.csv"));
}

TEST_CASE("the keyword pipelines find the data set beside the pipelines folder from any directory, or where KWS says") {
  // As scripts/make-kws-dataset.sh data/kws leaves it: data/kws next to pipelines/.
  const fs::path root = fresh_dir("kws-where");
  fs::create_directories(root / "pipelines");
  fs::create_directories(root / "data" / "kws");
  fs::copy_file(kSource / "pipelines" / "kws-clips.toml", root / "pipelines" / "kws-clips.toml");
  const fs::path elsewhere = fresh_dir("kws-where-cwd");
  auto found = cli({"validate", (root / "pipelines" / "kws-clips.toml").string()}, in_dir(elsewhere));
  INFO(found.all());
  CHECK(found.exit_code == 0);
  // KWS given relative, as on a command line, is the current directory's.
  fs::create_directories(elsewhere / "mine");
  ProcessOptions mine = with_env("KWS", "mine");
  mine.cwd = elsewhere.string();
  auto relative = cli({"validate", (root / "pipelines" / "kws-clips.toml").string()}, mine);
  INFO(relative.all());
  CHECK(relative.exit_code == 0);
  ProcessOptions wrong = with_env("KWS", "not-made");
  wrong.cwd = elsewhere.string();
  auto missing = cli({"validate", (root / "pipelines" / "kws-clips.toml").string()}, wrong);
  CHECK(missing.exit_code == 2);
  CHECK_THAT(missing.err, Catch::Contains("input folder " + (elsewhere / "not-made").string() + " does not exist"));
}

TEST_CASE("a run loads only the plugin libraries its node types need, from an index it keeps up to date") {
  fs::path dir = fresh_dir("plugin-index");
  const fs::path index = dir / "cache" / "plugin-index.tsv";
  ProcessOptions options = with_env("TRIBUTARY_PLUGIN_INDEX", index.string());
  options.cwd = dir.string();
  fs::path file = write_file(dir / "p.toml", R"([pipeline]
links = ["src -> out"]
[nodes.src]
plugin = "synthetic"
count = 3
[nodes.out]
plugin = "csv"
path = "${RUN_DIR}/x.csv"
)");
  auto run = [&](const std::string& name) {
    return cli({"run", file.string(), "--no-store", "--log-level", "debug", "--run-dir", (dir / name).string()},
               options);
  };
  // No index yet: every library is loaded, and indexed.
  auto first = run("first");
  INFO(first.all());
  REQUIRE(first.exit_code == 0);
  CHECK_THAT(first.all(), !Catch::Contains("more not needed"));
  std::string written = read_file(index);
  CHECK_THAT(written, Catch::StartsWith("tributary plugin index 1\tABI 2 "));
  CHECK_THAT(written, Catch::Contains("libtributary_models.so\t") && Catch::Contains("\ttrainer\n"));
  CHECK_THAT(written, Catch::Contains("csv,jsonl,checkpoint,plot_server"));

  // With it: only the libraries of synthetic and csv.
  auto second = run("second");
  INFO(second.all());
  REQUIRE(second.exit_code == 0);
  CHECK_THAT(second.all(), Catch::Contains("loaded the plugin libraries this pipeline needs: ") &&
                               Catch::Contains("libtributary_sources.so") && Catch::Contains("libtributary_sinks.so") &&
                               Catch::Contains("(2 more not needed") && !Catch::Contains("libtributary_models.so"));
  CHECK(read_file(dir / "second" / "x.csv") == read_file(dir / "first" / "x.csv"));

  // A misspelt type is still matched against every type, none of them loaded for it.
  write_file(dir / "typo.toml",
             "[pipeline]\nlinks = [\"src -> out\"]\n[nodes.src]\nplugin = \"synthetic\"\n"
             "[nodes.out]\nplugin = \"trainr\"\n");
  auto typo = cli({"validate", (dir / "typo.toml").string()}, options);
  CHECK(typo.exit_code != 0);
  CHECK_THAT(typo.all(), Catch::Contains("did you mean 'trainer'?") && Catch::Contains("lists the "));

  // `tributary plugins` loads them all.
  auto all = cli({"plugins"}, options);
  CHECK(all.exit_code == 0);
  CHECK_THAT(all.out, Catch::Contains("trainer") && Catch::Contains("plot_server") && Catch::Contains("mfcc"));

  // An index written by another runtime is not trusted: everything loads, and it is rewritten.
  write_file(index, "tributary plugin index 1\tABI 1 0x0 0x0 0.1.0\n" + written.substr(written.find('\n') + 1));
  auto other = run("other");
  INFO(other.all());
  REQUIRE(other.exit_code == 0);
  CHECK_THAT(other.all(), !Catch::Contains("more not needed"));
  CHECK(read_file(index) == written);

  // An index that cannot be written is no error: every run then loads every library.
  ProcessOptions unwritable = with_env("TRIBUTARY_PLUGIN_INDEX", (dir / "p.toml" / "index.tsv").string());
  unwritable.cwd = dir.string();
  auto none = cli({"run", file.string(), "--no-store", "--run-dir", (dir / "none").string()}, unwritable);
  INFO(none.all());
  CHECK(none.exit_code == 0);
}

// The run store as a user meets it: `tributary run` records, `tributary runs ...` reads back,
// with real processes, real kills and real file-size limits.
#include <catch2/catch.hpp>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
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
const fs::path kWork = fs::path(TRIBUTARY_TEST_BINARY_DIR) / "store-work";
const fs::path kDigits = kSource / "pipelines" / "digits_linear.toml";

ProcessResult cli(std::vector<std::string> args, ProcessOptions options) {
  args.insert(args.begin(), kCli);
  return run_process(args, options);
}

ProcessOptions in_dir(const fs::path& dir) {
  ProcessOptions o;
  o.cwd = dir.string();
  return o;
}

fs::path fresh_dir(const std::string& name) {
  fs::path dir = kWork / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::size_t count_of(const std::string& text, const std::string& part) {
  std::size_t n = 0;
  for (auto at = text.find(part); at != std::string::npos; at = text.find(part, at + part.size())) ++n;
  return n;
}

// An export without the runtime's per-node telemetry, which the store records beside the
// node's own points (a run longer than the telemetry interval has some).
std::string without_telemetry(const std::string& csv) {
  std::istringstream in(csv);
  std::string out, line;
  while (std::getline(in, line))
    if (line.find(",telemetry/") == std::string::npos) out += line + "\n";
  return out;
}

std::size_t line_count(const std::string& text) {
  return static_cast<std::size_t>(std::count(text.begin(), text.end(), '\n'));
}

// The run id `tributary run` printed.
std::string run_id_of(const std::string& out) {
  std::smatch m;
  if (std::regex_search(out, m, std::regex("recorded as run ([^ ]+) in"))) return m[1];
  if (std::regex_search(out, m, std::regex("run directory: [^\\n]*/([0-9]{8}-[0-9]{6}-[0-9a-f]{4})\\n"))) return m[1];
  return {};
}

// The `runs list` row of a run, split into its columns.
std::vector<std::string> list_row(const std::string& list, const std::string& id) {
  std::istringstream in(list);
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(id, 0) != 0) continue;
    std::istringstream words(line);
    std::vector<std::string> out;
    for (std::string w; words >> w;) out.push_back(w);
    return out;
  }
  return {};
}

std::int64_t points_of(const std::string& show) {
  std::smatch m;
  if (!std::regex_search(show, m, std::regex("\\n  points +([0-9]+)"))) return -1;
  return std::stoll(m[1]);
}

}  // namespace

TEST_CASE("every run is recorded in runs/tributary.db, and runs list, show and export read it back") {
  fs::path dir = fresh_dir("recorded");
  auto r = cli({"run", kDigits.string(), "--set", "rows.epochs=2"}, in_dir(dir));
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  std::string id = run_id_of(r.out);
  REQUIRE(!id.empty());
  CHECK(fs::exists(dir / "runs" / "tributary.db"));
  CHECK_THAT(r.out, Catch::Contains("recorded as run " + id + " in " + (dir / "runs" / "tributary.db").string()));

  auto list = cli({"runs", "list"}, in_dir(dir));
  INFO(list.all());
  auto row = list_row(list.out, id);
  REQUIRE(row.size() >= 7);
  CHECK(row[1] == "digits-linear");
  CHECK(row[2] == "finished");
  CHECK(row[6] == "val/accuracy");

  auto show = cli({"runs", "show", id}, in_dir(dir));
  INFO(show.all());
  CHECK(show.exit_code == 0);
  CHECK_THAT(show.out, Catch::Contains("rows.epochs = 2") && Catch::Contains("train.lr = 0.02") &&
                           Catch::Contains("log.path = \"${RUN_DIR}/metrics.csv\"") &&
                           Catch::Contains("libtributary_models.so") && Catch::Contains("val/accuracy"));

  // Every checkpoint the run wrote is recorded; the best is marked once, and pruned files are said so.
  CHECK_THAT(show.out, Catch::Contains((dir / "runs" / "digits-linear" / id / "checkpoints").string() +
                                       "/step-000000000045.pt  step 45"));
  CHECK_THAT(show.out, Catch::Contains("step-000000000090.pt  step 90") && Catch::Contains("\"val/loss\""));
  CHECK(count_of(show.out, ".pt  step 90  best  ") + count_of(show.out, ".pt  step 45  best  ") == 1);

  // Full fidelity: the store's points of the trainer are the metrics CSV the run wrote, byte for byte.
  auto csv = cli({"runs", "export", id, "--node", "train"}, in_dir(dir));
  REQUIRE(csv.exit_code == 0);
  std::string written = read_file(dir / "runs" / "digits-linear" / id / "metrics.csv");
  REQUIRE(line_count(written) > 10);
  CHECK(without_telemetry(csv.out) == written);
  auto jsonl = cli({"runs", "export", id, "--node", "train", "--format", "jsonl"}, in_dir(dir));
  CHECK(line_count(jsonl.out) - count_of(jsonl.out, "\"telemetry/") + 1 == line_count(written));
  CHECK_THAT(jsonl.out, Catch::Contains("\"name\":\"val/accuracy\""));

  // The store's own folder does not disturb the run directories: `runs rm` leaves them too.
  auto rm = cli({"runs", "rm", id}, in_dir(dir));
  CHECK(rm.exit_code == 0);
  CHECK(fs::exists(dir / "runs" / "digits-linear" / id / "metrics.csv"));
  CHECK(list_row(cli({"runs", "list"}, in_dir(dir)).out, id).empty());
}

TEST_CASE("the store option and TRIBUTARY_STORE and the no-store flag choose where a run is recorded, if at all") {
  fs::path dir = fresh_dir("where");
  auto a = cli({"run", kDigits.string(), "--set", "rows.epochs=1", "--store", "mine.db"}, in_dir(dir));
  INFO(a.all());
  CHECK(a.exit_code == 0);
  CHECK(fs::exists(dir / "mine.db"));
  ProcessOptions env = in_dir(dir);
  env.env.emplace_back("TRIBUTARY_STORE", (dir / "env.db").string());
  auto b = cli({"run", kDigits.string(), "--set", "rows.epochs=1"}, env);
  CHECK(b.exit_code == 0);
  CHECK(fs::exists(dir / "env.db"));
  auto c = cli({"run", kDigits.string(), "--set", "rows.epochs=1", "--no-store"}, in_dir(dir));
  CHECK(c.exit_code == 0);
  CHECK_THAT(c.out, !Catch::Contains("recorded as run"));
  CHECK(!fs::exists(dir / "runs" / "tributary.db"));
  CHECK(!list_row(cli({"runs", "list", "--store", "mine.db"}, in_dir(dir)).out, run_id_of(a.out)).empty());
  CHECK(!list_row(cli({"runs", "list"}, env).out, run_id_of(b.out)).empty());
  auto compare = cli({"runs", "compare", run_id_of(b.out), run_id_of(b.out)}, env);
  CHECK(compare.exit_code == 0);
}

TEST_CASE("a run killed with kill -9 is found interrupted with its data up to the last batch, and resumes") {
  fs::path dir = fresh_dir("killed");
  ProcessOptions kill9 = in_dir(dir);
  // Killed once the store holds what the checks below look for (points, a loss, a checkpoint),
  // as `runs show` reads it beside the running process, however slow the run (an ASan build).
  kill9.signal = SIGKILL;
  kill9.signal_when = "run directory:";
  kill9.before_signal = [&](const ProcessResult& so_far) {
    const std::string id = run_id_of(so_far.out);
    for (int i = 0; i < 600 && !id.empty(); ++i) {
      auto show = cli({"runs", "show", id}, in_dir(dir));
      if (points_of(show.out) > 100 && show.out.find("train/loss") != std::string::npos &&
          show.out.find("/checkpoints/step-") != std::string::npos) {
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
  };
  auto r = cli({"run", kDigits.string(), "--set", "rows.epochs=100000"}, kill9);
  INFO(r.all());
  REQUIRE(r.exit_code == 128 + SIGKILL);
  std::string id = run_id_of(r.out);
  REQUIRE(!id.empty());
  fs::path old_dir = dir / "runs" / "digits-linear" / id;
  std::string old_metrics = read_file(old_dir / "metrics.csv");

  auto list = cli({"runs", "list", "--status", "interrupted"}, in_dir(dir));
  INFO(list.all());
  auto row = list_row(list.out, id);
  REQUIRE(row.size() >= 3);
  CHECK(row[2] == "interrupted");
  auto show = cli({"runs", "show", id}, in_dir(dir));
  INFO(show.all());
  CHECK_THAT(show.out, Catch::Contains("interrupted (its process (pid"));
  CHECK(points_of(show.out) > 100);  // committed batch by batch
  CHECK_THAT(show.out, Catch::Contains("train/loss") && Catch::Contains((old_dir / "checkpoints").string() + "/step-"));

  // Resume: the recorded pipeline runs again in a run directory of its own.
  auto resumed = cli({"runs", "resume", id, "--set", "rows.epochs=2"}, in_dir(dir));
  INFO(resumed.all());
  REQUIRE(resumed.exit_code == 0);
  CHECK_THAT(resumed.out, Catch::Contains("resuming run " + id + " (interrupted)"));
  std::string new_id = run_id_of(resumed.out);
  REQUIRE(!new_id.empty());
  CHECK(new_id != id);
  fs::path new_dir = dir / "runs" / "digits-linear" / new_id;
  CHECK(fs::exists(new_dir / "metrics.csv"));
  CHECK(read_file(old_dir / "metrics.csv") == old_metrics);  // the old run's files stay as they were
  // Paths in the old run directory moved to the new one; only `resume` names the old one.
  std::string recorded = read_file(new_dir / "pipeline.toml");
  CHECK_THAT(recorded, Catch::Contains((new_dir / "metrics.csv").string()) &&
                           Catch::Contains((new_dir / "checkpoints").string()) &&
                           Catch::Contains("resume = '" + old_dir.string() + "'"));
  CHECK_THAT(resumed.err, Catch::Contains("resuming from " + (old_dir / "checkpoints").string()));
  auto show_new = cli({"runs", "show", new_id}, in_dir(dir));
  CHECK_THAT(show_new.out, Catch::Contains("finished") && Catch::Contains("resumed from  " + id));
}

TEST_CASE("a store that tributary 0.2 recorded (schema 1) is migrated on first use, every run kept whole") {
  fs::path dir = fresh_dir("schema1");
  const fs::path fixture = kSource / "tests" / "data" / "run_store_v1";
  fs::create_directories(dir / "runs");
  fs::path db = dir / "runs" / "tributary.db";
  auto load = run_process({"/usr/bin/sqlite3", db.string(), ".read " + (fixture / "tributary.sql").string()}, {});
  REQUIRE(load.exit_code == 0);
  const std::string a = "20261204-013015-7ea1", b = "20261204-013015-9942";

  // The first command that opens it to write (here `runs list`) brings it up to date.
  auto list = cli({"runs", "list"}, in_dir(dir));
  INFO(list.all());
  REQUIRE(list.exit_code == 0);
  auto version = run_process({"/usr/bin/sqlite3", db.string(), "SELECT max(version) FROM store_schema"}, {});
  CHECK(version.out == "3\n");
  for (const auto& id : {a, b}) {
    auto row = list_row(list.out, id);
    REQUIRE(row.size() >= 7);
    CHECK(row[2] == "finished");
    CHECK(row[6] == "val/accuracy");
    // Full fidelity after the migration: the export is the metrics CSV the run wrote.
    auto csv = cli({"runs", "export", id}, in_dir(dir));
    REQUIRE(csv.exit_code == 0);
    std::string written = read_file(fixture / (id + ".metrics.csv"));
    REQUIRE(line_count(written) > 300);
    CHECK(csv.out == written);
  }
  CHECK(list_row(list.out, a)[7] == "0.927778");
  CHECK(list_row(list.out, b)[7] == "0.983333");
  auto show = cli({"runs", "show", b}, in_dir(dir));
  INFO(show.all());
  CHECK_THAT(show.out, Catch::Contains("train.lr = 0.05") && Catch::Contains("step-000000000090.pt  step 90"));
  CHECK(points_of(show.out) == 540);
  auto compare = cli({"runs", "compare", a, b}, in_dir(dir));
  CHECK_THAT(compare.out, Catch::Contains("0.02") && Catch::Contains("0.05"));

  // A new run records beside the migrated ones; the file stays sound.
  auto r = cli({"run", kDigits.string(), "--set", "rows.epochs=1"}, in_dir(dir));
  INFO(r.all());
  REQUIRE(r.exit_code == 0);
  std::string id = run_id_of(r.out);
  auto csv = cli({"runs", "export", id, "--node", "train"}, in_dir(dir));
  CHECK(without_telemetry(csv.out) == read_file(dir / "runs" / "digits-linear" / id / "metrics.csv"));
  CHECK(cli({"runs", "rm", a}, in_dir(dir)).exit_code == 0);
  CHECK(cli({"runs", "export", b}, in_dir(dir)).out == read_file(fixture / (b + ".metrics.csv")));
  auto check = run_process({"/usr/bin/sqlite3", db.string(), "PRAGMA integrity_check"}, {});
  CHECK(check.out == "ok\n");
}

TEST_CASE("an unknown run id is an error that names the nearest ids") {
  fs::path dir = fresh_dir("unknown-id");
  auto r = cli({"run", kDigits.string(), "--set", "rows.epochs=1"}, in_dir(dir));
  std::string id = run_id_of(r.out);
  REQUIRE(!id.empty());
  std::string typo = id.substr(0, id.size() - 1) + (id.back() == '0' ? "1" : "0");
  for (const char* command : {"show", "export", "rm", "resume"}) {
    auto bad = cli({"runs", command, typo}, in_dir(dir));
    INFO(command << ": " << bad.all());
    CHECK(bad.exit_code == 2);
    CHECK_THAT(bad.err, Catch::Contains("no run '" + typo + "'") && Catch::Contains("nearest: " + id));
  }
}

TEST_CASE("a damaged store is reported and left as it is, and the run goes on unrecorded or refuses to start") {
  fs::path dir = fresh_dir("damaged");
  fs::create_directories(dir / "runs");
  std::string junk = "not a database, but somebody's notes\n";
  std::ofstream(dir / "runs" / "tributary.db") << junk;
  auto r = cli({"run", kDigits.string(), "--set", "rows.epochs=1"}, in_dir(dir));
  INFO(r.all());
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.err, Catch::Contains("warning: run store " + (dir / "runs" / "tributary.db").string()) &&
                        Catch::Contains("left as it is") && Catch::Contains("this run is not recorded"));
  auto stop = cli({"run", kDigits.string(), "--set", "rows.epochs=1", "--store-errors", "stop"}, in_dir(dir));
  CHECK(stop.exit_code == 1);
  CHECK_THAT(stop.err, Catch::Contains("error: run store"));
  auto list = cli({"runs", "list"}, in_dir(dir));
  CHECK(list.exit_code == 2);
  CHECK_THAT(list.err, Catch::Contains("--no-store"));
  CHECK(read_file(dir / "runs" / "tributary.db") == junk);
}

TEST_CASE("a full disk stops the store with a clear error, the run goes on or stops, and what was committed stays") {
  for (const char* policy : {"continue", "stop"}) {
    INFO(policy);
    fs::path dir = fresh_dir(std::string("full-disk-") + policy);
    // Telemetry every millisecond: tens of thousands of points a second, a store that grows fast.
    std::ofstream(dir / "busy.toml") << R"([pipeline]
name = "busy"
links = [ "images -> train", "train.metrics -> out" ]
telemetry_interval_s = 0.001
[nodes.images]
plugin = "table"
path = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz"
header = "no"
epochs = 1000
[nodes.train]
plugin = "trainer"
classes = 10
model = { kind = "linear" }
[nodes.out]
plugin = "jsonl"
path = "/dev/null"
)";
    auto first = cli({"run", (dir / "busy.toml").string(), "--set", "images.epochs=1"}, in_dir(dir));
    REQUIRE(first.exit_code == 0);
    std::string first_id = run_id_of(first.out);
    // The file-size limit is in KiB: the store and its write-ahead log may grow to 2 MiB. A
    // transaction holds at most 10,000 points (about 450 KiB), so the first ones fit; the run
    // records far more than the limit holds.
    auto r = run_process({"/bin/sh", "-c", "ulimit -f 2048; exec \"$0\" \"$@\"", kCli, "run",
                          (dir / "busy.toml").string(), "--store-errors", policy},
                         in_dir(dir));
    INFO(r.all());
    CHECK_THAT(r.err, Catch::Contains("error: run store " + (dir / "runs" / "tributary.db").string()) &&
                          Catch::Contains("what was committed before is kept"));
    if (std::string(policy) == "continue") {
      CHECK(r.exit_code == 0);
      CHECK_THAT(r.out, Catch::Contains("finished in"));
    } else {
      CHECK(r.exit_code == 1);
      CHECK_THAT(r.err, Catch::Contains("stopped because the run store cannot be written"));
    }
    std::string id = run_id_of(r.out);
    auto show = cli({"runs", "show", id}, in_dir(dir));
    INFO(show.all());
    CHECK(show.exit_code == 0);
    CHECK(points_of(show.out) > 0);
    auto show_first = cli({"runs", "show", first_id}, in_dir(dir));
    CHECK_THAT(show_first.out, Catch::Contains("finished"));
    auto check = run_process({"/usr/bin/sqlite3", (dir / "runs" / "tributary.db").string(), "PRAGMA integrity_check"});
    CHECK(check.out == "ok\n");
  }
}

TEST_CASE("pipelines running at once record into one store, each run whole") {
  fs::path dir = fresh_dir("together");
  std::vector<ProcessResult> results(3);
  std::vector<std::thread> runs;
  for (std::size_t i = 0; i < results.size(); ++i) {
    runs.emplace_back([&, i] { results[i] = cli({"run", kDigits.string(), "--set", "rows.epochs=20"}, in_dir(dir)); });
  }
  for (auto& t : runs) t.join();
  auto list = cli({"runs", "list", "--pipeline", "digits-linear", "--status", "finished"}, in_dir(dir));
  INFO(list.all());
  for (const auto& r : results) {
    INFO(r.all());
    CHECK(r.exit_code == 0);
    CHECK_THAT(r.err, !Catch::Contains("run store"));
    std::string id = run_id_of(r.out);
    CHECK(list_row(list.out, id).size() >= 3);
    auto csv = cli({"runs", "export", id, "--node", "train"}, in_dir(dir));
    std::string written = read_file(dir / "runs" / "digits-linear" / id / "metrics.csv");
    INFO(csv.err);
    CHECK(line_count(without_telemetry(csv.out)) == line_count(written));
    CHECK(without_telemetry(csv.out) == written);
  }
}

TEST_CASE("the dashboard lists the past runs from the store and serves their curves") {
  fs::path dir = fresh_dir("dashboard-history");
  const fs::path iris = kSource / "pipelines" / "iris_linear.toml";
  auto first = cli({"run", iris.string(), "--run-dir", (dir / "first").string()}, in_dir(dir));
  INFO(first.all());
  REQUIRE(first.exit_code == 0);
  const std::string past = run_id_of(first.out);
  REQUIRE_FALSE(past.empty());

  // A dashboard in place of the events file, kept up once the data is done until the SIGINT that
  // follows a look at what it serves of the past run.
  std::string runs, series, curve, unknown, bad_limit, posted, no_such_series;
  auto with_dashboard = [&](std::vector<std::string> extra) {
    runs.clear();
    ProcessOptions options = in_dir(dir);
    options.signal = SIGINT;
    options.signal_when = "the dashboard stays up at ";
    options.before_signal = [&](const ProcessResult& so_far) {
      std::smatch url;
      if (!std::regex_search(so_far.err, url, std::regex("stays up at (http://127\\.0\\.0\\.1:[0-9]+/)"))) return;
      auto get = [&](const std::string& route) {
        return run_process({"/usr/bin/curl", "-sS", "--max-time", "20", url[1].str() + route}).out;
      };
      runs = get("api/runs?limit=10");
      series = get("api/runs/" + past + "/series");
      curve = get("api/runs/" + past + "/series/train%3Atrain%2Floss?points=16");
      unknown = get("api/runs/" + past + "x/series");
      auto status_of = [&](std::vector<std::string> options_first, const std::string& route) {
        std::vector<std::string> args{"/usr/bin/curl", "-sS", "--max-time", "20", "-w", " %{http_code}"};
        args.insert(args.end(), options_first.begin(), options_first.end());
        args.push_back(url[1].str() + route);
        return run_process(args).out;
      };
      bad_limit = status_of({}, "api/runs?limit=0");
      posted = status_of({"-X", "POST"}, "api/runs");
      no_such_series = status_of({}, "api/runs/" + past + "/series/train%3Anothing");
    };
    std::vector<std::string> args = {"run",   iris.string(),   "--set", "events.plugin=plot_server",
                                     "--set", "events.port=0", "--set", "events.linger=true"};
    args.insert(args.end(), extra.begin(), extra.end());
    return cli(args, options);
  };
  auto live = with_dashboard({"--run-dir", (dir / "live").string()});
  INFO(live.all());
  REQUIRE(live.exit_code == 0);
  const std::string current = run_id_of(live.out);
  INFO("runs: " << runs);
  REQUIRE_FALSE(runs.empty());
  auto listed = nlohmann::json::parse(runs);
  CHECK(listed.at("available") == true);
  CHECK(listed.at("current") == current);
  // The newest first: this run, still running while its dashboard lingers, then the past one.
  REQUIRE(listed.at("runs").size() == 2);
  CHECK(listed["runs"][0].at("id") == current);
  CHECK(listed["runs"][0].at("status") == "running");
  CHECK(listed["runs"][1].at("id") == past);
  CHECK(listed["runs"][1].at("status") == "finished");
  CHECK(listed["runs"][1].at("name") == "iris-linear");
  CHECK(listed["runs"][1].at("headline").at("name") == "val/accuracy");
  CHECK(listed["runs"][1].at("duration_s").get<double>() > 0.0);

  // Its series, and one of them decimated, keeping its first point as the run wrote it.
  INFO("series: " << series);
  auto named = nlohmann::json::parse(series).at("series");
  std::int64_t length = -1;
  for (const auto& s : named) {
    if (s.at("name") == "train:train/loss") length = s.at("length").get<std::int64_t>();
  }
  REQUIRE(length > 16);
  INFO("curve: " << curve);
  auto loss = nlohmann::json::parse(curve);
  CHECK(loss.at("length") == length);
  CHECK(loss.at("decimated") == true);
  REQUIRE(loss.at("points").size() <= 16);
  REQUIRE(loss.at("points").size() >= 4);
  // metrics.csv: time,node,name,step,epoch,value
  std::istringstream csv(read_file(dir / "first" / "metrics.csv"));
  std::string row;
  std::vector<std::string> cells;
  while (std::getline(csv, row)) {
    if (row.find(",train/loss,") == std::string::npos) continue;
    std::istringstream cut(row);
    for (std::string cell; std::getline(cut, cell, ',');) cells.push_back(cell);
    break;
  }
  REQUIRE(cells.size() == 6);
  CHECK(loss["points"][0][0].get<std::int64_t>() == std::stoll(cells[3]));
  CHECK(loss["points"][0][1].get<double>() == Approx(std::stod(cells[5])));
  CHECK(loss["points"][0][2].get<double>() == Approx(std::stod(cells[0])));
  CHECK_THAT(unknown, Catch::Contains("no run '" + past + "x'") && Catch::Contains(past));
  // Bad requests are answered, and the run goes on.
  CHECK_THAT(bad_limit, Catch::Contains("'limit' must be an integer from 1 to 500") && Catch::EndsWith(" 400"));
  CHECK_THAT(posted, Catch::Contains("use GET on /api/runs") && Catch::EndsWith(" 405"));
  CHECK_THAT(no_such_series, Catch::Contains("has no series 'train:nothing'") && Catch::EndsWith(" 404"));

  // Unrecorded, the dashboard says why it has no past runs.
  auto unrecorded = with_dashboard({"--run-dir", (dir / "unrecorded").string(), "--no-store"});
  INFO(unrecorded.all());
  REQUIRE(unrecorded.exit_code == 0);
  INFO("runs: " << runs);
  REQUIRE_FALSE(runs.empty());
  auto none = nlohmann::json::parse(runs);
  CHECK(none.at("available") == false);
  CHECK_THAT(none.at("reason").get<std::string>(), Catch::Contains("--no-store"));
  CHECK(none.at("runs").empty());
}

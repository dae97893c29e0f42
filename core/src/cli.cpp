// tributary: run, validate and inspect pipelines.
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "graph_export.hpp"
#include "logging.hpp"
#include "pipeline_file.hpp"
#include "plan.hpp"
#include "plugin_registry.hpp"
#include "run_dir.hpp"
#include "run_history.hpp"
#include "run_progress.hpp"
#include "run_store.hpp"
#include "runs_command.hpp"
#include "runtime.hpp"
#include "tributary/version.hpp"

namespace tc = tributary::core;
using tributary::NodeType;

namespace {

// The recorded pipeline a resumed run starts from, saved in its new run directory.
constexpr const char* kResumedPipelineFile = "resumed-pipeline.toml";

constexpr int kExitFinished = 0;
constexpr int kExitNodeFailed = 1;
constexpr int kExitInvalid = 2;

struct Options {
  std::vector<std::string> log_levels;
  bool log_json = false;
  std::vector<std::string> plugin_paths;
  std::string file;
  std::vector<std::string> overrides;
  std::string run_dir;
  std::string type;
  std::string format = "dot";
  bool json = false;
  // The run store.
  std::string store;
  bool no_store = false;
  std::string store_errors = "continue";
  std::string resumed_from;
  std::string progress = "auto";
  tc::RunsOptions runs;
};

// Problems the CLI reports on stderr: text, or with --log-json one JSON line each, as log lines are.
void report(const Options& o, const std::string& level, const std::string& message,
            const tc::Diagnostic* where = nullptr) {
  if (!o.log_json) {
    std::cerr << (where != nullptr ? tc::format(*where) : level + ": " + message) << "\n";
    return;
  }
  nlohmann::json line{
      {"time", std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count()},
      {"level", level == "warning" ? "warn" : level},  // as log lines name it
      {"node", "tributary"},
      {"message", where != nullptr ? where->message : message}};
  if (where != nullptr) {
    line["file"] = where->where.file;
    if (where->where.line > 0) {
      line["line"] = where->where.line;
      line["column"] = where->where.column;
    }
    if (!where->hint.empty()) line["hint"] = where->hint;
  }
  std::cerr << line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) << "\n";
}

void report(const Options& o, const tc::Diagnostic& d) {
  report(o, std::string(d.severity) == "note" ? "info" : "error", d.message, &d);
}

tc::LogSettings log_settings(const Options& o) {
  tc::LogSettings s;
  s.json = o.log_json;
  for (const auto& spec : o.log_levels) {
    auto eq = spec.find('=');
    std::string level = eq == std::string::npos ? spec : spec.substr(eq + 1);
    auto parsed = tc::parse_log_level(level);
    if (!parsed)
      throw CLI::ValidationError("--log-level", "unknown level '" + level + "' (trace, debug, info, warn, error)");
    if (eq == 0) throw CLI::ValidationError("--log-level", "'" + spec + "' names no node: write NODE=LEVEL");
    if (eq == std::string::npos) {
      s.level = *parsed;
    } else {
      s.per_logger[spec.substr(0, eq)] = *parsed;
    }
  }
  return s;
}

void load_plugins(tc::PluginRegistry& registry, const Options& o, const std::vector<std::string>& pipeline_paths) {
  for (const auto& p : o.plugin_paths) registry.load_folder(p);
  for (const auto& p : pipeline_paths) registry.load_folder(p);
  if (const char* env = std::getenv("TRIBUTARY_PLUGIN_PATH")) {
    for (const auto& p : tc::split_path_list(env)) registry.load_folder(p);
  }
  for (const auto& p : tc::default_plugin_folders()) registry.load_folder(p);
  for (const auto& w : registry.warnings()) report(o, "warning", w);
}

void report_refused(const Options& o, const tc::PluginRegistry& registry) {
  for (const auto& r : registry.refused()) report(o, "warning", "plugin " + r.path + " " + r.reason);
}

// --log-level NODE=LEVEL names a node of the pipeline (or "tributary", the runtime's own logger),
// refused otherwise as --set refuses an unknown node.
void check_log_levels(const Options& o, const tc::Plan& plan) {
  std::vector<std::string> names{"tributary"};
  for (const auto& n : plan.nodes) names.push_back(n.name);
  std::string known;
  for (const auto& n : names) known += (known.empty() ? "" : ", ") + n;
  std::vector<tc::Diagnostic> unknown;
  for (const auto& spec : o.log_levels) {
    auto eq = spec.find('=');
    if (eq == std::string::npos) continue;
    std::string name = spec.substr(0, eq);
    if (std::find(names.begin(), names.end(), name) != names.end()) continue;
    std::string near = tributary::closest_match(name, names);
    unknown.push_back({tc::Location{"--log-level " + spec, 0, 0},
                       "no node named '" + name + "' to set the log level of",
                       near.empty() ? "loggers: " + known : "did you mean '" + near + "'?"});
  }
  if (!unknown.empty()) throw tc::PipelineError(std::move(unknown));
}

// Loads the file, loads plugins (including the file's plugin_path) and validates.
tc::Plan prepare(const Options& o, tc::PluginRegistry& registry, tc::Logging& logging, tc::RunInfo& run) {
  tc::LoadOptions load;
  load.overrides = o.overrides;
  load.run_variables = [&](const std::string& name) {
    run = tc::make_run_info(name, o.run_dir);
    return std::map<std::string, std::string>{{"RUN_DIR", run.dir}, {"RUN_ID", run.id}};
  };
  tc::PipelineDecl decl = tc::load_pipeline(o.file, load);
  load_plugins(registry, o, decl.plugin_path);
  tc::Plan plan = tc::build_plan(std::move(decl), registry, run, logging);
  if (registry.deferred() > 0) {
    std::string loaded;
    for (const auto& l : registry.libraries()) loaded += " " + std::filesystem::path(l).filename().string();
    logging.make("tributary")
        ->debug("loaded the plugin libraries this pipeline needs:", loaded, " (", registry.deferred(),
                " more not needed; `tributary plugins` loads them all)");
  }
  check_log_levels(o, plan);
  if (std::string problem = tc::run_dir_problem(plan.run, o.resumed_from.empty() ? "" : kResumedPipelineFile);
      !problem.empty()) {
    throw tc::PipelineError({{tc::Location{o.run_dir.empty() ? plan.run.dir : "--run-dir " + o.run_dir, 0, 0}, problem,
                              "name a new or empty folder, or leave --run-dir out for runs/<pipeline>/<run id>"}});
  }
  for (const auto& note : plan.notes) report(o, note);
  return plan;
}

std::string kinds_text(tributary::PayloadKinds k) { return tributary::to_string(k); }

std::string param_constraints(const tributary::ParamSpec& p) {
  std::ostringstream out;
  if (p.min && p.max)
    out << "range " << tributary::format_number(*p.min) << ".." << tributary::format_number(*p.max);
  else if (p.min)
    out << ">= " << tributary::format_number(*p.min);
  else if (p.max)
    out << "<= " << tributary::format_number(*p.max);
  if (!p.choices.empty()) {
    out << (out.tellp() > 0 ? "; " : "") << "one of";
    for (std::size_t i = 0; i < p.choices.size(); ++i) out << (i ? ", " : " ") << p.choices[i];
  }
  return out.str();
}

// A parameter value as typed JSON: 40, 0.5, "sine", [0.8, 0.1, 0.1], {"kind": "cnn"}.
nlohmann::json value_json(const tributary::Value& v) {
  using tributary::ValueType;
  switch (v.type()) {
    case ValueType::none:
      return nullptr;
    case ValueType::boolean:
      return v.as_bool();
    case ValueType::integer:
      return v.as_int();
    case ValueType::number:
      return v.as_number();
    case ValueType::string:
      return v.as_string();
    case ValueType::list: {
      nlohmann::json items = nlohmann::json::array();
      for (const auto& item : v.as_list()) items.push_back(value_json(item));
      return items;
    }
    case ValueType::table: {
      nlohmann::json table = nlohmann::json::object();
      for (const auto& entry : v.as_table()) table[entry.key] = value_json(entry.value);
      return table;
    }
  }
  return nullptr;
}

// The path role as a JSON value: input, output, input_folder, output_folder, input_any.
const char* path_role_key(tributary::PathRole role) {
  switch (role) {
    case tributary::PathRole::input:
      return "input";
    case tributary::PathRole::output:
      return "output";
    case tributary::PathRole::input_folder:
      return "input_folder";
    case tributary::PathRole::output_folder:
      return "output_folder";
    case tributary::PathRole::input_any:
      return "input_any";
    case tributary::PathRole::none:
      break;
  }
  return "";
}

nlohmann::json type_json(const NodeType& t) {
  nlohmann::json j{{"name", t.name},
                   {"family", t.family},
                   {"version", t.version},
                   {"summary", t.spec.summary()},
                   {"library", t.library}};
  j["concurrency"] = tributary::to_string(t.spec.concurrency());
  if (t.spec.whole_packet_kinds().bits != 0) {
    j["concurrency_for"] = {{"kinds", kinds_text(t.spec.whole_packet_kinds())},
                            {"concurrency", tributary::to_string(t.spec.whole_packet_concurrency())}};
  }
  j["thread"] = t.spec.thread() == tributary::NodeThread::own ? "own" : "pool";
  j["source"] = t.spec.is_source() ? (t.spec.source_mode() == tributary::SourceMode::live ? "live" : "pull") : "";
  j["inputs"] = nlohmann::json::array();
  for (const auto* p : t.spec.inputs()) {
    j["inputs"].push_back({{"name", p->name},
                           {"kinds", kinds_text(p->kinds)},
                           {"doc", p->doc},
                           {"feed", p->feed == tributary::Feed::links       ? "links"
                                    : p->feed == tributary::Feed::telemetry ? "telemetry"
                                    : p->feed == tributary::Feed::logs      ? "logs"
                                                                            : "control"},
                           {"optional", p->optional}});
  }
  j["outputs"] = nlohmann::json::array();
  for (const auto* p : t.spec.outputs())
    j["outputs"].push_back(
        {{"name", p->name}, {"kinds", kinds_text(p->kinds)}, {"doc", p->doc}, {"lossless", p->lossless}});
  j["params"] = nlohmann::json::array();
  for (const auto& p : t.spec.params()) {
    nlohmann::json pj{{"name", p.name},
                      {"type", tributary::to_string(p.type)},
                      {"doc", p.doc},
                      {"required", p.required},
                      {"settable", p.settable}};
    if (!p.required) pj["default"] = value_json(p.default_value);
    if (p.path != tributary::PathRole::none) pj["path"] = path_role_key(p.path);
    for (const auto& [key, role] : p.path_keys) pj["path_keys"][key] = path_role_key(role);
    if (p.min) pj["min"] = *p.min;
    if (p.max) pj["max"] = *p.max;
    if (!p.choices.empty()) pj["choices"] = p.choices;
    j["params"].push_back(pj);
  }
  if (!t.spec.example().empty()) j["example"] = t.spec.example();
  return j;
}

int cmd_plugins(const Options& o) {
  tc::PluginRegistry registry;
  load_plugins(registry, o, {});
  report_refused(o, registry);
  if (o.json) {
    nlohmann::json out = nlohmann::json::array();
    for (const auto* t : registry.types()) out.push_back(type_json(*t));
    std::cout << out.dump(2) << "\n";
    return kExitFinished;
  }
  std::size_t width = 4;
  std::size_t family_width = 6;
  for (const auto* t : registry.types()) {
    width = std::max(width, t->name.size());
    family_width = std::max(family_width, t->family.size() + 1 + t->version.size());
  }
  for (const auto* t : registry.types()) {
    std::string family = t->family + " " + t->version;
    std::printf("%-*s  %-*s  %s\n", static_cast<int>(width), t->name.c_str(), static_cast<int>(family_width),
                family.c_str(), t->spec.summary().c_str());
  }
  if (registry.types().empty()) {
    std::cerr << "no plugins found; looked in:";
    for (const auto& f : registry.folders()) std::cerr << " " << f;
    std::cerr << "\n";
  }
  return kExitFinished;
}

int cmd_describe(const Options& o) {
  tc::PluginRegistry registry;
  load_plugins(registry, o, {});
  const NodeType* t = registry.find(o.type);
  if (t == nullptr) {
    report_refused(o, registry);
    std::string near = tributary::closest_match(o.type, registry.type_names());
    std::cerr << "error: no node type '" << o.type << "'" << (near.empty() ? "" : "; did you mean '" + near + "'?")
              << " (`tributary plugins` lists them)\n";
    return kExitInvalid;
  }
  if (o.json) {
    std::cout << type_json(*t).dump(2) << "\n";
    return kExitFinished;
  }
  std::cout << t->name << " — " << t->spec.summary() << "\n";
  std::cout << "  family " << t->family << ", " << t->library << "\n";
  std::cout << "  " << tributary::to_string(t->spec.concurrency());
  if (t->spec.whole_packet_kinds().bits != 0) {
    std::cout << " (" << tributary::to_string(t->spec.whole_packet_concurrency()) << " when fed only "
              << kinds_text(t->spec.whole_packet_kinds()) << " packets)";
  }
  if (t->spec.is_source())
    std::cout << ", " << (t->spec.source_mode() == tributary::SourceMode::live ? "live" : "pull") << " source";
  std::cout << "\n\ninputs:\n";
  if (t->spec.inputs().empty()) std::cout << "  (none)\n";
  for (const auto* p : t->spec.inputs()) {
    std::cout << "  " << p->name << " [" << kinds_text(p->kinds) << "]"
              << (p->feed == tributary::Feed::telemetry ? " from the telemetry bus"
                  : p->feed == tributary::Feed::logs    ? " from the log bus"
                                                        : "")
              << (p->optional ? " (optional)" : "") << ": " << p->doc << "\n";
  }
  std::cout << "outputs:\n";
  if (t->spec.outputs().empty()) std::cout << "  (none)\n";
  for (const auto* p : t->spec.outputs())
    std::cout << "  " << p->name << " [" << kinds_text(p->kinds) << "]: " << p->doc << "\n";
  std::cout << "parameters:\n";
  if (t->spec.params().empty()) std::cout << "  (none)\n";
  for (const auto& p : t->spec.params()) {
    std::cout << "  " << p.name << " (" << tributary::to_string(p.type) << ", "
              << (p.required ? std::string("required") : "default " + p.default_value.to_string()) << ")";
    std::string c = param_constraints(p);
    if (!c.empty()) std::cout << " " << c;
    if (p.settable) std::cout << " [settable while running]";
    if (p.path != tributary::PathRole::none) std::cout << " [" << tributary::to_string(p.path) << "]";
    for (const auto& [key, role] : p.path_keys)
      std::cout << " [" << p.name << "." << key << ": " << tributary::to_string(role) << "]";
    std::cout << "\n      " << p.doc << "\n";
  }
  if (!t->spec.example().empty()) std::cout << "\nexample:\n" << t->spec.example() << "\n";
  return kExitFinished;
}

// validate and graph: build the plan (every check a run makes before it starts), then report.
int cmd_check(const Options& o, bool graph) {
  tc::Logging logging(log_settings(o));
  tc::PluginRegistry registry;
  tc::RunInfo run;
  tc::Plan plan = prepare(o, registry, logging, run);
  if (graph) {
    std::cout << (o.format == "mermaid" ? tc::to_mermaid(plan) : tc::to_dot(plan));
  } else {
    std::cout << o.file << ": valid pipeline '" << plan.decl.name << "' (" << plan.nodes.size() << " nodes, "
              << plan.links.size() << " links)\n";
  }
  return kExitFinished;
}

// Signals arrive on one thread of their own and go on the control bus: SIGINT or SIGTERM stops
// gracefully (a second one ends the process at once), SIGUSR1 asks every node to checkpoint,
// SIGUSR2 pauses the sources or resumes them.
// Stop signals that arrive within kSameStopRequest of the first are that one request: GNU
// `timeout` and service managers signal the process and then its group, a terminal's Ctrl-C
// reaches every process of the job. A person pressing Ctrl-C again takes longer than that.
constexpr std::chrono::milliseconds kSameStopRequest{250};

class SignalWatcher {
 public:
  SignalWatcher() {
    sigemptyset(&set_);
    for (int sig : {SIGINT, SIGTERM, SIGUSR1, SIGUSR2}) sigaddset(&set_, sig);
    pthread_sigmask(SIG_BLOCK, &set_, nullptr);
    signals_ = signalfd(-1, &set_, SFD_CLOEXEC);
    wake_ = eventfd(0, EFD_CLOEXEC);
  }
  ~SignalWatcher() {
    stop();
    if (signals_ >= 0) close(signals_);
    if (wake_ >= 0) close(wake_);
  }
  // Stops watching; the signals stay blocked, so one arriving while the run is torn down waits.
  void stop() {
    if (!thread_.joinable()) return;
    std::uint64_t one = 1;
    if (write(wake_, &one, sizeof one) < 0) std::perror("eventfd");
    thread_.join();
  }
  void watch(tc::Runtime& runtime) {
    thread_ = std::thread([this, &runtime] {
      int stops = 0;
      std::chrono::steady_clock::time_point first_stop;
      bool paused = false;
      for (;;) {
        pollfd fds[2] = {{signals_, POLLIN, 0}, {wake_, POLLIN, 0}};
        if (poll(fds, 2, -1) < 0) continue;
        if (fds[1].revents != 0) return;
        signalfd_siginfo info{};
        if (read(signals_, &info, sizeof info) != static_cast<ssize_t>(sizeof info)) continue;
        int sig = static_cast<int>(info.ssi_signo);
        if (sig == SIGUSR1) {
          std::fprintf(stderr, "SIGUSR1: checkpoint requested\n");
          runtime.control({tributary::ControlVerb::checkpoint, "", "", tributary::Value()});
        } else if (sig == SIGUSR2) {
          paused = !paused;
          std::fprintf(stderr, "SIGUSR2: %s\n", paused ? "pausing (SIGUSR2 again to resume)" : "resuming");
          runtime.control(
              {paused ? tributary::ControlVerb::pause : tributary::ControlVerb::resume, "", "", tributary::Value()});
        } else if (stops > 0 && std::chrono::steady_clock::now() - first_stop < kSameStopRequest) {
          continue;  // the same stop request, delivered twice
        } else if (++stops == 1) {
          first_stop = std::chrono::steady_clock::now();
          const char* name = sig == SIGINT ? "SIGINT" : "SIGTERM";
          std::fprintf(stderr, "\n%s: stopping gracefully (again to stop at once)\n", name);
          runtime.request_stop(std::string(name) + " received");
        } else {
          std::fprintf(stderr, "\nsecond signal: stopping at once\n");
          std::_Exit(130);
        }
      }
    });
  }

 private:
  sigset_t set_{};
  int signals_ = -1;
  int wake_ = -1;
  std::thread thread_;
};

// A training run shows its progress: a line kept below the logs on a terminal, plain lines every
// ten seconds elsewhere (a CI log, a file); --progress picks one, or off.
std::unique_ptr<tc::RunProgress> make_progress(const Options& o, const tc::Plan& plan, tc::Logging& logging) {
  const bool trains = std::any_of(plan.nodes.begin(), plan.nodes.end(),
                                  [](const tc::NodePlan& n) { return n.type != nullptr && n.type->name == "trainer"; });
  if (o.progress == "off" || (o.progress == "auto" && (!trains || o.log_json))) return nullptr;
  const bool terminal = o.progress == "bar" || (o.progress == "auto" && isatty(STDERR_FILENO) == 1);
  if (terminal) {
    winsize size{};
    const int width = ioctl(STDERR_FILENO, TIOCGWINSZ, &size) == 0 && size.ws_col > 0 ? size.ws_col - 1 : 100;
    return std::make_unique<tc::RunProgress>(
        tc::RunProgress::Mode::terminal, [&logging](const std::string& line) { logging.set_status(line); },
        std::chrono::milliseconds(250), width);
  }
  return std::make_unique<tc::RunProgress>(
      tc::RunProgress::Mode::lines, [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); },
      std::chrono::seconds(10), 0);
}

int cmd_run(const Options& o) {
  SignalWatcher signals;  // before any thread starts, so every thread inherits the mask
  tc::Logging logging(log_settings(o));
  tc::PluginRegistry registry;
  tc::RunInfo run;
  tc::Plan plan = prepare(o, registry, logging, run);
  try {
    tc::create_run_dir(plan.run, plan.decl.expanded_toml);
  } catch (const std::exception& e) {
    report(o, "error", e.what());
    return kExitNodeFailed;
  }
  std::cout << "run directory: " << plan.run.dir << std::endl;
  tc::Runtime runtime(plan, logging);
  // The store records every run; when it cannot be written the run goes on unrecorded, or stops
  // with --store-errors stop.
  bool stop_on_store_error = o.store_errors == "stop";
  std::unique_ptr<tc::RunRecorder> recorder;
  if (!o.no_store) {
    recorder = std::make_unique<tc::RunRecorder>(
        tc::default_store_path(o.store),
        stop_on_store_error ? tc::StoreErrorPolicy::stop_run : tc::StoreErrorPolicy::keep_running,
        [&runtime, stop_on_store_error](const std::string& message) {
          // One write: the progress line, printed from another thread, never lands inside it.
          std::cerr << ("error: " + message + "\n") << std::flush;
          if (stop_on_store_error) runtime.request_stop("the run store cannot be written");
        });
    try {
      tc::RunRecord record = tc::record_of(plan);
      record.resumed_from = o.resumed_from;
      recorder->begin(record);
    } catch (const tc::StoreError& e) {
      recorder.reset();
      if (stop_on_store_error) {
        std::cerr << "error: " << e.what() << "\n";
        return kExitNodeFailed;
      }
      std::cerr << "warning: " << e.what() << "; this run is not recorded (--store-errors stop refuses to run)\n";
    }
  }
  // Past runs for the nodes that show them (the dashboard), read from the store this run records in.
  std::unique_ptr<tc::StoreHistory> history;
  if (recorder) {
    history = std::make_unique<tc::StoreHistory>(tc::default_store_path(o.store), recorder->id());
    tc::offer_history(plan, history.get());
  }
  auto progress = make_progress(o, plan, logging);
  tc::ObserverList observers;
  if (recorder) observers.add(recorder.get());
  if (progress) observers.add(progress.get());
  if (!observers.empty()) runtime.observe(&observers);
  signals.watch(runtime);
  if (progress) progress->start();
  tc::RunResult result = runtime.run();
  if (progress) progress->finish();
  signals.stop();  // before the runtime, the plan and the plugins go
  logging.flush();
  if (recorder) {
    recorder->finish(result);
    if (recorder->points_dropped() > 0)
      std::cerr << "warning: the run store lost " << recorder->points_dropped() << " metric points\n";
  }

  int name_width = 4, plugin_width = 6;
  for (const auto& s : result.nodes) {
    name_width = std::max(name_width, static_cast<int>(s.name.size()));
    plugin_width = std::max(plugin_width, static_cast<int>(s.plugin.size()));
  }
  std::printf("%-*s %-*s %10s %10s %8s %9s\n", name_width, "node", plugin_width, "plugin", "in", "out", "drops",
              "busy_s");
  for (const auto& s : result.nodes) {
    std::printf("%-*s %-*s %10llu %10llu %8llu %9.3f\n", name_width, s.name.c_str(), plugin_width, s.plugin.c_str(),
                static_cast<unsigned long long>(s.packets_in), static_cast<unsigned long long>(s.packets_out),
                static_cast<unsigned long long>(s.drops), s.busy_s);
  }
  if (progress) {
    for (const auto& line : tc::progress_summary(progress->state())) std::cout << line << "\n";
  }
  std::cout << "run directory: " << plan.run.dir << std::endl;
  if (recorder && recorder->error().empty()) {
    std::cout << "recorded as run " << recorder->id() << " in " << tc::default_store_path(o.store) << std::endl;
    if (progress) {
      std::string store = o.store.empty() ? "" : " --store " + o.store;
      std::cout << "look again: tributary runs show " << recorder->id() << store << "\n"
                << "go on:      tributary runs resume " << recorder->id() << store << std::endl;
    }
  }
  if (recorder && !recorder->error().empty() && stop_on_store_error) {
    std::cerr << "error: stopped because the run store cannot be written: " << recorder->error() << std::endl;
    return kExitNodeFailed;
  }
  switch (result.status) {
    case tc::RunResult::Status::finished:
      std::cout << "finished in " << result.wall_s << " s" << std::endl;
      return kExitFinished;
    case tc::RunResult::Status::stopped:
      std::cout << "stopped after " << result.wall_s << " s: " << result.stop_reason << std::endl;
      return kExitFinished;
    case tc::RunResult::Status::failed:
      report(o, "error", "node '" + result.failed_node + "' failed: " + result.error);
      return kExitNodeFailed;
  }
  return kExitFinished;
}

// Runs a recorded run's pipeline again, as it was after --set and ${VAR}, in a new run directory:
// paths inside the old run directory move to the new one, and every node whose type declares a
// `resume` parameter gets the old run directory there, to continue from its newest checkpoint.
int cmd_resume(Options o) {
  std::string id = o.runs.ids.at(0);
  tc::StoredRun old;
  std::string text;
  {
    tc::RunStore store(o.runs.store);
    old = store.run(id);
    text = store.pipeline_text(id);
  }
  if (text.empty()) {
    std::cerr << "error: run " << id << " in " << o.runs.store << " has no recorded pipeline to resume\n";
    return kExitInvalid;
  }
  tc::RunInfo fresh = tc::make_run_info(old.name, o.run_dir);
  text = tc::replace_all(text, old.run_dir, fresh.dir);
  tc::create_run_dir(fresh, text);
  std::string file = (std::filesystem::path(fresh.dir) / kResumedPipelineFile).string();
  std::filesystem::rename(std::filesystem::path(fresh.dir) / "pipeline.toml", file);
  tc::PipelineDecl decl = tc::load_pipeline(file, {});
  tc::PluginRegistry registry;
  load_plugins(registry, o, decl.plugin_path);
  std::vector<std::string> overrides;
  for (const auto& node : decl.nodes) {
    const NodeType* type = registry.find(node.plugin);
    if (type != nullptr && type->spec.find_param("resume") != nullptr)
      overrides.push_back(node.name + ".resume=" + old.run_dir);
  }
  std::cout << "resuming run " << id << " (" << old.status << ")"
            << (overrides.empty() ? ": no node declares `resume`, so the pipeline runs again from the start" : "")
            << std::endl;
  for (const auto& set : overrides) std::cout << "  --set " << set << std::endl;
  o.file = file;
  o.run_dir = fresh.dir;
  o.overrides.insert(o.overrides.begin(), overrides.begin(), overrides.end());
  o.resumed_from = id;
  if (o.store.empty()) o.store = o.runs.store;
  return cmd_run(o);
}

}  // namespace

int main(int argc, char** argv) {
  // A file-size limit (ulimit -f) and a closed stdout are write errors, not reasons to die: with
  // the signals ignored, write() fails with EFBIG or EPIPE and the writer reports it (a sink
  // fails with its path; the CLI's own output simply ends, as with `tributary ... | head -1`).
  signal(SIGXFSZ, SIG_IGN);
  signal(SIGPIPE, SIG_IGN);
  CLI::App app{"Tributary: live training pipelines declared in TOML"};
  app.set_version_flag("--version", std::string("tributary ") + TRIBUTARY_VERSION_STRING + " (plugin ABI " +
                                        std::to_string(TRIBUTARY_ABI_VERSION) + ")");
  app.require_subcommand(1);
  Options o;
  auto common = [&](CLI::App* cmd) {
    cmd->add_option("--log-level", o.log_levels, "LEVEL or NODE=LEVEL (trace, debug, info, warn, error)");
    cmd->add_flag("--log-json", o.log_json, "log JSON lines on stderr");
    cmd->add_option("--plugin-path", o.plugin_paths, "a further folder of plugins (searched first)");
  };
  auto pipeline = [&](CLI::App* cmd) {
    cmd->add_option("file", o.file, "the pipeline file")->required();
    cmd->add_option("--set", o.overrides, "override a parameter: node.key=value (also node.plugin=TYPE)");
    common(cmd);
  };
  auto store_options = [&](CLI::App* cmd) {
    cmd->add_option("--store", o.store, "the run store (default $TRIBUTARY_STORE, else runs/tributary.db)");
  };
  auto recording = [&](CLI::App* cmd) {
    store_options(cmd);
    cmd->add_flag("--no-store", o.no_store, "do not record the run in the run store");
    cmd->add_option("--store-errors", o.store_errors, "when the store cannot be written: continue (unrecorded) or stop")
        ->check(CLI::IsMember({"continue", "stop"}));
    cmd->add_option("--run-dir", o.run_dir, "the run directory (default runs/<pipeline>/<run id>)");
  };
  auto progress_option = [&](CLI::App* cmd) {
    cmd->add_option("--progress", o.progress,
                    "a training run's progress: auto (a bar on a terminal, else lines), bar, lines, off")
        ->check(CLI::IsMember({"auto", "bar", "lines", "off"}));
  };
  auto* run = app.add_subcommand("run", "run a pipeline");
  pipeline(run);
  recording(run);
  progress_option(run);
  auto* runs = app.add_subcommand("runs", "the recorded runs: list, show, export, compare, rm, resume");
  runs->require_subcommand(1);
  auto* runs_list = runs->add_subcommand("list", "list the recorded runs");
  runs_list->add_option("--pipeline", o.runs.pipeline, "only the runs of this pipeline (its name)");
  runs_list->add_option("--status", o.runs.status, "only the runs with this status")
      ->check(CLI::IsMember({"running", "finished", "stopped", "failed", "interrupted"}));
  auto* runs_show = runs->add_subcommand("show", "a run's settings, plugins, metrics, checkpoints and warnings");
  runs_show->add_option("id", o.runs.ids, "the run id")->required()->expected(1);
  auto* runs_export = runs->add_subcommand("export", "a run's metric points, one per row, on stdout");
  runs_export->add_option("id", o.runs.ids, "the run id")->required()->expected(1);
  runs_export->add_option("--format", o.runs.format, "csv or jsonl")->check(CLI::IsMember({"csv", "jsonl"}));
  runs_export->add_option("--node", o.runs.node, "only the points of this node");
  auto* runs_compare = runs->add_subcommand("compare", "runs side by side: hyperparameters and best metrics");
  runs_compare->add_option("ids", o.runs.ids, "two or more run ids")->required()->expected(2, 1000);
  auto* runs_rm = runs->add_subcommand("rm", "remove runs from the store (their run directories stay)");
  runs_rm->add_option("ids", o.runs.ids, "the run ids")->required();
  auto* runs_resume = runs->add_subcommand("resume", "run a recorded pipeline again, continuing from its checkpoints");
  runs_resume->add_option("id", o.runs.ids, "the run id")->required()->expected(1);
  runs_resume->add_option("--set", o.overrides, "override a parameter: node.key=value");
  progress_option(runs_resume);
  recording(runs_resume);
  common(runs_resume);
  for (auto* cmd : {runs_list, runs_show, runs_export, runs_compare, runs_rm}) store_options(cmd);
  auto* validate = app.add_subcommand("validate", "check a pipeline without running it");
  pipeline(validate);
  auto* plugins = app.add_subcommand("plugins", "list the node types");
  plugins->add_flag("--json", o.json, "as JSON");
  common(plugins);
  auto* describe = app.add_subcommand("describe", "show a node type's ports and parameters");
  describe->add_option("type", o.type, "the node type")->required();
  describe->add_flag("--json", o.json, "as JSON");
  common(describe);
  auto* graph = app.add_subcommand("graph", "print a pipeline's graph");
  pipeline(graph);
  graph->add_option("--format", o.format, "dot or mermaid")->check(CLI::IsMember({"dot", "mermaid"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return kExitInvalid;
  }

  try {
    o.runs.store = tc::default_store_path(o.store);
    if (*run) return cmd_run(o);
    if (*runs_list) return tc::runs_list(o.runs);
    if (*runs_show) return tc::runs_show(o.runs);
    if (*runs_export) return tc::runs_export(o.runs);
    if (*runs_compare) return tc::runs_compare(o.runs);
    if (*runs_rm) return tc::runs_rm(o.runs);
    if (*runs_resume) return cmd_resume(o);
    if (*validate) return cmd_check(o, false);
    if (*plugins) return cmd_plugins(o);
    if (*describe) return cmd_describe(o);
    if (*graph) return cmd_check(o, true);
  } catch (const tc::PipelineError& e) {
    for (const auto& d : e.diagnostics()) report(o, d);
    return kExitInvalid;
  } catch (const tc::StoreError& e) {
    std::cerr << "error: " << e.what() << "\n";
    return kExitInvalid;
  } catch (const CLI::ValidationError& e) {
    report(o, "error", e.what());
    return kExitInvalid;
  } catch (const std::exception& e) {
    report(o, "error", e.what());
    return kExitNodeFailed;
  }
  return kExitInvalid;
}

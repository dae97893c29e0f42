#include "runs_command.hpp"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <iostream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>

#include "run_store.hpp"

namespace tributary::core {

namespace {

constexpr int kOk = 0;

std::string utc(double t) {
  if (t <= 0) return "-";
  auto seconds = static_cast<std::time_t>(t);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char buffer[32];
  std::strftime(buffer, sizeof buffer, "%Y-%m-%d %H:%M:%S", &tm);
  return buffer;
}

double now_s() { return static_cast<double>(std::time(nullptr)); }

std::string duration(const StoredRun& r) {
  double end = r.end_time > 0 ? r.end_time : (r.status == "running" ? now_s() : r.start_time);
  double s = std::max(0.0, end - r.start_time);
  char buffer[32];
  if (s < 60) {
    std::snprintf(buffer, sizeof buffer, "%.1fs", s);
  } else if (s < 3600) {
    std::snprintf(buffer, sizeof buffer, "%dm%02ds", static_cast<int>(s) / 60, static_cast<int>(s) % 60);
  } else {
    std::snprintf(buffer, sizeof buffer, "%dh%02dm", static_cast<int>(s) / 3600, (static_cast<int>(s) / 60) % 60);
  }
  return buffer;
}

// The shortest text that reads back to the same double, as the export sinks write numbers.
std::string number(double v) {
  char buffer[64];
  auto result = std::to_chars(buffer, buffer + sizeof buffer, v);
  return std::string(buffer, result.ptr);
}

std::string shown(double v) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "%.6g", v);
  return buffer;
}

// RFC 4180, as the csv sink quotes.
void append_field(std::string& out, const std::string& text) {
  if (text.find_first_of(",\"\r\n") == std::string::npos) {
    out += text;
    return;
  }
  out += '"';
  for (char c : text) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

bool is_telemetry(const std::string& name) { return name.rfind("telemetry/", 0) == 0; }

void print_table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<std::size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (std::size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  for (const auto& row : rows) {
    std::string line;
    for (std::size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    std::cout << line << "\n";
  }
}

}  // namespace

int runs_list(const RunsOptions& o) {
  RunStore store(o.store);
  auto runs = store.runs(o.pipeline, o.status);
  if (runs.empty()) {
    std::cerr << "no runs" << (o.pipeline.empty() ? "" : " of pipeline '" + o.pipeline + "'")
              << (o.status.empty() ? "" : " with status " + o.status) << " in " << store.path() << "\n";
    return kOk;
  }
  std::vector<std::vector<std::string>> rows{{"id", "name", "status", "start (UTC)", "duration", "best"}};
  for (const auto& r : runs) {
    auto best = store.headline(r.id);
    rows.push_back(
        {r.id, r.name, r.status, utc(r.start_time), duration(r), best ? best->name + " " + shown(best->best) : "-"});
  }
  print_table(rows);
  return kOk;
}

int runs_show(const RunsOptions& o) {
  RunStore store(o.store);
  StoredRun r = store.run(o.ids.at(0));
  std::cout << "run " << r.id << " of pipeline '" << r.name << "': " << r.status
            << (r.reason.empty() ? "" : " (" + r.reason + ")") << "\n";
  std::vector<std::vector<std::string>> about{{"  pipeline", r.pipeline_path},
                                              {"  run dir", r.run_dir},
                                              {"  started", utc(r.start_time) + " UTC, " + duration(r)},
                                              {"  host", r.host},
                                              {"  tributary", r.version},
                                              {"  points", std::to_string(r.points)}};
  if (!r.resumed_from.empty()) about.push_back({"  resumed from", r.resumed_from});
  print_table(about);
  std::cout << "plugins:\n";
  for (const auto& [family, library] : store.plugins(r.id)) std::cout << "  " << family << "  " << library << "\n";
  std::cout << "hyperparameters:\n";
  for (const auto& [key, value] : store.hyperparameters(r.id)) std::cout << "  " << key << " = " << value << "\n";
  std::cout << "metrics:\n";
  std::vector<std::vector<std::string>> rows{{"  node", "name", "points", "last", "(step)", "best", "(step)"}};
  std::int64_t telemetry = 0;
  for (const auto& m : store.metric_summaries(r.id)) {
    if (is_telemetry(m.name)) {
      telemetry += m.count;
      continue;
    }
    rows.push_back({"  " + m.node, m.name, std::to_string(m.count), shown(m.last), std::to_string(m.last_step),
                    shown(m.best) + (m.lower_is_better ? " (min)" : " (max)"), std::to_string(m.best_step)});
  }
  if (rows.size() > 1) print_table(rows);
  if (telemetry > 0) std::cout << "  and " << telemetry << " telemetry points (runs export lists them)\n";
  auto checkpoints = store.checkpoints(r.id);
  std::cout << "checkpoints:" << (checkpoints.empty() ? " none recorded" : "") << "\n";
  for (const auto& c : checkpoints)
    std::cout << "  " << c.path << "  step " << c.step << (c.best ? "  best" : "") << "  " << c.metrics
              << (std::filesystem::exists(c.path) ? "" : "  (removed since)") << "\n";
  auto logs = store.logs(r.id);
  std::cout << "warnings and errors:" << (logs.empty() ? " none" : "") << "\n";
  for (std::size_t i = 0; i < logs.size() && i < 20; ++i)
    std::cout << "  " << utc(logs[i].time) << " " << logs[i].level << " [" << logs[i].node << "] " << logs[i].message
              << "\n";
  if (logs.size() > 20) std::cout << "  and " << logs.size() - 20 << " more\n";
  return kOk;
}

int runs_export(const RunsOptions& o) {
  RunStore store(o.store);
  StoredRun r = store.run(o.ids.at(0));
  bool csv = o.format == "csv";
  if (csv) std::cout << "time,node,name,step,epoch,value\n";
  std::string out;
  store.for_each_metric(r.id, o.node, [&](const StoredMetric& m) {
    if (csv) {
      out += number(m.time);
      out += ',';
      append_field(out, m.node);
      out += ',';
      append_field(out, m.name);
      out += ',';
      out += std::to_string(m.step);
      out += ',';
      out += std::to_string(m.epoch);
      out += ',';
      out += number(m.value);
      out += '\n';
    } else {
      out += nlohmann::json{{"time", m.time}, {"node", m.node},   {"name", m.name},
                            {"step", m.step}, {"epoch", m.epoch}, {"value", m.value}}
                 .dump();
      out += '\n';
    }
    if (out.size() > (1 << 16)) {
      std::cout << out;
      out.clear();
    }
  });
  std::cout << out << std::flush;
  return kOk;
}

int runs_compare(const RunsOptions& o) {
  RunStore store(o.store);
  std::vector<StoredRun> runs;
  for (const auto& id : o.ids) runs.push_back(store.run(id));
  std::vector<std::string> header{"", ""};
  for (const auto& r : runs) header.push_back(r.id);
  // Hyperparameters: every key any run has; '*' marks the rows that differ.
  std::map<std::string, std::vector<std::string>> params;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    for (const auto& [key, value] : store.hyperparameters(runs[i].id)) {
      auto& row = params[key];
      row.resize(runs.size(), "-");
      row[i] = value;
    }
  }
  std::vector<std::vector<std::string>> rows{header};
  rows.push_back({"", "status"});
  for (const auto& r : runs) rows.back().push_back(r.status);
  for (auto& [key, values] : params) {
    values.resize(runs.size(), "-");
    bool differ = std::any_of(values.begin(), values.end(), [&](const std::string& v) { return v != values[0]; });
    std::vector<std::string> row{differ ? "*" : "", key};
    row.insert(row.end(), values.begin(), values.end());
    rows.push_back(std::move(row));
  }
  // Metrics: the best of each, by node and name.
  std::map<std::string, std::vector<std::string>> best;
  for (std::size_t i = 0; i < runs.size(); ++i) {
    for (const auto& m : store.metric_summaries(runs[i].id)) {
      if (is_telemetry(m.name)) continue;
      std::string key = "best " + m.node + " " + m.name + (m.lower_is_better ? " (min)" : " (max)");
      auto& row = best[key];
      row.resize(runs.size(), "-");
      row[i] = shown(m.best);
    }
  }
  for (auto& [key, values] : best) {
    values.resize(runs.size(), "-");
    bool differ = std::any_of(values.begin(), values.end(), [&](const std::string& v) { return v != values[0]; });
    std::vector<std::string> row{differ ? "*" : "", key};
    row.insert(row.end(), values.begin(), values.end());
    rows.push_back(std::move(row));
  }
  print_table(rows);
  return kOk;
}

int runs_rm(const RunsOptions& o) {
  RunStore store(o.store);
  for (const auto& id : o.ids) {
    store.remove(id);
    std::cout << "removed run " << id << " from " << store.path() << " (its run directory stays)\n";
  }
  return kOk;
}

}  // namespace tributary::core

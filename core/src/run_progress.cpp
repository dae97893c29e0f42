#include "run_progress.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

#include "tributary/control.hpp"

namespace tributary::core {

void ObserverList::on_metrics(const std::vector<MetricPoint>& points) {
  for (auto* o : observers_) o->on_metrics(points);
}
void ObserverList::on_log(const LogRecord& record) {
  for (auto* o : observers_) o->on_log(record);
}
void ObserverList::on_control(const Packet& packet) {
  for (auto* o : observers_) o->on_control(packet);
}

const MetricPoint* ProgressState::find(const std::string& name) const {
  auto it = latest.find(name);
  return it == latest.end() ? nullptr : &it->second;
}

namespace {

std::string duration_text(double seconds) {
  if (!(seconds >= 0.0)) seconds = 0.0;
  const auto s = static_cast<long long>(std::llround(seconds));
  char buf[32];
  if (s >= 3600) {
    std::snprintf(buf, sizeof buf, "%lldh%02lldm", s / 3600, (s / 60) % 60);
  } else if (s >= 60) {
    std::snprintf(buf, sizeof buf, "%lldm%02llds", s / 60, s % 60);
  } else {
    std::snprintf(buf, sizeof buf, "%llds", s);
  }
  return buf;
}

std::string number(double v, int digits = 3) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}

// Columns a UTF-8 string takes: one per code point (the bar's blocks are one column each).
int columns(const std::string& s) {
  int n = 0;
  for (unsigned char c : s) n += (c & 0xC0) != 0x80 ? 1 : 0;
  return n;
}

std::string bar(double fraction, int cells) {
  fraction = std::clamp(fraction, 0.0, 1.0);
  const int full = static_cast<int>(std::floor(fraction * cells));
  std::string out;
  for (int i = 0; i < cells; ++i) out += i < full ? "\u2588" : "\u2591";
  return out;
}

// The parts of the status line, most important first; the line keeps as many as fit.
std::vector<std::string> parts_of(const ProgressState& s, bool with_bar) {
  std::vector<std::string> parts;
  const MetricPoint* loss = s.find("train/loss");
  const MetricPoint* progress = s.find(metric::kProgress);
  const MetricPoint* done = s.find(metric::kEpoch);
  std::int64_t epoch = done != nullptr ? static_cast<std::int64_t>(done->value) + 1 : 1;
  if (loss != nullptr) epoch = std::max(epoch, loss->epoch + 1);
  if (s.epochs) epoch = std::min(epoch, *s.epochs);
  // A trainer that goes by epochs names them; an online one (its points have no epoch) does not.
  const bool by_epochs = done != nullptr || s.epochs || loss == nullptr || loss->epoch >= 0;
  std::string head = by_epochs ? "epoch " + std::to_string(epoch) : std::string("online");
  if (s.epochs) head += "/" + std::to_string(*s.epochs);
  if (!s.state.empty()) head += " (" + s.state + ")";
  parts.push_back(head);
  if (progress != nullptr) {
    const std::string percent = std::to_string(static_cast<int>(std::floor(progress->value * 100.0))) + "%";
    parts.push_back(with_bar ? bar(progress->value, 20) + " " + percent : percent);
  }
  if (loss != nullptr) parts.push_back("step " + std::to_string(loss->step));
  if (loss != nullptr) parts.push_back("loss " + number(loss->value, 4));
  if (const auto* acc = s.find("train/accuracy")) parts.push_back("acc " + number(acc->value));
  if (const auto* val = s.find("val/accuracy")) parts.push_back("val acc " + number(val->value));
  if (const auto* eta = s.find("eta_s"); eta != nullptr && progress != nullptr && progress->value < 1.0) {
    parts.push_back("ETA " + duration_text(eta->value - std::max(0.0, wall_time_s() - eta->time)));
  }
  if (const auto* rate = s.find("samples_per_s")) parts.push_back(number(rate->value, 0) + " samples/s");
  parts.push_back(duration_text(s.elapsed_s));
  return parts;
}

std::string join(const std::vector<std::string>& parts, const char* separator, int width) {
  std::string line;
  for (const auto& p : parts) {
    const std::string next = line.empty() ? p : line + separator + p;
    if (width > 0 && columns(next) > width) break;
    line = next;
  }
  return line;
}

}  // namespace

std::string progress_line(const ProgressState& state, int width) {
  if (state.find("train/loss") == nullptr && state.find("progress") == nullptr) {
    return join({"training: waiting for the first batch", duration_text(state.elapsed_s)}, "  ", width);
  }
  return join(parts_of(state, true), "  ", width);
}

std::vector<std::string> progress_summary(const ProgressState& state) {
  std::vector<std::string> lines;
  // Test scores when the run got to its test split, else the last validation's.
  std::string split = state.find("test/accuracy") != nullptr || state.find("test/loss") != nullptr ? "test" : "val";
  std::vector<std::string> scores;
  for (const char* name : {"accuracy", "loss", "f1", "fpr", "fnr"}) {
    if (const auto* p = state.find(split + "/" + name)) scores.push_back(std::string(name) + " " + number(p->value));
  }
  if (!scores.empty()) {
    std::string line = split + ":";
    for (const auto& s : scores) line += "  " + s;
    lines.push_back(line);
  }
  // Per class: SPLIT/fpr/CLASS and SPLIT/fnr/CLASS.
  std::set<std::string> classes;
  for (const auto& [name, point] : state.latest) {
    for (const char* kind : {"/fpr/", "/fnr/"}) {
      const std::string prefix = split + kind;
      if (name.rfind(prefix, 0) == 0) classes.insert(name.substr(prefix.size()));
    }
  }
  if (!classes.empty()) {
    std::size_t width = 5;
    for (const auto& c : classes) width = std::max(width, c.size());
    char buf[256];
    std::snprintf(buf, sizeof buf, "  %-*s %7s %7s", static_cast<int>(width), "class", "FPR", "FNR");
    lines.emplace_back(buf);
    for (const auto& c : classes) {
      const auto* fpr = state.find(split + "/fpr/" + c);
      const auto* fnr = state.find(split + "/fnr/" + c);
      std::snprintf(buf, sizeof buf, "  %-*s %7s %7s", static_cast<int>(width), c.c_str(),
                    fpr != nullptr ? number(fpr->value).c_str() : "-",
                    fnr != nullptr ? number(fnr->value).c_str() : "-");
      lines.emplace_back(buf);
    }
  }
  if (const auto& best = state.best_checkpoint ? state.best_checkpoint : state.newest_checkpoint) {
    std::ostringstream line;
    line << (state.best_checkpoint ? "best checkpoint: " : "newest checkpoint: ") << best->path << " (step "
         << best->step;
    if (best->epoch >= 0) line << ", epoch " << best->epoch;
    // The first metric is the one it was chosen by.
    if (!best->metrics.empty()) line << ", " << best->metrics[0].first << " " << number(best->metrics[0].second, 4);
    line << ")";
    lines.push_back(line.str());
  }
  return lines;
}

RunProgress::RunProgress(Mode mode, std::function<void(const std::string&)> show, std::chrono::milliseconds period,
                         int width)
    : mode_(mode), show_(std::move(show)), period_(period), width_(width), started_(std::chrono::steady_clock::now()) {}

RunProgress::~RunProgress() { finish(); }

void RunProgress::start() {
  started_ = std::chrono::steady_clock::now();
  thread_ = std::thread([this] { draw_loop(); });
}

void RunProgress::finish() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (done_) return;
    done_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
  if (mode_ == Mode::terminal) show_("");
}

ProgressState RunProgress::state() const {
  std::lock_guard<std::mutex> lock(mutex_);
  ProgressState copy = state_;
  copy.elapsed_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
  return copy;
}

void RunProgress::on_metrics(const std::vector<MetricPoint>& points) {
  bool epoch_ended = false;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    for (const auto& p : points) {
      // The runtime's per-node telemetry says nothing about training.
      if (p.name.rfind("telemetry/", 0) == 0) continue;
      if (p.name == metric::kEpochs) state_.epochs = static_cast<std::int64_t>(p.value);
      epoch_ended = epoch_ended || p.name == metric::kEpoch;
      state_.latest[p.name] = p;
      ++changes_;
    }
    epoch_ended_ = epoch_ended_ || epoch_ended;
  }
  // Plain lines come at each epoch's end, however short the epochs are.
  if (epoch_ended && mode_ == Mode::lines) wake_.notify_all();
}

void RunProgress::on_control(const Packet& packet) {
  std::lock_guard<std::mutex> lock(mutex_);
  if (auto note = artifact_note(packet); note && note->kind == "checkpoint") {
    if (note->best) state_.best_checkpoint = *note;
    state_.newest_checkpoint = *note;
  } else if (auto request = control_request(packet); request && request->target.empty()) {
    if (request->verb == ControlVerb::pause) state_.state = "paused";
    if (request->verb == ControlVerb::resume) state_.state.clear();
    if (request->verb == ControlVerb::stop) state_.state = "stopping";
  } else if (auto run = run_state(packet); run && run->state != "running") {
    state_.state = run->state;
  }
  ++changes_;
}

void RunProgress::draw_loop() {
  std::uint64_t shown = 0;
  double shown_epoch = -1.0;
  auto shown_at = std::chrono::steady_clock::now();
  std::unique_lock<std::mutex> lock(mutex_);
  while (!done_) {
    wake_.wait_for(lock, mode_ == Mode::terminal ? period_ : std::chrono::milliseconds(200),
                   [this] { return done_ || (mode_ == Mode::lines && epoch_ended_); });
    if (done_) break;
    epoch_ended_ = false;
    if (mode_ == Mode::lines) {
      // A line at each new epoch, and every period while there is news.
      const MetricPoint* epoch = state_.find(metric::kEpoch);
      const bool new_epoch = epoch != nullptr && epoch->value != shown_epoch;
      const bool due = changes_ != shown && std::chrono::steady_clock::now() - shown_at >= period_;
      if (state_.latest.empty() || (!new_epoch && !due)) continue;
      if (epoch != nullptr) shown_epoch = epoch->value;
      shown_at = std::chrono::steady_clock::now();
    }
    shown = changes_;
    lock.unlock();
    const ProgressState s = state();
    if (mode_ == Mode::terminal) {
      show_(progress_line(s, width_));
    } else {
      show_("progress: " + join(parts_of(s, false), "  ", 0));
    }
    lock.lock();
  }
}

}  // namespace tributary::core

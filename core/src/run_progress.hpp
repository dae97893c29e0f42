#pragma once
// What the terminal shows of a training run: a status line redrawn in place (epoch, progress bar,
// step, loss, accuracy, samples/s, ETA) on a terminal, plain "progress:" lines elsewhere, and a
// summary at the end (test scores, per-class FPR/FNR, the best checkpoint).
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "runtime.hpp"

namespace tributary::core {

// Hands every observation to each observer in turn (a run store, a progress line).
class ObserverList final : public RunObserver {
 public:
  void add(RunObserver* observer) { observers_.push_back(observer); }
  bool empty() const noexcept { return observers_.empty(); }
  void on_metrics(const std::vector<MetricPoint>& points) override;
  void on_log(const LogRecord& record) override;
  void on_control(const Packet& packet) override;

 private:
  std::vector<RunObserver*> observers_;
};

// What the progress line knows: the newest value of each training metric, from whichever node
// reports them (a trainer).
struct ProgressState {
  std::map<std::string, MetricPoint> latest;  // by metric name
  std::optional<std::int64_t> epochs;         // how many the run makes, once the trainer says
  std::string state;                          // paused, stopping, or empty while running
  std::optional<ArtifactNote> best_checkpoint;
  std::optional<ArtifactNote> newest_checkpoint;
  double elapsed_s = 0.0;

  const MetricPoint* find(const std::string& name) const;
};

// The status line for a state, at most `width` columns ("" before the first training metric).
std::string progress_line(const ProgressState& state, int width);
// The lines printed at the end: test scores, per-class FPR/FNR, the best checkpoint.
std::vector<std::string> progress_summary(const ProgressState& state);

class RunProgress final : public RunObserver {
 public:
  enum class Mode { terminal, lines };
  // terminal: `show` gets the status line every `period` (an empty one clears it); lines: it gets
  // a "progress: ..." line at each new epoch, and every `period` while something changed.
  RunProgress(Mode mode, std::function<void(const std::string&)> show, std::chrono::milliseconds period, int width);
  ~RunProgress() override;
  RunProgress(const RunProgress&) = delete;
  RunProgress& operator=(const RunProgress&) = delete;

  void start();
  // Stops redrawing and clears the status line.
  void finish();
  ProgressState state() const;

  void on_metrics(const std::vector<MetricPoint>& points) override;
  void on_log(const LogRecord& record) override { (void)record; }
  void on_control(const Packet& packet) override;

 private:
  void draw_loop();

  Mode mode_;
  std::function<void(const std::string&)> show_;
  std::chrono::milliseconds period_;
  int width_;
  std::chrono::steady_clock::time_point started_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  ProgressState state_;
  std::uint64_t changes_ = 0;
  bool done_ = false;
  bool epoch_ended_ = false;  // an epoch ended since the last plain line: draw one now
  std::thread thread_;
};

}  // namespace tributary::core

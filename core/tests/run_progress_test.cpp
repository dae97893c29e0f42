#include "run_progress.hpp"

#include <catch2/catch.hpp>
#include <mutex>

#include "tributary/control.hpp"

using namespace tributary;
using namespace tributary::core;

namespace {
MetricPoint point(const std::string& name, double value, std::int64_t step = 10, std::int64_t epoch = 0) {
  return MetricPoint{wall_time_s(), "train", name, step, epoch, value};
}

// Collects what a RunProgress shows, from its drawing thread.
struct Screen {
  std::mutex mutex;
  std::vector<std::string> lines;
  std::function<void(const std::string&)> sink() {
    return [this](const std::string& line) {
      std::lock_guard<std::mutex> lock(mutex);
      lines.push_back(line);
    };
  }
  std::vector<std::string> seen() {
    std::lock_guard<std::mutex> lock(mutex);
    return lines;
  }
};

template <typename Predicate>
bool eventually(Predicate done) {
  for (int i = 0; i < 400 && !done(); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(10));
  return done();
}
}  // namespace

TEST_CASE("progress line: epoch of epochs, bar, step, loss, accuracy, ETA and rate, cut to the width") {
  ProgressState s;
  s.epochs = 15;
  s.elapsed_s = 75.0;
  for (const auto& p : {point(metric::kEpoch, 2.0, 120, 2), point(metric::kProgress, 0.5, 150, 2),
                        point(metric::kEtaSeconds, 90.0, 150, 2), point("train/loss", 0.41234, 150, 2),
                        point("train/accuracy", 0.875, 150, 2), point("val/accuracy", 0.8, 120, 1),
                        point("samples_per_s", 812.4, 150, 2)}) {
    s.latest[p.name] = p;
  }
  const auto line = progress_line(s, 200);
  CHECK_THAT(line, Catch::StartsWith("epoch 3/15  "));
  CHECK_THAT(line, Catch::Contains("\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2588\u2591"));
  CHECK_THAT(line, Catch::Contains(" 50%"));
  CHECK_THAT(line, Catch::Contains("step 150  loss 0.4123  acc 0.875  val acc 0.800"));
  CHECK_THAT(line, Catch::Contains("ETA 1m30s"));
  CHECK_THAT(line, Catch::Contains("812 samples/s"));
  CHECK_THAT(line, Catch::EndsWith("1m15s"));
  // A narrow terminal keeps the first parts whole.
  CHECK(progress_line(s, 30) == "epoch 3/15");
  s.state = "paused";
  CHECK_THAT(progress_line(s, 200), Catch::StartsWith("epoch 3/15 (paused)"));
}

TEST_CASE("progress line of an online trainer names no epoch") {
  // Online, the trainer's points belong to no epoch (-1) and no epoch count is known.
  ProgressState s;
  s.elapsed_s = 12.0;
  for (const auto& p : {point("train/loss", 1.8, 200, -1), point("samples_per_s", 950.0, 200, -1)}) {
    s.latest[p.name] = p;
  }
  CHECK(progress_line(s, 200) == "online  step 200  loss 1.8000  950 samples/s  12s");
  // A trainer in its first epoch, whose count is not known yet, still names it.
  s.latest["train/loss"] = point("train/loss", 1.8, 200, 0);
  CHECK_THAT(progress_line(s, 200), Catch::StartsWith("epoch 1  step 200"));
}

TEST_CASE("progress line before the first batch says so") {
  ProgressState s;
  s.elapsed_s = 4.0;
  CHECK(progress_line(s, 100) == "training: waiting for the first batch  4s");
}

TEST_CASE("progress summary: test scores, per-class FPR and FNR, the best checkpoint") {
  ProgressState s;
  for (const auto& p : {point("test/accuracy", 0.944), point("test/loss", 0.2), point("test/fpr/yes", 0.0125),
                        point("test/fnr/yes", 0.05), point("test/fpr/no", 0.01), point("test/fnr/no", 0.1),
                        point("val/accuracy", 0.9)}) {
    s.latest[p.name] = p;
  }
  ArtifactNote best;
  best.kind = "checkpoint";
  best.path = "/runs/x/checkpoints/step-90.pt";
  best.step = 90;
  best.epoch = 3;
  best.best = true;
  best.metrics = {{"val/loss", 0.25}};
  s.best_checkpoint = best;
  const auto lines = progress_summary(s);
  REQUIRE(lines.size() == 5);
  CHECK(lines[0] == "test:  accuracy 0.944  loss 0.200");
  CHECK(lines[1] == "  class     FPR     FNR");
  CHECK(lines[2] == "  no      0.010   0.100");
  CHECK(lines[3] == "  yes     0.013   0.050");
  CHECK(lines[4] == "best checkpoint: /runs/x/checkpoints/step-90.pt (step 90, epoch 3, val/loss 0.2500)");
}

TEST_CASE("progress summary without a test split gives the last validation") {
  ProgressState s;
  s.latest["val/accuracy"] = point("val/accuracy", 0.9);
  REQUIRE(progress_summary(s).size() == 1);
  CHECK(progress_summary(s)[0] == "val:  accuracy 0.900");
}

TEST_CASE("progress on a terminal redraws the line, follows pause and checkpoints, and clears it at the end") {
  Screen screen;
  RunProgress progress(RunProgress::Mode::terminal, screen.sink(), std::chrono::milliseconds(10), 120);
  progress.start();
  progress.on_metrics({point("train/loss", 0.5), point("telemetry/packets_in", 3.0)});
  CHECK(eventually([&] {
    auto seen = screen.seen();
    return !seen.empty() && seen.back().find("loss 0.5000") != std::string::npos;
  }));
  progress.on_control(*control_packet(ControlMessage{ControlVerb::pause}));
  CHECK(eventually([&] {
    auto seen = screen.seen();
    return seen.back().find("(paused)") != std::string::npos;
  }));
  ArtifactNote note;
  note.kind = "checkpoint";
  note.path = "/tmp/step-1.pt";
  note.best = true;
  progress.on_control(*control_packet(note));
  progress.finish();
  CHECK(screen.seen().back().empty());
  CHECK(progress.state().best_checkpoint->path == "/tmp/step-1.pt");
  CHECK(progress.state().find("telemetry/packets_in") == nullptr);
}

TEST_CASE("progress as plain lines: one at each new epoch, and none without news") {
  Screen screen;
  RunProgress progress(RunProgress::Mode::lines, screen.sink(), std::chrono::hours(1), 0);
  progress.start();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(screen.seen().empty());
  progress.on_metrics({point("train/loss", 0.5), point(metric::kEpoch, 1.0)});
  CHECK(eventually([&] { return screen.seen().size() == 1; }));
  CHECK_THAT(screen.seen()[0], Catch::StartsWith("progress: epoch 2  step 10  loss 0.5000"));
  progress.on_metrics({point("train/loss", 0.4)});
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  CHECK(screen.seen().size() == 1);  // the period is an hour; no new epoch
  progress.on_metrics({point(metric::kEpoch, 2.0)});
  CHECK(eventually([&] { return screen.seen().size() == 2; }));
  progress.finish();
  CHECK(screen.seen().size() == 2);
}

TEST_CASE("an observer list hands each observation to every observer") {
  struct Counter final : RunObserver {
    int metrics = 0, logs = 0, controls = 0;
    void on_metrics(const std::vector<MetricPoint>&) override { ++metrics; }
    void on_log(const LogRecord&) override { ++logs; }
    void on_control(const Packet&) override { ++controls; }
  } a, b;
  ObserverList list;
  list.add(&a);
  list.add(&b);
  list.on_metrics({point("x", 1.0)});
  list.on_log(LogRecord{});
  list.on_control(*control_packet(ControlMessage{ControlVerb::stop}));
  CHECK((a.metrics == 1 && a.logs == 1 && a.controls == 1));
  CHECK((b.metrics == 1 && b.logs == 1 && b.controls == 1));
}

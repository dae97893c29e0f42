#include "logging.hpp"

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include <atomic>
#include <cstdio>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <nlohmann/json.hpp>
#include <thread>

namespace tributary::core {

std::optional<LogLevel> parse_log_level(std::string_view text) noexcept {
  if (text == "trace") return LogLevel::trace;
  if (text == "debug") return LogLevel::debug;
  if (text == "info") return LogLevel::info;
  if (text == "warn" || text == "warning") return LogLevel::warn;
  if (text == "error") return LogLevel::error;
  return std::nullopt;
}

namespace {

spdlog::level::level_enum to_spdlog(LogLevel level) {
  switch (level) {
    case LogLevel::trace:
      return spdlog::level::trace;
    case LogLevel::debug:
      return spdlog::level::debug;
    case LogLevel::info:
      return spdlog::level::info;
    case LogLevel::warn:
      return spdlog::level::warn;
    case LogLevel::error:
      return spdlog::level::err;
  }
  return spdlog::level::info;
}

LogLevel from_spdlog(spdlog::level::level_enum level) {
  switch (level) {
    case spdlog::level::trace:
      return LogLevel::trace;
    case spdlog::level::debug:
      return LogLevel::debug;
    case spdlog::level::info:
      return LogLevel::info;
    case spdlog::level::warn:
      return LogLevel::warn;
    default:
      return LogLevel::error;
  }
}

double seconds(spdlog::log_clock::time_point t) { return std::chrono::duration<double>(t.time_since_epoch()).count(); }

// {"time": 1700000000.123, "level": "info", "node": "train", "message": "..."}
class JsonLinesFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    nlohmann::json line{{"time", seconds(msg.time)},
                        {"level", to_string(from_spdlog(msg.level))},
                        {"node", std::string(msg.logger_name.begin(), msg.logger_name.end())},
                        {"message", std::string(msg.payload.begin(), msg.payload.end())}};
    std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text += '\n';
    dest.append(text.data(), text.data() + text.size());
  }
  std::unique_ptr<spdlog::formatter> clone() const override { return std::make_unique<JsonLinesFormatter>(); }
};

// Set while a log line is being delivered through the bus, so that a node logging while it
// handles a log line does not feed itself forever.
thread_local bool t_in_bus = false;

}  // namespace

LogBusGuard::LogBusGuard() noexcept : previous_(t_in_bus) { t_in_bus = true; }
LogBusGuard::~LogBusGuard() { t_in_bus = previous_; }

namespace {

class SdkLogger final : public Logger {
 public:
  explicit SdkLogger(std::shared_ptr<spdlog::logger> logger) : logger_(std::move(logger)) {}
  void write(LogLevel level, std::string_view message) override { logger_->log(to_spdlog(level), message); }
  bool enabled(LogLevel level) const override { return logger_->should_log(to_spdlog(level)); }

 private:
  std::shared_ptr<spdlog::logger> logger_;
};

}  // namespace

// Log lines bound for the bus wait in a bounded queue; a thread of their own hands them to the bus,
// so the thread that logs never runs the fan-out, and never under spdlog's sink lock.
class BusSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  static constexpr std::size_t kBacklog = 4096;

  ~BusSink() override { set(nullptr); }

  // Starts handing lines to `bus`; an empty one hands over what is queued, then stops.
  void set(std::function<void(const LogRecord&)> bus) {
    if (dispatcher_.joinable()) {
      drain();
      {
        std::lock_guard<std::mutex> lock(queue_mutex_);
        closing_ = true;
      }
      queue_cv_.notify_all();
      dispatcher_.join();
    }
    std::lock_guard<std::mutex> lock(queue_mutex_);
    closing_ = false;
    bus_ = std::move(bus);
    if (bus_) dispatcher_ = std::thread([this] { dispatch(); });
  }

  // Waits until every line queued so far has been handed to the bus.
  void drain() {
    std::unique_lock<std::mutex> lock(queue_mutex_);
    idle_cv_.wait(lock, [&] { return !bus_ || (queue_.empty() && !handing_); });
  }

  std::uint64_t dropped() const noexcept { return dropped_.load(); }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    if (t_in_bus) return;
    std::lock_guard<std::mutex> lock(queue_mutex_);
    if (!bus_) return;
    if (queue_.size() >= kBacklog) {
      dropped_.fetch_add(1);
      return;
    }
    queue_.push_back(LogRecord{seconds(msg.time), std::string(msg.logger_name.begin(), msg.logger_name.end()),
                               from_spdlog(msg.level), std::string(msg.payload.begin(), msg.payload.end())});
    queue_cv_.notify_one();
  }
  void flush_() override {}

 private:
  void dispatch() {
    t_in_bus = true;  // what the bus does with a line is not logged back onto it
    std::unique_lock<std::mutex> lock(queue_mutex_);
    for (;;) {
      queue_cv_.wait(lock, [&] { return closing_ || !queue_.empty(); });
      if (queue_.empty()) return;  // closing, and nothing left
      std::deque<LogRecord> batch;
      batch.swap(queue_);
      handing_ = true;
      auto bus = bus_;
      lock.unlock();
      for (const auto& record : batch) bus(record);
      lock.lock();
      handing_ = false;
      idle_cv_.notify_all();
    }
  }

  std::mutex queue_mutex_;
  std::condition_variable queue_cv_;
  std::condition_variable idle_cv_;
  std::deque<LogRecord> queue_;
  bool handing_ = false;
  bool closing_ = false;
  std::atomic<std::uint64_t> dropped_{0};
  std::function<void(const LogRecord&)> bus_;
  std::thread dispatcher_;
};

// Log lines on stderr. On a terminal a status line (a progress bar) may stay below them: each
// log line clears it, prints, and draws it again, so the two never mix.
class ConsoleSink final : public spdlog::sinks::base_sink<std::mutex> {
 public:
  void set_status(const std::string& status) {
    std::lock_guard<std::mutex> lock(mutex_);
    status_ = status;
    std::fputs("\r\033[K", stderr);
    std::fputs(status_.c_str(), stderr);
    std::fflush(stderr);
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    formatter_->format(msg, formatted);
    if (!status_.empty()) std::fputs("\r\033[K", stderr);
    std::fwrite(formatted.data(), 1, formatted.size(), stderr);
    if (!status_.empty()) {
      std::fputs(status_.c_str(), stderr);
      std::fflush(stderr);
    }
  }
  void flush_() override { std::fflush(stderr); }

 private:
  std::string status_;
};

struct Logging::Sinks {
  std::shared_ptr<ConsoleSink> console = std::make_shared<ConsoleSink>();
  std::shared_ptr<BusSink> bus = std::make_shared<BusSink>();
  std::vector<std::shared_ptr<spdlog::logger>> loggers;
};

Logging::Logging(LogSettings settings) : settings_(std::move(settings)), sinks_(std::make_unique<Sinks>()) {
  if (settings_.json) {
    sinks_->console->set_formatter(std::make_unique<JsonLinesFormatter>());
  } else {
    sinks_->console->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v");
  }
}

Logging::~Logging() { flush(); }

std::unique_ptr<Logger> Logging::make(const std::string& name) {
  auto logger = std::make_shared<spdlog::logger>(
      name, spdlog::sinks_init_list{std::static_pointer_cast<spdlog::sinks::sink>(sinks_->console),
                                    std::static_pointer_cast<spdlog::sinks::sink>(sinks_->bus)});
  auto it = settings_.per_logger.find(name);
  logger->set_level(to_spdlog(it != settings_.per_logger.end() ? it->second : settings_.level));
  logger->flush_on(spdlog::level::warn);
  sinks_->loggers.push_back(logger);
  return std::make_unique<SdkLogger>(std::move(logger));
}

void Logging::set_bus(std::function<void(const LogRecord&)> bus) { sinks_->bus->set(std::move(bus)); }
void Logging::drain_bus() { sinks_->bus->drain(); }
std::uint64_t Logging::bus_drops() const noexcept { return sinks_->bus->dropped(); }

void Logging::set_status(const std::string& status) { sinks_->console->set_status(status); }

void Logging::flush() {
  for (auto& l : sinks_->loggers) l->flush();
}

}  // namespace tributary::core

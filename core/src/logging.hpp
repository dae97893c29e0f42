#pragma once
// Logging through spdlog: one logger per node, named after it, so one node's logs can be turned
// up alone (--log-level NODE=debug); text or JSON lines on stderr; every line also reaches the
// runtime's log bus, where sinks can subscribe to it.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "tributary/node.hpp"

namespace tributary::core {

std::optional<LogLevel> parse_log_level(std::string_view text) noexcept;

struct LogSettings {
  LogLevel level = LogLevel::info;
  std::map<std::string, LogLevel> per_logger;  // node name -> level
  bool json = false;
};

// While one is alive on a thread, log lines from that thread stay off the log bus (they still reach
// stderr): a node that logs while handling bus traffic must not feed itself.
class LogBusGuard {
 public:
  LogBusGuard() noexcept;
  ~LogBusGuard();
  LogBusGuard(const LogBusGuard&) = delete;
  LogBusGuard& operator=(const LogBusGuard&) = delete;

 private:
  bool previous_;
};

class Logging {
 public:
  explicit Logging(LogSettings settings);
  ~Logging();
  Logging(const Logging&) = delete;
  Logging& operator=(const Logging&) = delete;

  // A logger named `name` (a node name, or "tributary" for the runtime itself).
  std::unique_ptr<Logger> make(const std::string& name);
  // Where log lines go besides stderr; set while a run is going on, cleared after.
  // Lines reach the bus from a thread of Logging's own, through a bounded queue (a line that finds
  // it full is dropped and counted); an empty function hands over what is queued, then detaches.
  void set_bus(std::function<void(const LogRecord&)> bus);
  // Waits until every line logged so far has been handed to the bus.
  void drain_bus();
  std::uint64_t bus_drops() const noexcept;
  // A status line kept below the log lines on stderr (a progress bar, for a terminal only); an
  // empty one clears it.
  void set_status(const std::string& status);
  void flush();

 private:
  friend class BusSink;
  struct Sinks;
  LogSettings settings_;
  std::unique_ptr<Sinks> sinks_;
};

}  // namespace tributary::core

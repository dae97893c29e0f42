#pragma once
// Reconnecting a live source whose stream failed or ended (a device unplugged, an X server gone,
// a network stream dropped): a backoff that doubles from 250 ms up to 5 s, the number of
// reconnects (`capture/reconnects`) and the time spent without the stream (`capture/lost_s`).
#include <chrono>
#include <cstdint>
#include <string>
#include <utility>

#include "tributary/node.hpp"

namespace tributary::sources {

class Reconnector {
 public:
  static constexpr std::chrono::milliseconds kFirstBackoff{250};
  static constexpr std::chrono::milliseconds kLongestBackoff{5000};

  // How the log names what failed ("capture from bench.monitor") and what comes back ("the device").
  Reconnector(Context& context, std::string failing, std::string noun)
      : context_(&context), failing_(std::move(failing)), noun_(std::move(noun)) {}

  // Logs why the stream is gone, counts a reconnect and waits out the backoff; false when the run
  // stops meanwhile.
  bool wait_after(const std::string& why);
  // The stream runs again: logs how long it was gone and reports it.
  void back();

  std::int64_t reconnects() const noexcept { return reconnects_; }
  bool lost() const noexcept { return lost_at_ns_ != 0; }

 private:
  Context* context_;
  std::string failing_;
  std::string noun_;
  std::int64_t reconnects_ = 0;
  std::int64_t lost_at_ns_ = 0;  // monotonic time the stream was lost; 0 while it runs
  double lost_s_ = 0.0;
};

}  // namespace tributary::sources

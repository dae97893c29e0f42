#include "gstreamer/reconnect.hpp"

#include <algorithm>
#include <thread>

namespace tributary::sources {

namespace {
constexpr auto kPollSlice = std::chrono::milliseconds(50);  // a stop request is seen within this
}  // namespace

bool Reconnector::wait_after(const std::string& why) {
  context_->log().warn(failing_, " failed: ", why, "; reconnecting");
  if (lost_at_ns_ == 0) lost_at_ns_ = monotonic_ns();
  ++reconnects_;
  context_->metric("capture/reconnects", static_cast<double>(reconnects_));
  auto backoff = kFirstBackoff;
  for (std::int64_t i = 1; i < std::min<std::int64_t>(reconnects_, 6); ++i) backoff *= 2;
  backoff = std::min(backoff, kLongestBackoff);
  const auto until = std::chrono::steady_clock::now() + backoff;
  while (std::chrono::steady_clock::now() < until) {
    if (context_->stop_requested()) return false;
    std::this_thread::sleep_for(kPollSlice);
  }
  return !context_->stop_requested();
}

void Reconnector::back() {
  if (lost_at_ns_ == 0) return;
  const double gone_s = static_cast<double>(monotonic_ns() - lost_at_ns_) * 1e-9;
  lost_at_ns_ = 0;
  lost_s_ += gone_s;
  context_->metric("capture/lost_s", lost_s_);
  context_->log().info(noun_, " is back after ", reconnects_, " reconnect", reconnects_ == 1 ? "" : "s", ", ", gone_s,
                       " s without it");
}

}  // namespace tributary::sources

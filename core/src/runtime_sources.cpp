#include "runtime_impl.hpp"

namespace tributary::core {

// ---- sources ------------------------------------------------------------------------------
// Every block-policy link reachable from `from` through block-policy links.
void Runtime::Impl::collect_blocking_links(const NodeState& from, std::vector<LinkState*>& links) const {
  for (const auto& port_links : from.out_links) {
    for (LinkState* link : port_links) {
      if (link->plan->policy != QueuePolicy::block) continue;
      if (std::find(links.begin(), links.end(), link) != links.end()) continue;
      links.push_back(link);
      collect_blocking_links(*nodes_[link->plan->to], links);
    }
  }
}

void Runtime::Impl::collect_throttle(NodeState& source) {
  collect_blocking_links(source, source.throttle);
  for (LinkState* link : source.throttle) link->pull_sources.push_back(&source);
}

// The first full link downstream of a pull source, or nullptr when there is room everywhere.
LinkState* Runtime::Impl::full_link(const NodeState& source) const {
  for (LinkState* link : source.throttle) {
    if (link->depth() >= link->plan->capacity) return link;
  }
  return nullptr;
}

// A node emitting a long run from one callback waits, as a pull source would, until every
// blocking link below it is below its capacity. Polled: such a node runs on a thread of its own
// and waits for far longer than a poll takes.
bool Runtime::Impl::wait_for_room(const std::string& name) {
  auto it = std::find_if(nodes_.begin(), nodes_.end(), [&](const auto& n) { return n->plan->name == name; });
  if (it == nodes_.end()) return !stop_.load();
  NodeState& node = **it;
  // Found once per node, on its first wait; a pull source has them already.
  std::call_once(node.room_links_found, [&] {
    if (node.throttle.empty()) collect_blocking_links(node, node.throttle);
  });
  for (;;) {
    if (stop_.load()) return false;
    const bool full = std::any_of(node.throttle.begin(), node.throttle.end(), [&](LinkState* link) {
      const NodeState& to = *nodes_[link->plan->to];
      return link->depth() >= link->plan->capacity && !to.finished.load() && !to.failed.load();
    });
    if (!full) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
  }
}

// Queues a step of a pull source unless one is queued or running. From inside the graph.
void Runtime::Impl::schedule(NodeState& source) {
  if (source.finished.load() || source.scheduled.exchange(true)) return;
  source.fn->try_put(Envelope{nullptr, 0, 0, EnvelopeType::resume});
}

// The same from outside the graph (control, signals, the watchdog).
void Runtime::Impl::schedule_from_outside(NodeState& source) {
  std::shared_lock<std::shared_mutex> lock(graph_mutex_);
  if (running_.load()) schedule(source);
}

void Runtime::Impl::schedule_all_sources_from_outside() {
  for (auto& n : nodes_) {
    if (n->pull) schedule_from_outside(*n);
    // A timed source ends at once when asked to, not at its next tick.
    if (n->timed && source_ends(*n)) put_tick(*n);
  }
  { std::lock_guard<std::mutex> lock(wait_mutex_); }
  wait_cv_.notify_all();  // live sources waiting while paused
}

void Runtime::Impl::source_step(NodeState& node) {
  if (node.finished.load()) return;
  take_control(node);
  if (source_ends(node)) return finish_source(node);
  if (source_paused(node)) {
    node.scheduled.store(false);
    if (source_paused(node) || node.scheduled.exchange(true)) return;  // resume schedules it again
  }
  // The room left downstream, read once a step: the links' counters live on other cores.
  std::int64_t room = kSourceBatch;
  LinkState* fullest = nullptr;
  for (LinkState* link : node.throttle) {
    std::int64_t left = link->plan->capacity - link->depth();
    if (left < room) {
      room = left;
      fullest = link;
    }
  }
  if (room <= 0) {
    fullest->awaited.store(true);
    if (fullest->depth() > fullest->plan->capacity / 2) {
      node.scheduled.store(false);
      // Unless the link drained while the flag went up and nobody has scheduled a step.
      if (fullest->depth() > fullest->plan->capacity / 2 || node.scheduled.exchange(true)) return;
    }
    room = 1;
  }
  for (std::int64_t i = 0; i < room; ++i) {
    if (!produce(node) || source_ends(node)) return finish_source(node);
  }
  node.fn->try_put(Envelope{nullptr, 0, 0, EnvelopeType::resume});  // yield, then go on
}

// One call of a source's produce(); false at end of stream or when the source failed.
bool Runtime::Impl::produce(NodeState& node) {
  bool more = false;
  std::uint64_t t0 = busy_clock();
  guarded(node, [&] { more = node.plan->node->produce(*node.emitter); });
  node.busy_ticks.add(static_cast<std::int64_t>(busy_clock() - t0), false);
  return more && !node.failed.load();
}

void Runtime::Impl::finish_source(NodeState& node) {
  if (node.source_done.exchange(true)) return;
  finish(node);
  graph_->release_wait();
  source_released();
}

// A live source runs on a thread of its own: produce() waits for its device, and the
// runtime never makes it wait for downstream (full links drop by policy).
void Runtime::Impl::live_source_loop(NodeState& node) {
  while (!source_ends(node)) {
    take_control(node);
    if (source_paused(node)) {
      std::unique_lock<std::mutex> lock(wait_mutex_);
      wait_cv_.wait_for(lock, std::chrono::milliseconds(50), [&] { return source_ends(node) || !source_paused(node); });
      continue;
    }
    node.in_produce.store(true);
    bool more = produce(node);
    node.in_produce.store(false);
    if (!more) break;
  }
  finish_source(node);
  node.returned.store(true);
}

void Runtime::Impl::end_stuck_sources() {
  std::int64_t since = stop_time_ns_.load();
  if (!stop_.load() || since == 0) return;
  if (Clock::now().time_since_epoch().count() - since < std::chrono::nanoseconds(kLiveStopBound).count()) return;
  for (auto& n : nodes_) {
    if (!n->live || n->timed || !n->in_produce.load() || n->source_done.exchange(true)) continue;
    log_->warn("source '", n->plan->name, "' has not returned from produce() ", kLiveStopBound.count(),
               " ms after the stop request: its stream ends without it");
    end_stream(*n);
    graph_->release_wait();
    source_released();
  }
}

// ---- timers -------------------------------------------------------------------------------
// One thread keeps every node's timer; a due tick goes into the node's own turn. A node still
// busy with its last tick skips the ticks that fall due meanwhile.
void Runtime::Impl::timer_loop() {
  std::unique_lock<std::mutex> lock(timer_mutex_);
  for (auto& n : nodes_) {
    n->tick_ns = n->plan->context->timer_ns();
    // A source's first tick comes at once; any other node's one period after start.
    n->next_tick = Clock::now() + (n->timed ? Clock::duration(0) : std::chrono::nanoseconds(n->tick_ns));
  }
  while (!timer_stop_) {
    if (timers_dirty_) {
      timers_dirty_ = false;
      for (auto& n : nodes_) {
        std::int64_t period = n->plan->context->timer_ns();
        if (period != n->tick_ns) {
          n->tick_ns = period;
          n->next_tick = Clock::now() + std::chrono::nanoseconds(period);
        }
      }
    }
    auto now = Clock::now();
    auto wake = now + std::chrono::seconds(1);
    for (auto& n : nodes_) {
      if (n->tick_ns <= 0 || n->finished.load() || !n->fn) continue;
      if (n->next_tick <= now) {
        put_tick(*n);
        auto period = std::chrono::nanoseconds(n->tick_ns);
        n->next_tick += period;
        if (n->next_tick <= now) n->next_tick = now + period;  // fell behind: skip, never burst
      }
      wake = std::min(wake, n->next_tick);
    }
    timer_cv_.wait_until(lock, wake, [&] { return timer_stop_ || timers_dirty_; });
  }
}

// Puts a tick into the node's turn unless one is waiting there. Before the run starts (or after
// it) nothing takes it, and the flag must not stay up: it would hold back every later tick.
void Runtime::Impl::put_tick(NodeState& node) {
  if (node.tick_pending.exchange(true)) return;
  if (!put_from_outside(node, Envelope{nullptr, 0, 0, EnvelopeType::tick})) node.tick_pending.store(false);
}

void Runtime::Impl::tick(NodeState& node) {
  node.tick_pending.store(false);
  if (node.finished.load() || node.failed.load()) return;
  take_control(node);
  if (node.timed) {
    if (source_ends(node)) return finish_source(node);
    // A paced source waits for room downstream as a pull source does: the tick is skipped.
    if (source_paused(node) || (node.plan->mode == SourceMode::pull && full_link(node) != nullptr)) return;
  }
  bool more = true;
  auto call = [&] { guarded(node, [&] { more = node.plan->node->on_tick(*node.emitter); }); };
  std::uint64_t t0 = busy_clock();
  if (node.parallel) {
    node.gate.exclusive(call);
  } else {
    call();
  }
  node.busy_ticks.add(static_cast<std::int64_t>(busy_clock() - t0), node.parallel);
  if (node.timed && (!more || node.failed.load() || source_ends(node))) return finish_source(node);
  if (!more) node.plan->context->set_timer(std::chrono::nanoseconds(0));
}

// Covers a step lost to a race between a source raising a link's flag and the consumer
// draining it: any pull source that could go on but has no step queued gets one.
void Runtime::Impl::watch_sources() {
  for (auto& n : nodes_) {
    if (!n->pull || n->finished.load() || n->scheduled.load()) continue;
    LinkState* full = full_link(*n);
    if (stop_.load() || (!paused_.load() && (full == nullptr || full->depth() <= full->plan->capacity / 2))) {
      schedule_from_outside(*n);
    }
  }
}

}  // namespace tributary::core

#pragma once
// The runtime's concurrency pieces that do not depend on the flow graph, so each can be read and
// stress-tested alone (under ThreadSanitizer, which cannot see inside an uninstrumented oneTBB):
//   Tally         a counter with a cheap path for one writer
//   ControlGate   parallel bodies together, a control call alone
//   TurnOrder     what parallel bodies emit, released in the order their inputs arrived
//   DropQueue     a dropping link's packets, bounded, freeing what it drops, never dropping a keeper
//   EmissionGate  emissions from foreign threads against the end of a node's stream
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace tributary::core {

// A counter written by one thread at a time (a serial node, a source) needs no atomic
// read-modify-write on the hot path; one written from parallel bodies does.
class Tally {
 public:
  void add(std::int64_t delta, bool shared) noexcept {
    if (shared) {
      value_.fetch_add(delta, std::memory_order_relaxed);
    } else {
      value_.store(value_.load(std::memory_order_relaxed) + delta, std::memory_order_relaxed);
    }
  }
  std::int64_t get() const noexcept { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::int64_t> value_{0};
};

// Lets the bodies of a parallel node run together and a control message run alone: exclusive()
// waits for the bodies under way, and new bodies wait for it. Bodies pay two atomic operations
// when no control message is waiting; a waiting message is never starved by a busy stream.
class ControlGate {
 public:
  void enter_shared() {
    for (;;) {
      active_.fetch_add(1);
      if (!wanted_.load()) return;
      leave_shared();
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return !wanted_.load(); });
    }
  }
  void leave_shared() {
    if (active_.fetch_sub(1) == 1 && wanted_.load()) {
      std::lock_guard<std::mutex> lock(mutex_);
      cv_.notify_all();
    }
  }
  template <typename Call>
  void exclusive(Call&& call) {
    std::lock_guard<std::mutex> one_at_a_time(exclusive_mutex_);
    wanted_.store(true);
    {
      std::unique_lock<std::mutex> lock(mutex_);
      cv_.wait(lock, [&] { return active_.load() == 0; });
    }
    call();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      wanted_.store(false);
    }
    cv_.notify_all();
  }

 private:
  std::atomic<int> active_{0};
  std::atomic<bool> wanted_{false};
  std::mutex mutex_;
  std::mutex exclusive_mutex_;
  std::condition_variable cv_;
};

// Each input of an ordered (or marker-carrying parallel) node takes an ordinal; its body hands
// what it emitted to done() in any order, and release() sees the turns in ordinal order, each
// once, under the lock. A turn flagged `marker` counts down `markers_pending` once released.
template <typename Item>
class TurnOrder {
 public:
  template <typename Release>
  void done(std::uint64_t ordinal, std::vector<Item> emitted, bool marker, std::atomic<int>& markers_pending,
            Release&& release) {
    std::lock_guard<std::mutex> lock(mutex_);
    auto index = static_cast<std::size_t>(ordinal - next_release_);
    if (turns_.size() <= index) turns_.resize(index + 1);
    turns_[index].done = true;
    turns_[index].marker = marker;
    turns_[index].emitted = std::move(emitted);
    while (!turns_.empty() && turns_.front().done) {
      for (auto& item : turns_.front().emitted) release(std::move(item));
      if (turns_.front().marker) markers_pending.fetch_sub(1);
      turns_.pop_front();
      ++next_release_;
    }
  }
  // Runs a call between two released turns (a packet posted from a node's own thread).
  template <typename Call>
  void between_turns(Call&& call) {
    std::lock_guard<std::mutex> lock(mutex_);
    call();
  }

 private:
  struct Turn {
    bool done = false;
    bool marker = false;
    std::vector<Item> emitted;
  };
  std::mutex mutex_;
  std::deque<Turn> turns_;  // turns_[i] is ordinal next_release_ + i
  std::uint64_t next_release_ = 0;
};

// A dropping link's queue. push() keeps at most `capacity` items that are not keepers (markers):
// past it, drop_newest refuses the new item and drop_oldest removes the oldest droppable one,
// which the caller frees outside the lock. Keepers are always taken and never removed.
template <typename Item, typename IsKeeper>
class DropQueue {
 public:
  struct Pushed {
    bool queued = false;   // the item is in the queue
    bool dropped = false;  // an item was dropped (the new one, or `freed`)
    Item freed{};          // the older item dropped to make room, to free outside the lock
  };

  explicit DropQueue(IsKeeper is_keeper = IsKeeper()) : is_keeper_(std::move(is_keeper)) {}

  // `full_elsewhere`: treat the queue as full (a lossless link downstream is).
  Pushed push(Item item, std::int64_t capacity, bool drop_newest, bool full_elsewhere = false) {
    Pushed result;
    std::lock_guard<std::mutex> lock(mutex_);
    bool full = static_cast<std::int64_t>(queue_.size()) >= capacity || full_elsewhere;
    if (full && !is_keeper_(item)) {
      result.dropped = true;
      if (drop_newest) return result;
      auto oldest = std::find_if(queue_.begin(), queue_.end(), [&](const Item& q) { return !is_keeper_(q); });
      if (oldest == queue_.end()) return result;
      result.freed = std::move(*oldest);
      queue_.erase(oldest);
    }
    queue_.push_back(std::move(item));
    size_.store(static_cast<std::int64_t>(queue_.size()), std::memory_order_relaxed);
    result.queued = true;
    return result;
  }

  // The oldest item, with `then` run on it under the lock (an ordinal taken in queue order).
  template <typename Then>
  Item pop(Then&& then) {
    std::lock_guard<std::mutex> lock(mutex_);
    Item item = std::move(queue_.front());
    queue_.pop_front();
    size_.store(static_cast<std::int64_t>(queue_.size()), std::memory_order_relaxed);
    then(item);
    return item;
  }

  std::int64_t size() const noexcept { return size_.load(std::memory_order_relaxed); }

 private:
  IsKeeper is_keeper_;
  std::mutex mutex_;
  std::deque<Item> queue_;
  std::atomic<std::int64_t> size_{0};
};

// A node's emissions from threads of its own, against the end of its stream: enter() before an
// emission (false once the stream is closed: the emission is late), leave() after it; close()
// returns once no emission is under way, and none starts after it.
class EmissionGate {
 public:
  bool enter() noexcept {
    emitting_.fetch_add(1);
    if (closed_.load()) {
      emitting_.fetch_sub(1);
      return false;
    }
    return true;
  }
  void leave() noexcept { emitting_.fetch_sub(1); }
  void close() noexcept {
    closed_.store(true);
    while (emitting_.load() != 0) std::this_thread::yield();
  }
  bool closed() const noexcept { return closed_.load(); }

 private:
  std::atomic<int> emitting_{0};
  std::atomic<bool> closed_{false};
};

}  // namespace tributary::core

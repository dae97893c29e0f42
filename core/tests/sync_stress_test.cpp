// Stress tests of the runtime's concurrency pieces (sync.hpp), with plain threads and no oneTBB,
// so ThreadSanitizer sees every access: scripts/test.sh runs them in a -fsanitize=thread build.
// Each test leaves plain (non-atomic) data where a broken protocol would race on it.
#include <catch2/catch.hpp>
#include <memory>
#include <random>
#include <thread>
#include <vector>

#include "sync.hpp"

using namespace tributary::core;

namespace {
constexpr int kThreads = 4;
}

TEST_CASE("sync: a control call never runs beside a shared body, and is never starved") {
  ControlGate gate;
  long plain = 0;  // written by the exclusive call, read by shared bodies: a race if the gate fails
  std::atomic<bool> done{false};
  std::atomic<long> reads{0};
  std::vector<std::thread> bodies;
  for (int t = 0; t < kThreads; ++t) {
    bodies.emplace_back([&] {
      while (!done.load()) {
        gate.enter_shared();
        reads += plain >= 0 ? 1 : 0;
        gate.leave_shared();
      }
    });
  }
  while (reads.load() == 0) std::this_thread::yield();  // the bodies are under way
  for (int i = 0; i < 2000; ++i) gate.exclusive([&] { ++plain; });
  long before = reads.load();
  while (reads.load() == before) std::this_thread::yield();  // and go on after the last call
  done = true;
  for (auto& b : bodies) b.join();
  CHECK(plain == 2000);
  CHECK(reads.load() > 0);
}

TEST_CASE("sync: turns done in any order are released in ordinal order, each once") {
  TurnOrder<int> order;
  std::atomic<int> markers_pending{0};
  std::vector<int> released;  // written under the order's lock only
  constexpr int kTurns = 20000;
  std::atomic<int> next{0};
  std::vector<std::thread> bodies;
  for (int t = 0; t < kThreads; ++t) {
    bodies.emplace_back([&, t] {
      std::mt19937 random(static_cast<unsigned>(t));
      for (;;) {
        int ordinal = next.fetch_add(1);
        if (ordinal >= kTurns) return;
        bool marker = ordinal % 100 == 99;
        if (marker) markers_pending.fetch_add(1);
        if (random() % 8 == 0) std::this_thread::yield();
        order.done(static_cast<std::uint64_t>(ordinal), std::vector<int>{ordinal}, marker, markers_pending,
                   [&](int v) { released.push_back(v); });
      }
    });
  }
  for (auto& b : bodies) b.join();
  REQUIRE(released.size() == static_cast<std::size_t>(kTurns));
  for (int i = 0; i < kTurns; ++i) REQUIRE(released[static_cast<std::size_t>(i)] == i);
  CHECK(markers_pending.load() == 0);
}

TEST_CASE("sync: a drop queue under concurrent pushes and pops stays bounded and never drops a keeper") {
  struct Keep {
    bool operator()(const std::shared_ptr<int>& v) const { return v && *v < 0; }
  };
  DropQueue<std::shared_ptr<int>, Keep> queue;
  constexpr int kEach = 20000;
  constexpr std::int64_t kCapacity = 8;
  std::atomic<long> queued{0};
  std::atomic<long> dropped{0};
  std::atomic<long> max_size{0};
  std::vector<std::thread> producers;
  for (int t = 0; t < 2; ++t) {
    producers.emplace_back([&, t] {
      for (int i = 0; i < kEach; ++i) {
        int value = i % 500 == 0 ? -1 : i;  // every 500th is a keeper (a marker)
        auto pushed = queue.push(std::make_shared<int>(value), kCapacity, t == 0);
        if (pushed.queued && !pushed.freed) ++queued;
        if (pushed.dropped) ++dropped;
        long size = queue.size();
        long seen = max_size.load();
        while (size > seen && !max_size.compare_exchange_weak(seen, size)) {
        }
      }
    });
  }
  std::atomic<bool> stop{false};
  long keepers = 0;
  long popped = 0;
  std::thread consumer([&] {
    while (!stop.load() || popped < queued.load()) {
      if (popped >= queued.load()) {
        std::this_thread::yield();
        continue;
      }
      auto v = queue.pop([](const std::shared_ptr<int>&) {});
      ++popped;
      if (*v < 0) ++keepers;
    }
  });
  for (auto& p : producers) p.join();
  stop = true;
  consumer.join();
  CHECK(keepers == 2 * (kEach / 500));
  CHECK(popped + dropped.load() == 2 * kEach);
  // Keepers may stand above the capacity; droppable items never do.
  CHECK(max_size.load() <= kCapacity + 2 * (kEach / 500));
  CHECK(queue.size() == 0);
}

TEST_CASE("sync: no emission runs after the emission gate closes, and none is lost before it") {
  EmissionGate gate;
  std::vector<int> emitted;  // written by emitters under `m`; read without it after close()
  std::mutex m;
  std::atomic<long> late{0};
  std::atomic<long> accepted{0};
  std::vector<std::thread> emitters;
  for (int t = 0; t < kThreads; ++t) {
    emitters.emplace_back([&] {
      for (int i = 0; i < 20000; ++i) {
        if (!gate.enter()) {
          ++late;
          continue;
        }
        {
          std::lock_guard<std::mutex> lock(m);
          emitted.push_back(i);
        }
        ++accepted;
        gate.leave();
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::milliseconds(2));
  gate.close();
  std::size_t at_close = emitted.size();  // no lock: a race if an emission outlived close()
  for (auto& e : emitters) e.join();
  CHECK(emitted.size() == at_close);
  CHECK(static_cast<long>(at_close) == accepted.load());
  CHECK(accepted.load() + late.load() == kThreads * 20000L);
}

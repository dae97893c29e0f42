#include "runtime_impl.hpp"

namespace tributary::core {

// ---- data path ----------------------------------------------------------------------------
// What a node emits inside its own callbacks, or an ordered node's turn being released.
void Runtime::Impl::emit_now(NodeState& node, std::size_t port, PacketPtr packet) {
  if (!is_marker(packet)) node.packets_out.add(1, node.parallel || node.live);
  if (observer_ != nullptr && packet->kind == PayloadKind::metrics) observe_emitted(node, *packet);
  const auto& links = node.out_links[port];
  for (std::size_t i = 0; i + 1 < links.size(); ++i) deliver(*links[i], packet);
  if (!links.empty()) deliver(*links.back(), std::move(packet));
}

// A live source's packet from any thread. End of stream waits for the emissions under way, and
// none starts after it.
void Runtime::Impl::emit_live(NodeState& node, std::size_t port, PacketPtr packet) {
  if (!node.emission.enter()) {
    node.late_drops.add(1, true);
    return;
  }
  emit_now(node, port, std::move(packet));
  node.emission.leave();
}

// Another node's packet from a thread of its own: it goes out from the node's own turn in the
// graph, so it never runs beside the node's callbacks and keeps its place before end of stream.
void Runtime::Impl::post(NodeState& node, std::size_t port, PacketPtr packet) {
  // Open from the nodes' start() on (a worker started there may emit at once) to the end.
  std::shared_lock<std::shared_mutex> lock(graph_mutex_);
  if (!graph_open_.load() || node.finished.load() || !node.fn) {
    node.late_drops.add(1, true);
    return;
  }
  {
    std::lock_guard<std::mutex> posts(node.post_mutex);
    if (node.posts_closed) {
      node.late_drops.add(1, true);
      return;
    }
    node.posted.push_back(Emitted{port, std::move(packet)});
  }
  if (node.parallel) node.pending.fetch_add(1);
  node.fn->try_put(Envelope{nullptr, 0, 0, EnvelopeType::post});
}

// Emits what the node posted from its own threads, in the order it posted it; from the node's
// own turn. `close`: the last time, at the node's end: later posts are late.
void Runtime::Impl::drain_posts(NodeState& node, bool close) {
  std::deque<Emitted> posted;
  {
    std::lock_guard<std::mutex> posts(node.post_mutex);
    posted.swap(node.posted);
    if (close) node.posts_closed = true;
  }
  if (posted.empty()) return;
  if (node.failed.load()) {
    node.late_drops.add(static_cast<std::int64_t>(posted.size()), true);
    return;
  }
  auto emit_all = [&] {
    for (auto& e : posted) emit_now(node, e.port, std::move(e.packet));
  };
  if (node.ordered) {
    node.turns.between_turns(emit_all);
  } else {
    emit_all();
  }
}

void Runtime::Impl::deliver(LinkState& link, PacketPtr packet) {
  NodeState& to = *nodes_[link.plan->to];
  Envelope envelope{nullptr, 0, link.id, EnvelopeType::data};
  bool marker = is_marker(packet);
  if (link.buffered) {
    // Markers are never dropped, nor dropped for; what is dropped is freed when this returns.
    auto pushed = link.queue.push(std::move(packet), link.plan->capacity, link.plan->policy == QueuePolicy::drop_newest,
                                  lossless_full(link));
    if (pushed.dropped) link.drops.add(1, true);
    // Refused, or the envelope on its way for the dropped packet takes this one instead.
    if (!pushed.queued || pushed.freed) return;
  } else {
    // A blocking link is never refused a packet: its pull sources wait instead.
    envelope.packet = std::move(packet);
    if (to.parallel) {
      if (marker) to.markers_pending.fetch_add(1);
      envelope.sequence = to.next_ordinal.fetch_add(1);
    }
  }
  link.puts.add(1, link.shared_puts);
  if (to.parallel) {
    to.pending.fetch_add(1);
    to.port_pending[link.plan->to_port].fetch_add(1);
  }
  put(link, std::move(envelope));
}

// Whether a lossless link behind this live edge is full.
bool Runtime::Impl::lossless_full(const LinkState& link) {
  for (const LinkState* below : link.lossless_below) {
    if (below->depth() >= below->plan->capacity) return true;
  }
  return false;
}

// Puts a data or end-of-stream envelope on a link, numbered when the link is ordered.
void Runtime::Impl::put(LinkState& link, Envelope envelope) {
  if (link.ordered) {
    if (link.shared_puts) {
      envelope.sequence = link.sent.fetch_add(1);
    } else {
      // One writer: a plain load and store, no locked instruction on the hot path.
      envelope.sequence = link.sent.load(std::memory_order_relaxed);
      link.sent.store(envelope.sequence + 1, std::memory_order_relaxed);
    }
  }
  FlowNode& to = *nodes_[link.plan->to]->fn;
  Outbox* outbox = t_outbox;
  if (link.edge && outbox != nullptr && outbox->node == nodes_[link.plan->from].get()) {
    if (outbox->held.type != EnvelopeType::none) to.try_put(outbox->held);
    outbox->held = std::move(envelope);
    return;
  }
  to.try_put(envelope);
}

// One body of a node, with an outbox for its edge link; returns what the edge carries on.
Envelope Runtime::Impl::run_body(NodeState& node, const Envelope& envelope) {
  if (envelope.type == EnvelopeType::data || envelope.type == EnvelopeType::eos) {
    // A node paused on its own: its inputs wait here, in the order they came.
    if (node.held.load(std::memory_order_relaxed) && envelope.index != kBusEos) {
      std::lock_guard<std::mutex> lock(node.held_mutex);
      if (node.held.load()) {
        node.held_envelopes.push_back(envelope);
        return Envelope{};
      }
    }
  }
  Outbox outbox{&node, Envelope{}, t_outbox};
  t_outbox = &outbox;
  if (envelope.type == EnvelopeType::data || envelope.type == EnvelopeType::eos) {
    take_in_order(node, envelope);
  } else {
    body(node, envelope);
  }
  t_outbox = outbox.previous;
  return std::move(outbox.held);
}

// An own-thread node's flow-graph body hands each envelope to the node's thread; the graph is
// not done while one waits there.
Envelope Runtime::Impl::hand_to_own_thread(NodeState& node, const Envelope& envelope) {
  graph_->reserve_wait();
  {
    std::lock_guard<std::mutex> lock(node.own_mutex);
    node.own_queue.push_back(envelope);
    node.own_pushed.fetch_add(1, std::memory_order_release);
  }
  node.own_cv.notify_one();
  return Envelope{};
}

// How long an own-thread node's thread looks for its next envelope before it sleeps.
constexpr std::chrono::microseconds kOwnThreadSpin{50};

void Runtime::Impl::own_thread_loop(NodeState& node) {
  std::unique_lock<std::mutex> lock(node.own_mutex);
  for (;;) {
    if (node.own_queue.empty() && !node.own_quit) {
      // The next packet usually comes within microseconds (a trainer fed row by row): look for it
      // a little while before sleeping, since a wake-up per packet costs more than the packet.
      const std::uint64_t seen = node.own_pushed.load(std::memory_order_acquire);
      lock.unlock();
      const auto until = std::chrono::steady_clock::now() + kOwnThreadSpin;
      for (int i = 1; node.own_pushed.load(std::memory_order_acquire) == seen; ++i) {
        if (i % 64 == 0 && std::chrono::steady_clock::now() > until) break;
        std::this_thread::yield();
      }
      lock.lock();
    }
    node.own_cv.wait(lock, [&] { return node.own_quit || !node.own_queue.empty(); });
    if (node.own_queue.empty()) return;
    Envelope envelope = std::move(node.own_queue.front());
    node.own_queue.pop_front();
    lock.unlock();
    run_body(node, envelope);  // nothing is held for an edge: an own-thread node has none
    graph_->release_wait();
    lock.lock();
  }
}

void Runtime::Impl::take_in_order(NodeState& node, const Envelope& envelope) {
  LinkState* link = envelope.index < links_.size() ? links_[envelope.index].get() : nullptr;
  if (link == nullptr || !link->ordered) return body(node, envelope);
  if (envelope.sequence != link->next_take) {
    link->early.push_back(envelope);
    return;
  }
  body(node, envelope);
  ++link->next_take;
  while (!link->early.empty()) {
    auto it = std::find_if(link->early.begin(), link->early.end(),
                           [&](const Envelope& e) { return e.sequence == link->next_take; });
    if (it == link->early.end()) break;
    Envelope next = std::move(*it);
    link->early.erase(it);
    body(node, next);
    ++link->next_take;
  }
}

void Runtime::Impl::body(NodeState& node, const Envelope& envelope) {
  switch (envelope.type) {
    case EnvelopeType::data: {
      LinkState& link = *links_[envelope.index];
      link.takes.add(1, link.shared_takes);
      PacketPtr packet = envelope.packet;
      std::uint64_t ordinal = envelope.sequence;
      if (link.buffered) {
        // Ordinals are taken in queue order.
        packet = link.queue.pop([&](const PacketPtr& taken) {
          if (!node.parallel) return;
          if (is_marker(taken)) node.markers_pending.fetch_add(1);
          ordinal = node.next_ordinal.fetch_add(1);
        });
      }
      if (link.awaited.load(std::memory_order_relaxed) && link.depth() <= link.plan->capacity / 2 &&
          link.awaited.exchange(false)) {
        for (void* source : link.pull_sources) schedule(*static_cast<NodeState*>(source));
      }
      bool marker = is_marker(packet);
      std::size_t port = link.plan->to_port;
      // A parallel node holds what it emits while a marker before it waits to be passed on.
      bool capture = node.ordered || (node.parallel && (marker || node.markers_pending.load() > 0));
      std::vector<Emitted> emitted;
      if (node.inputs_closed.load(std::memory_order_relaxed)) {
        if (!marker) node.late_drops.add(1, true);
      } else if (!node.failed.load(std::memory_order_relaxed)) {
        take_control(node);
        if (capture) t_outbox->capture = &emitted;
        const InputPort& input = *node.plan->type->spec.inputs()[port];
        if (marker) {
          on_marker(node, input, marker_of(*packet));
        } else {
          process(node, input, packet);
        }
        t_outbox->capture = nullptr;
      }
      packet.reset();
      if (node.parallel) {
        release_turn(node, ordinal, std::move(emitted), marker);
        node.port_pending[port].fetch_sub(1);
        check_port_end(node, port);
        node.pending.fetch_sub(1);
      }
      maybe_finish(node);
      break;
    }
    case EnvelopeType::eos:
      if (envelope.index != kBusEos) {
        std::size_t port = links_[envelope.index]->plan->to_port;
        node.port_eos[port].fetch_sub(1);
        check_port_end(node, port);
      }
      node.eos_remaining.fetch_sub(1);
      maybe_finish(node);
      break;
    case EnvelopeType::tick:
      tick(node);
      break;
    case EnvelopeType::close:
      maybe_finish(node);
      break;
    case EnvelopeType::bus:
      node.bus_backlog.fetch_sub(1, std::memory_order_relaxed);
      if (!node.finished.load() && !node.failed.load()) {
        LogBusGuard guard;  // what a node logs while it handles bus traffic stays off the bus
        process(node, *node.plan->type->spec.inputs()[envelope.index], envelope.packet);
      }
      break;
    case EnvelopeType::post:
      if (!node.finished.load()) drain_posts(node, false);
      if (node.parallel) {
        node.pending.fetch_sub(1);
        maybe_finish(node);
      }
      break;
    case EnvelopeType::control:
      if (!node.finished.load()) take_control(node);
      break;
    case EnvelopeType::resume:
      source_step(node);
      break;
    case EnvelopeType::none:
      break;
  }
}

// An ordered node's body is done: its turn, and every later one already done, go out in order.
void Runtime::Impl::release_turn(NodeState& node, std::uint64_t ordinal, std::vector<Emitted> emitted, bool marker) {
  node.turns.done(ordinal, std::move(emitted), marker, node.markers_pending,
                  [&](Emitted e) { emit_now(node, e.port, std::move(e.packet)); });
}

// A marker reaches the node's on_marker(), in the same way as process() would run.
void Runtime::Impl::on_marker(NodeState& node, const InputPort& port, const Marker& marker) {
  if (node.parallel) node.gate.enter_shared();
  guarded(node, [&] { node.plan->node->on_marker(port, marker, *node.emitter); });
  if (node.parallel) node.gate.leave_shared();
}

// Every link into the port has ended and what came through it is processed: the node hears of
// it once, after everything that came before.
void Runtime::Impl::check_port_end(NodeState& node, std::size_t port) {
  if (node.port_eos[port].load() != 0) return;
  if (node.parallel && node.port_pending[port].load() != 0) return;
  if (node.port_ended[port].exchange(true)) return;
  if (node.failed.load() || node.inputs_closed.load()) return;
  Marker end{MarkerKind::end_of_stream, -1, Split::none, node.plan->name};
  const InputPort& input = *node.plan->type->spec.inputs()[port];
  if (!node.parallel) return on_marker(node, input, end);
  node.markers_pending.fetch_add(1);
  std::uint64_t ordinal = node.next_ordinal.fetch_add(1);
  std::vector<Emitted> emitted;
  Outbox* box = t_outbox;
  std::vector<Emitted>* previous = box->capture;
  box->capture = &emitted;
  on_marker(node, input, end);
  box->capture = previous;
  release_turn(node, ordinal, std::move(emitted), true);
}

void Runtime::Impl::process(NodeState& node, const InputPort& port, const PacketPtr& packet) {
  std::uint32_t weight = node.busy_sampler.weight();
  std::uint64_t t0 = weight != 0 ? busy_clock() : 0;
  if (node.parallel) node.gate.enter_shared();
  guarded(node, [&] { node.plan->node->process(port, packet, *node.emitter); });
  if (node.parallel) node.gate.leave_shared();
  if (weight != 0) {
    auto elapsed = static_cast<std::int64_t>(busy_clock() - t0);
    node.busy_ticks.add(elapsed * weight, node.parallel);
    node.busy_sampler.observe(static_cast<std::uint64_t>(static_cast<double>(elapsed) * ns_per_tick_));
  }
  node.packets_in.add(1, node.parallel);
}

void Runtime::Impl::maybe_finish(NodeState& node) {
  if (node.eos_remaining.load() != 0 && !node.inputs_closed.load()) return;
  if (node.parallel && node.pending.load() != 0) return;
  if (node.finishing.exchange(true)) return;  // finished is set once flush() and the posts are done
  finish(node);
}

// Flush once, then pass end of stream on. A failed node does not flush but still passes it on,
// so the sinks downstream flush what they received.
void Runtime::Impl::finish(NodeState& node) {
  if (!node.failed.load()) {
    take_control(node);
    if (node.bus_port[kTelemetryBus] >= 0) {
      LogBusGuard guard;
      process(node, *node.plan->type->spec.inputs()[static_cast<std::size_t>(node.bus_port[kTelemetryBus])],
              telemetry_snapshot());
    }
    auto t0 = busy_clock();
    guarded(node, [&] { node.plan->node->flush(*node.emitter); });
    node.busy_ticks.add(static_cast<std::int64_t>(busy_clock() - t0), true);
  }
  // What the node posted from its threads up to now still goes out, before end of stream.
  drain_posts(node, true);
  end_stream(node);
}

// From here on the node's packets are late: wait for a live source's emissions under way, then
// pass end of stream on every link.
void Runtime::Impl::end_stream(NodeState& node) {
  node.finished.store(true);
  refuse_after_end(node);
  node.emission.close();
  for (auto& port_links : node.out_links) {
    for (LinkState* link : port_links) put(*link, Envelope{nullptr, 0, link->id, EnvelopeType::eos});
  }
}

void Runtime::Impl::fail(NodeState& node, const std::string& message) {
  node.failed.store(true);
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (failed_node_.empty()) {
      failed_node_ = node.plan->name;
      error_ = message;
    }
  }
  log_->error("node '", node.plan->name, "' (", node.plan->type->name, ") failed: ", message);
  request_stop("node '" + node.plan->name + "' failed");
}

}  // namespace tributary::core

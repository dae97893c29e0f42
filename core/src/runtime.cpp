#include "runtime_impl.hpp"

namespace tributary::core {

Runtime::Impl::Impl(Plan& plan, Logging& logging) : plan_(plan), logging_(logging), log_(logging.make("tributary")) {
  threads_ = plan.decl.threads > 0 ? static_cast<int>(plan.decl.threads)
                                   : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  links_.reserve(plan.links.size());
  for (std::size_t k = 0; k < plan.links.size(); ++k) {
    links_.push_back(std::make_unique<LinkState>());
    links_.back()->plan = &plan.links[k];
    links_.back()->id = static_cast<std::uint32_t>(k);
  }
  for (std::size_t i = 0; i < plan.nodes.size(); ++i) {
    auto node = std::make_unique<NodeState>();
    node->plan = &plan.nodes[i];
    node->out_links.resize(plan.nodes[i].type->spec.outputs().size());
    const NodeSpec& spec = plan.nodes[i].type->spec;
    Concurrency concurrency = plan.nodes[i].concurrency;
    node->own_thread = spec.thread() == NodeThread::own;
    node->parallel = !plan.nodes[i].is_source && !node->own_thread && concurrency != Concurrency::serial;
    node->ordered = node->parallel && concurrency == Concurrency::ordered;
    // A source with a timer set in configure() is driven by it.
    node->timed = plan.nodes[i].is_source && plan.nodes[i].context->timer_ns() > 0;
    node->pull = plan.nodes[i].is_source && plan.nodes[i].mode == SourceMode::pull && !node->timed;
    node->live = plan.nodes[i].is_source && plan.nodes[i].mode == SourceMode::live;
    node->emitter = std::make_unique<NodeEmitter>(*this, *node);
    for (auto p : plan.nodes[i].bus_inputs) {
      auto feed = spec.inputs()[p]->feed;
      Bus bus = feed == Feed::telemetry ? kTelemetryBus : feed == Feed::logs ? kLogBus : kControlBus;
      node->bus_port[bus] = static_cast<std::int64_t>(p);
    }
    std::size_t ports = spec.inputs().size();
    node->port_eos = std::make_unique<std::atomic<int>[]>(ports);
    node->port_pending = std::make_unique<std::atomic<std::int64_t>[]>(ports);
    node->port_ended = std::make_unique<std::atomic<bool>[]>(ports);
    for (std::size_t p = 0; p < ports; ++p) {
      node->port_eos[p] = 0;
      node->port_pending[p] = 0;
      node->port_ended[p] = false;
    }
    nodes_.push_back(std::move(node));
  }
  for (auto& link : links_) {
    nodes_[link->plan->from]->out_links[link->plan->from_port].push_back(link.get());
    nodes_[link->plan->to]->in_links.push_back(link.get());
    nodes_[link->plan->to]->port_eos[link->plan->to_port].fetch_add(1);
    const NodeState& from = *nodes_[link->plan->from];
    // A live source emits from its own thread and from any other of the node's.
    link->shared_puts = from.parallel || from.live;
    link->shared_takes = nodes_[link->plan->to]->parallel;
    // An ordered node releases what it emits one turn at a time, so its links can be numbered.
    link->ordered = (!from.parallel || from.ordered) && !link->shared_takes;
    link->buffered = link->plan->policy != QueuePolicy::block;
  }
  clock_start_ns_ = Clock::now().time_since_epoch().count();
  clock_start_ticks_ = busy_clock();
  ns_per_tick_ = measure_ns_per_tick();
  for (auto& node : nodes_) {
    node->eos_remaining = static_cast<int>(node->in_links.size());
    node->bus_only = !node->plan->is_source && node->in_links.empty();
    node->has_bus_inputs = !node->plan->bus_inputs.empty();
    // A node fed by a bus keeps it after its links end: the buses close last.
    if (node->bus_only || node->has_bus_inputs) node->eos_remaining.fetch_add(1);
  }
  for (auto& node : nodes_) {
    if (node->plan->is_source && node->plan->mode == SourceMode::pull) collect_throttle(*node);
  }
  for (auto& link : links_) {
    if (link->plan->live_edge) collect_lossless(*link, *nodes_[link->plan->to]);
  }
}

void Runtime::Impl::collect_lossless(LinkState& edge, NodeState& from) {
  for (auto& port_links : from.out_links) {
    for (LinkState* link : port_links) {
      bool seen = std::find(edge.lossless_below.begin(), edge.lossless_below.end(), link) != edge.lossless_below.end();
      if (seen) continue;
      if (link->plan->policy == QueuePolicy::block) edge.lossless_below.push_back(link);
      collect_lossless(edge, *nodes_[link->plan->to]);
    }
  }
}

// ---- the run ------------------------------------------------------------------------------
RunResult Runtime::Impl::run() {
  auto t0 = Clock::now();
  // `threads` workers fill the arena, none of its slots kept for the calling thread: that one
  // sleeps while the sources go, and only joins the arena to wait for the rest of the graph.
  oneapi::tbb::global_control parallelism(oneapi::tbb::global_control::max_allowed_parallelism,
                                          static_cast<std::size_t>(threads_) + 1);
  oneapi::tbb::task_arena arena(threads_, 0);
  std::unique_ptr<flow::graph>& graph = graph_;
  arena.execute([&] {
    graph = std::make_unique<flow::graph>();
    for (auto& n : nodes_) {
      if (n->live && !n->timed) continue;  // runs on a thread of its own, with no turn in the graph
      NodeState* state = n.get();
      // Parallel bodies are not limited here: the arena's threads bound how many run at once, and
      // a limit would put every envelope through the node's queue and its aggregator.
      std::size_t concurrency = n->parallel ? flow::unlimited : 1;
      if (n->own_thread) {
        n->fn = std::make_unique<FlowNode>(*graph, 1,
                                           [this, state](const Envelope& e) { return hand_to_own_thread(*state, e); });
      } else {
        n->fn = std::make_unique<FlowNode>(*graph, concurrency,
                                           [this, state](const Envelope& e) { return run_body(*state, e); });
      }
    }
    // Only a serial producer's edge: a parallel one's returned envelope could still be on its
    // way when another of its bodies, finishing last, puts end of stream on the link.
    for (auto& n : nodes_) {
      if (!n->fn || n->parallel || n->own_thread || n->out_links.empty() || n->out_links[0].empty()) continue;
      LinkState& link = *n->out_links[0][0];
      link.edge = true;
      flow::make_edge(*n->fn, *nodes_[link.plan->to]->fn);
    }
  });
  graph_open_.store(true);

  for (auto& n : nodes_) {
    if (n->own_thread) n->own = std::thread([this, state = n.get()] { own_thread_loop(*state); });
  }
  if (plan_.view) {
    plan_.view->threads = threads_;
    plan_.view->start_time = wall_time_s();
  }
  for (std::size_t i = 0; i < nodes_.size(); ++i) plan_.nodes[i].context->attach(this, nodes_[i]->emitter.get());
  logging_.set_bus([this](const LogRecord& record) {
    auto packet = make_packet(PayloadKind::log);
    packet->stream = record.node;
    packet->logs.push_back(record);
    publish_bus(std::move(packet), kLogBus);
  });

  {
    std::lock_guard<std::mutex> lock(early_mutex_);
    collecting_early_ = true;
  }
  log_->info("run ", plan_.run.id, " of pipeline '", plan_.decl.name, "': ", nodes_.size(), " nodes, ", links_.size(),
             " links, ", threads_, " threads");
  // Start consumers before producers, so nothing is emitted into a node that is not ready.
  std::vector<NodeState*> started;
  bool start_failed = false;
  for (auto it = plan_.order.rbegin(); it != plan_.order.rend(); ++it) {
    NodeState& n = *nodes_[*it];
    try {
      n.plan->node->start();
      started.push_back(&n);
    } catch (const std::exception& e) {
      fail(n, std::string("could not start: ") + e.what());
      start_failed = true;
      break;
    } catch (...) {
      fail(n, "could not start: an exception that is not a std::exception");
      start_failed = true;
      break;
    }
  }

  if (start_failed) {
    // What nodes posted while they started still runs before the graph goes.
    arena.execute([&] { graph->wait_for_all(); });
  }
  if (!start_failed) {
    std::vector<std::pair<PacketPtr, Bus>> early;
    {
      std::lock_guard<std::mutex> lock(early_mutex_);
      running_.store(true);
      collecting_early_ = false;
      early.swap(early_bus_);
    }
    for (auto& [packet, bus] : early) publish_bus(std::move(packet), bus);
    publish_bus(control_packet(RunState{"running", {}, {}, wall_time_s()}), kControlBus);
    // Control sent while the nodes started reaches them now.
    for (auto& n : nodes_) {
      if (n->fn && n->has_control.load()) put_from_outside(*n, Envelope{nullptr, 0, 0, EnvelopeType::control});
    }
    // The graph is not done while any source is going: each holds a wait on it until it ends.
    for (auto& n : nodes_) {
      if (!n->plan->is_source) continue;
      graph->reserve_wait();
      std::lock_guard<std::mutex> lock(sources_mutex_);
      ++sources_going_;
    }
    std::vector<std::thread> live_sources;
    for (auto& n : nodes_) {
      if (n->pull) {
        schedule_from_outside(*n);
      } else if (n->live && !n->timed) {
        live_sources.emplace_back([this, state = n.get()] { live_source_loop(*state); });
      }
    }
    std::thread telemetry([this] { telemetry_loop(); });
    std::thread timers([this] { timer_loop(); });
    {
      std::unique_lock<std::mutex> lock(sources_mutex_);
      sources_cv_.wait(lock, [&] { return sources_going_ <= 0; });
    }
    arena.execute([&] { graph->wait_for_all(); });
    // A live source cut off while blocked in produce() hears stop() first, to unblock it.
    for (auto& n : nodes_) {
      if (n->live && !n->timed && !n->returned.load() && n->source_done.load()) stop_node(*n);
    }
    for (auto& t : live_sources) t.join();
    // Every node no bus feeds is done: those stop first, so what they log while stopping
    // reaches the nodes that take the log bus.
    for (NodeState* n : started) {
      if (!n->bus_only && !n->has_bus_inputs) stop_node(*n);
    }
    {
      std::lock_guard<std::mutex> lock(telemetry_mutex_);
      telemetry_stop_ = true;
    }
    telemetry_cv_.notify_all();
    telemetry.join();
    publish_bus(control_packet(final_state()), kControlBus);
    logging_.drain_bus();
    // The buses close last: nodes fed by them get a final snapshot, then end of stream.
    for (auto& n : nodes_) {
      if (n->bus_only || n->has_bus_inputs) n->fn->try_put(Envelope{nullptr, 0, kBusEos, EnvelopeType::eos});
    }
    arena.execute([&] { graph->wait_for_all(); });
    {
      std::lock_guard<std::mutex> lock(timer_mutex_);
      timer_stop_ = true;
    }
    timer_cv_.notify_all();
    timers.join();
    {
      // From here on nothing from outside the graph (control, buses, timers) puts into it.
      std::unique_lock<std::shared_mutex> lock(graph_mutex_);
      running_.store(false);
    }
    arena.execute([&] { graph->wait_for_all(); });
  }

  for (auto& n : nodes_) {
    if (!n->own.joinable()) continue;
    {
      std::lock_guard<std::mutex> lock(n->own_mutex);
      n->own_quit = true;
    }
    n->own_cv.notify_all();
    n->own.join();
  }
  {
    std::unique_lock<std::shared_mutex> lock(graph_mutex_);
    graph_open_.store(false);  // what nodes post from here on (while they stop) is late
  }
  arena.execute([&] { graph->wait_for_all(); });
  for (NodeState* n : started) stop_node(*n);
  logging_.set_bus(nullptr);
  for (auto& n : plan_.nodes) n.context->attach(nullptr, nullptr);
  arena.execute([&] {
    graph->reset(flow::rf_clear_edges);
    for (auto& n : nodes_) n->fn.reset();  // flow-graph nodes go before their graph
    graph.reset();
  });

  RunResult result;
  result.nodes = stats();
  result.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
  std::lock_guard<std::mutex> lock(state_mutex_);
  if (!failed_node_.empty()) {
    result.status = RunResult::Status::failed;
    result.failed_node = failed_node_;
    result.error = error_;
  } else if (stop_.load() && !stop_after_sources_) {
    result.status = RunResult::Status::stopped;
    result.stop_reason = stop_reason_;
  }
  return result;
}

RunState Runtime::Impl::final_state() {
  std::lock_guard<std::mutex> lock(state_mutex_);
  if (!failed_node_.empty()) return RunState{"failed", failed_node_ + ": " + error_, failed_node_, wall_time_s()};
  if (stop_.load() && !stop_after_sources_) return RunState{"stopped", stop_reason_, {}, wall_time_s()};
  return RunState{"finished", {}, {}, wall_time_s()};
}

// Calls the node's stop() once.
void Runtime::Impl::stop_node(NodeState& n) {
  if (n.stopped) return;
  n.stopped = true;
  std::string error;
  try {
    n.plan->node->stop();
  } catch (const std::exception& e) {
    error = e.what();
  } catch (...) {
    error = "an exception that is not a std::exception";
  }
  if (error.empty()) return;
  log_->error("node '", n.plan->name, "' failed while stopping: ", error);
  std::lock_guard<std::mutex> lock(state_mutex_);
  if (failed_node_.empty()) {
    failed_node_ = n.plan->name;
    error_ = "failed while stopping: " + error;
  }
}

std::vector<NodeStats> Runtime::Impl::stats() const {
  auto ticks = static_cast<double>(busy_clock() - clock_start_ticks_);
  auto ns = static_cast<double>(Clock::now().time_since_epoch().count() - clock_start_ns_);
  double seconds_per_tick = 1e-9;
#if defined(__x86_64__) || defined(__i386__)
  // Calibrated over the runtime's life so far; a nanosecond a tick until there is enough of it.
  if (ticks > 1e6) seconds_per_tick = ns / ticks * 1e-9;
#else
  (void)ticks;
  (void)ns;
#endif
  std::vector<NodeStats> out;
  for (const auto& n : nodes_) {
    NodeStats s;
    s.name = n->plan->name;
    s.plugin = n->plan->type->name;
    s.packets_in = static_cast<std::uint64_t>(n->packets_in.get());
    s.packets_out = static_cast<std::uint64_t>(n->packets_out.get());
    s.busy_s = static_cast<double>(n->busy_ticks.get()) * seconds_per_tick;
    s.drops = static_cast<std::uint64_t>(n->late_drops.get());
    s.bus_drops = static_cast<std::uint64_t>(n->bus_drops.get());
    for (const LinkState* l : n->in_links) {
      s.drops += static_cast<std::uint64_t>(l->drops.get());
      s.queue_depth += std::max<std::int64_t>(0, l->depth());
    }
    out.push_back(std::move(s));
  }
  return out;
}

// A first estimate of the tick length, for the sampler's decisions only (a millisecond).
double Runtime::Impl::measure_ns_per_tick() {
#if defined(__x86_64__) || defined(__i386__)
  auto ns0 = Clock::now();
  auto t0 = busy_clock();
  while (Clock::now() - ns0 < std::chrono::milliseconds(1)) {
  }
  auto ticks = static_cast<double>(busy_clock() - t0);
  auto ns = std::chrono::duration<double, std::nano>(Clock::now() - ns0).count();
  return ticks > 0 ? ns / ticks : 1.0;
#else
  return 1.0;
#endif
}
Runtime::Runtime(Plan& plan, Logging& logging) : impl_(std::make_unique<Impl>(plan, logging)) {}
Runtime::~Runtime() = default;
RunResult Runtime::run() { return impl_->run(); }
void Runtime::request_stop(std::string reason) { impl_->request_stop(std::move(reason)); }
std::string Runtime::control(ControlMessage message, ReplyHandler on_reply) {
  return impl_->control(std::move(message), std::move(on_reply));
}
std::size_t Runtime::awaited_replies() const { return impl_->awaited_replies(); }
std::vector<NodeStats> Runtime::stats() const { return impl_->stats(); }
void Runtime::observe(RunObserver* observer) { impl_->set_observer(observer); }
RunObserver::~RunObserver() = default;

}  // namespace tributary::core

#include <algorithm>

#include "runtime_impl.hpp"

namespace tributary::core {

// ---- RuntimeHooks -------------------------------------------------------------------------
void Runtime::Impl::publish_metric(MetricPoint point) {
  auto packet = make_packet(PayloadKind::telemetry);
  packet->stream = point.node;
  packet->metrics.push_back(std::move(point));
  publish_bus(std::move(packet), kTelemetryBus);
}

void Runtime::Impl::publish_control(PacketPtr packet) { publish_bus(std::move(packet), kControlBus); }

void Runtime::Impl::request_stop(std::string reason) {
  {
    std::lock_guard<std::mutex> lock(state_mutex_);
    if (stop_.load()) return;
    stop_reason_ = std::move(reason);
    stop_after_sources_ = std::all_of(nodes_.begin(), nodes_.end(), [](const std::unique_ptr<NodeState>& n) {
      return !n->plan->is_source || n->source_done.load();
    });
    stop_time_ns_.store(Clock::now().time_since_epoch().count());
    stop_.store(true);
  }
  log_->info("stopping: ", stop_reason_);
  schedule_all_sources_from_outside();
}

std::uint64_t Runtime::Impl::send_control(ControlMessage message) {
  std::uint64_t id = 0;
  std::string error = control(std::move(message), {}, &id);
  if (!error.empty()) log_->warn("control message refused: ", error);
  return id;
}

void Runtime::Impl::timer_changed() {
  {
    std::lock_guard<std::mutex> lock(timer_mutex_);
    timers_dirty_ = true;
  }
  timer_cv_.notify_all();
}

// ---- control bus --------------------------------------------------------------------------
// Sends a control message. The runtime answers at once when it refuses the message or handles
// it itself; set and checkpoint are answered by the nodes. Every reply goes on the control bus
// and to on_reply. Returns an empty string when the message went out, else why not.
std::string Runtime::Impl::control(ControlMessage message, Runtime::ReplyHandler on_reply, std::uint64_t* id_out) {
  message.id = next_control_id_.fetch_add(1) + 1;
  if (message.sender.empty()) message.sender = "api";
  if (id_out != nullptr) *id_out = message.id;
  const bool awaited = static_cast<bool>(on_reply);
  if (awaited) {
    std::lock_guard<std::mutex> lock(reply_mutex_);
    reply_handlers_[message.id] = PendingReply{std::move(on_reply), 0, false};
  }
  publish_bus(control_packet(message), kControlBus);
  std::string error = route_control(message);
  if (!error.empty()) reply(message, "tributary", false, -1, error);
  if (awaited) {
    std::lock_guard<std::mutex> lock(reply_mutex_);
    auto it = reply_handlers_.find(message.id);
    if (it != reply_handlers_.end()) {
      it->second.routed = true;
      if (it->second.outstanding <= 0) reply_handlers_.erase(it);
    }
  }
  return error;
}

std::string Runtime::Impl::route_control(const ControlMessage& message) {
  NodeState* target = nullptr;
  if (!message.target.empty()) {
    for (auto& n : nodes_) {
      if (n->plan->name == message.target) target = n.get();
    }
    if (target == nullptr) {
      std::vector<std::string> names;
      for (auto& n : nodes_) names.push_back(n->plan->name);
      std::string near = closest_match(message.target, names);
      return "no node named '" + message.target + "'" + (near.empty() ? "" : "; did you mean '" + near + "'?");
    }
  }
  switch (message.verb) {
    case ControlVerb::stop:
      if (target == nullptr) {
        request_stop("stop requested through the control bus");
        reply(message, "tributary", true, -1, "the run is stopping");
      } else {
        close_inputs(*target);
        reply(message, target->plan->name, true, target->packets_in.get(),
              target->plan->is_source ? "the source ends its stream" : "its inputs are closed");
      }
      return {};
    case ControlVerb::pause:
    case ControlVerb::resume: {
      bool pause = message.verb == ControlVerb::pause;
      if (target == nullptr) {
        paused_.store(pause);
        log_->info(pause ? "paused" : "resumed");
        schedule_all_sources_from_outside();
        reply(message, "tributary", true, -1, pause ? "sources hold" : "sources go on");
      } else {
        hold_inputs(*target, pause);
        reply(message, target->plan->name, true, target->packets_in.get(),
              pause ? (target->plan->is_source ? "the source holds" : "its inputs are held")
                    : (target->plan->is_source ? "the source goes on" : "its inputs go on"));
      }
      return {};
    }
    case ControlVerb::set: {
      if (target == nullptr) return "'set' needs a node name: which node's '" + message.key + "'?";
      const ParamSpec* spec = target->plan->type->spec.find_param(message.key);
      if (spec == nullptr || !spec->settable) {
        std::vector<std::string> settable;
        for (const auto& p : target->plan->type->spec.params()) {
          if (p.settable) settable.push_back(p.name);
        }
        return "parameter '" + message.key + "' of node '" + target->plan->name + "' (" + target->plan->type->name +
               ") " + (spec == nullptr ? "does not exist" : "cannot change while running") +
               (settable.empty() ? "; it has no settable parameters" : "; settable: " + join(settable, ", "));
      }
      std::vector<ParamIssue> issues;
      ControlMessage checked = message;
      checked.value = Params::check(*spec, message.value, issues);
      if (!issues.empty()) return issues.front().message;
      enqueue_control(*target, checked);
      return {};
    }
    case ControlVerb::checkpoint:
      break;
  }
  for (auto& n : nodes_) {
    if (target == nullptr || target == n.get()) enqueue_control(*n, message);
  }
  return {};
}

// Stop aimed at one node: what reaches its inputs from now on is dropped, and it ends (flushes
// and passes end of stream on) as soon as what it is processing is done.
void Runtime::Impl::close_inputs(NodeState& node) {
  node.inputs_closed.store(true);
  hold_inputs(node, false);
  if (node.plan->is_source) {
    schedule_all_sources_from_outside();
    return;
  }
  put_from_outside(node, Envelope{nullptr, 0, 0, EnvelopeType::close});
}

// Pause aimed at one node: its input envelopes wait in the runtime, so the node itself stays
// free for control; resume puts them back in the order they came.
void Runtime::Impl::hold_inputs(NodeState& node, bool hold) {
  std::vector<Envelope> released;
  {
    std::lock_guard<std::mutex> lock(node.held_mutex);
    node.held.store(hold);
    if (!hold) released.swap(node.held_envelopes);
  }
  for (auto& e : released) put_from_outside(node, std::move(e));
  if (node.plan->is_source) schedule_all_sources_from_outside();
}

bool Runtime::Impl::put_from_outside(NodeState& node, Envelope envelope) {
  std::shared_lock<std::shared_mutex> lock(graph_mutex_);
  if (!node.fn || !running_.load()) return false;
  node.fn->try_put(envelope);
  return true;
}

// ---- control delivery ---------------------------------------------------------------------
void Runtime::Impl::enqueue_control(NodeState& node, const ControlMessage& message) {
  expect_reply(message.id);
  {
    std::lock_guard<std::mutex> lock(node.control_mutex);
    node.control_inbox.push_back(message);
    node.has_control.store(true);
  }
  if (node.finished.load()) {
    refuse_after_end(node);
  } else {
    put_from_outside(node, Envelope{nullptr, 0, 0, EnvelopeType::control});
  }
}

void Runtime::Impl::refuse_after_end(NodeState& node) {
  std::vector<ControlMessage> inbox;
  {
    std::lock_guard<std::mutex> lock(node.control_mutex);
    inbox.swap(node.control_inbox);
    node.has_control.store(false);
  }
  for (const auto& message : inbox) {
    if (message.target.empty()) {
      settle(message.id);
    } else {
      reply(message, node.plan->name, false, node.packets_in.get(), "node '" + node.plan->name + "' has ended");
    }
  }
}

void Runtime::Impl::take_control(NodeState& node) {
  if (!node.has_control.load(std::memory_order_relaxed)) return;
  std::vector<ControlMessage> inbox;
  {
    std::lock_guard<std::mutex> lock(node.control_mutex);
    inbox.swap(node.control_inbox);
    node.has_control.store(false);
  }
  std::vector<std::pair<const ControlMessage*, ControlReply>> replies;
  auto deliver_all = [&] {
    for (const auto& message : inbox) {
      ControlReply r;
      bool ok = false;
      guarded(node, [&] {
        r = node.plan->node->on_control(message, *node.emitter);
        ok = true;
      });
      if (!ok) r = ControlReply::refuse("the node failed while handling it");
      replies.emplace_back(&message, std::move(r));
    }
  };
  if (node.parallel) {
    node.gate.exclusive(deliver_all);
  } else {
    deliver_all();
  }
  for (auto& [message, r] : replies) {
    // A message for every node is answered by those that handle it.
    if (!r.handled && message->target.empty()) {
      settle(message->id);
      continue;
    }
    if (!r.handled) {
      r.text = "node '" + node.plan->name + "' (" + node.plan->type->name + ") does not handle '" +
               to_string(message->verb) + "'";
    }
    reply(*message, node.plan->name, r.accepted, r.step >= 0 ? r.step : node.packets_in.get(), r.text);
  }
}

// ---- buses --------------------------------------------------------------------------------
PacketPtr Runtime::Impl::telemetry_snapshot() {
  auto packet = make_packet(PayloadKind::telemetry);
  packet->stream = "tributary";
  packet->sequence = telemetry_step_.load();
  double now = wall_time_s();
  auto step = static_cast<std::int64_t>(packet->sequence);
  for (const auto& s : stats()) {
    auto add = [&](const char* name, double value) {
      packet->metrics.push_back(MetricPoint{now, s.name, name, step, -1, value});
    };
    add(metric::kPacketsIn, static_cast<double>(s.packets_in));
    add(metric::kPacketsOut, static_cast<double>(s.packets_out));
    add(metric::kDrops, static_cast<double>(s.drops));
    add(metric::kBusySeconds, s.busy_s);
    add(metric::kQueueDepth, static_cast<double>(s.queue_depth));
    add(metric::kBusDrops, static_cast<double>(s.bus_drops));
  }
  return packet;
}

void Runtime::Impl::publish_bus(PacketPtr packet, Bus bus) {
  if (!running_.load()) {
    // While nodes start, bus traffic waits until every node is ready for it.
    std::lock_guard<std::mutex> lock(early_mutex_);
    if (!running_.load()) {
      if (collecting_early_) early_bus_.emplace_back(std::move(packet), bus);
      return;
    }
  }
  std::shared_lock<std::shared_mutex> lock(graph_mutex_);
  if (!running_.load()) return;
  if (observer_ != nullptr) observe_bus(*packet, bus);
  for (auto& n : nodes_) {
    std::int64_t port = n->bus_port[bus];
    if (port < 0 || n->finished.load() || n->failed.load()) continue;
    if (n->bus_backlog.fetch_add(1, std::memory_order_relaxed) >= kBusBacklog) {
      n->bus_backlog.fetch_sub(1, std::memory_order_relaxed);
      n->bus_drops.add(1, true);
      continue;
    }
    n->fn->try_put(Envelope{packet, 0, static_cast<std::uint32_t>(port), EnvelopeType::bus});
  }
}

void Runtime::Impl::observe_bus(const Packet& packet, Bus bus) {
  switch (bus) {
    case kTelemetryBus:
      if (!packet.metrics.empty()) observer_->on_metrics(packet.metrics);
      break;
    case kLogBus:
      for (const auto& record : packet.logs) observer_->on_log(record);
      break;
    case kControlBus:
      observer_->on_control(packet);
      break;
    case kBuses:
      break;
  }
}

// A point is recorded where it is made: a node passing on another node's metric packets (an
// identity node, a fan-out) does not record them again.
void Runtime::Impl::observe_emitted(const NodeState& node, const Packet& packet) {
  const std::string& name = node.plan->name;
  auto own = [&](const MetricPoint& p) { return p.node.empty() || p.node == name; };
  if (std::all_of(packet.metrics.begin(), packet.metrics.end(), own)) {
    if (!packet.metrics.empty()) observer_->on_metrics(packet.metrics);
    return;
  }
  std::vector<MetricPoint> mine;
  for (const auto& p : packet.metrics) {
    if (own(p)) mine.push_back(p);
  }
  if (!mine.empty()) observer_->on_metrics(mine);
}

// Publishes telemetry every interval and looks after parked sources every few milliseconds.
void Runtime::Impl::telemetry_loop() {
  auto interval =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(plan_.decl.telemetry_interval_s));
  auto next = Clock::now() + interval;
  std::unique_lock<std::mutex> lock(telemetry_mutex_);
  while (!telemetry_stop_) {
    telemetry_cv_.wait_for(lock, std::chrono::milliseconds(10), [&] { return telemetry_stop_; });
    if (telemetry_stop_) break;
    lock.unlock();
    watch_sources();
    end_stuck_sources();
    if (Clock::now() >= next) {
      next += interval;
      ++telemetry_step_;
      publish_bus(telemetry_snapshot(), kTelemetryBus);
    }
    lock.lock();
  }
}

}  // namespace tributary::core

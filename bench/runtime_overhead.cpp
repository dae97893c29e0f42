// Per-packet overhead of the Tributary runtime against a hand-written oneTBB flow graph doing the
// same work: a source, a chain of serial nodes, a counting sink, at most `capacity` packets in flight.
//
//   bench_runtime_overhead [--packets 200000] [--repeat 5] [--chain 10] [--capacity 64] [--only tbb|tributary]
//
// --only runs one side (to profile it alone, e.g. under perf); no ratio is printed then.
//
// Three rows: "light" nodes each build a new packet whose 16 floats are the input's plus one; "none"
// nodes pass the same packet on, so the row is the runtime's own cost; "ordered" does the light
// work in order-preserving parallel nodes (against unlimited function_nodes, each followed by a
// sequencer_node). Both versions call the same
// functions on the same packet type (tributary::PacketPtr). Timed: from building the graph (the
// Runtime, or the tbb::flow::graph) until the last packet reached the sink and the run returned;
// parsing the pipeline and configuring its nodes happen before and are reported apart.
#include <oneapi/tbb/flow_graph.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "logging.hpp"
#include "pipeline_file.hpp"
#include "plan.hpp"
#include "plugin_registry.hpp"
#include "runtime.hpp"
#include "tributary/sdk.hpp"

namespace {

using namespace tributary;
using Clock = std::chrono::steady_clock;
namespace flow = oneapi::tbb::flow;

constexpr std::int64_t kFloats = 16;

enum class Work { light, none, ordered };
const char* to_string(Work work) { return work == Work::light ? "light" : work == Work::none ? "none" : "ordered"; }

// ---- the work, shared by both versions ---------------------------------------------------------

PacketPtr source_packet(std::uint64_t sequence) {
  auto packet = make_packet(PayloadKind::features);
  packet->sequence = sequence;
  std::vector<float> values(kFloats);
  for (std::int64_t i = 0; i < kFloats; ++i) values[static_cast<std::size_t>(i)] = static_cast<float>(i);
  packet->tensors.push_back(Tensor::from_vector(std::move(values)));
  return packet;
}

PacketPtr add_one(const PacketPtr& in) {
  auto packet = make_packet(PayloadKind::features);
  packet->sequence = in->sequence;
  const float* src = in->tensors.front().data<float>();
  std::vector<float> values(src, src + kFloats);
  for (float& v : values) v += 1.0f;
  packet->tensors.push_back(Tensor::from_vector(std::move(values)));
  return packet;
}

// What the sink saw; the check that both versions did all the work.
struct Tally {
  std::uint64_t packets = 0;
  std::uint64_t wrong = 0;         // packets whose first value is not `expected_first`
  std::uint64_t out_of_order = 0;  // packets whose sequence number is below one seen before
  std::uint64_t highest = 0;
  float expected_first = 0.0f;

  void reset(float expected) {
    packets = 0;
    wrong = 0;
    out_of_order = 0;
    highest = 0;
    expected_first = expected;
  }
  void count(const PacketPtr& packet) {
    ++packets;
    if (packet->tensors.front().data<float>()[0] != expected_first) ++wrong;
    if (packets > 1 && packet->sequence < highest) ++out_of_order;
    highest = std::max(highest, packet->sequence);
  }
};

// ---- the Tributary version: node types registered from code ------------------------------------

class BenchSource final : public Node {
 public:
  static constexpr const char* kType = "bench_source";
  static constexpr OutputPort kOut{"out", PayloadKind::features, "16 floats 0..15"};
  static void declare(NodeSpec& spec) {
    spec.summary("emits `count` packets of 16 floats");
    spec.output(kOut);
    spec.source(SourceMode::pull);
    spec.param<std::int64_t>("count", 1000, "packets to emit").min(0);
  }
  void configure(const Params& params) override {
    count_ = static_cast<std::uint64_t>(params.get<std::int64_t>("count"));
  }
  bool produce(Emitter& out) override {
    if (next_ >= count_) return false;
    out.emit(kOut, source_packet(next_++));
    return true;
  }

 private:
  std::uint64_t count_ = 0;
  std::uint64_t next_ = 0;
};

class AddOne final : public Node {
 public:
  static constexpr const char* kType = "add_one";
  static constexpr InputPort kIn{"in", PayloadKind::features, "16 floats"};
  static constexpr OutputPort kOut{"out", PayloadKind::features, "a new packet: the 16 floats plus one"};
  static void declare(NodeSpec& spec) {
    spec.summary("adds one to 16 floats, into a new packet");
    spec.input(kIn);
    spec.output(kOut);
  }
  void process(const InputPort&, const PacketPtr& packet, Emitter& out) override { out.emit(kOut, add_one(packet)); }
};

// The same work as AddOne, declared stateless: the runtime runs its packets in parallel and keeps
// what they emit in stream order.
class AddOneOrdered final : public Node {
 public:
  static constexpr const char* kType = "add_one_ordered";
  static constexpr InputPort kIn{"in", PayloadKind::features, "16 floats"};
  static constexpr OutputPort kOut{"out", PayloadKind::features, "a new packet: the 16 floats plus one"};
  static void declare(NodeSpec& spec) {
    spec.summary("adds one to 16 floats, into a new packet, in parallel and in order");
    spec.input(kIn);
    spec.output(kOut);
    spec.concurrency(Concurrency::ordered);
  }
  void process(const InputPort&, const PacketPtr& packet, Emitter& out) override { out.emit(kOut, add_one(packet)); }
};

class PassOn final : public Node {
 public:
  static constexpr const char* kType = "pass_on";
  static constexpr InputPort kIn{"in", PayloadKind::features, "anything"};
  static constexpr OutputPort kOut{"out", PayloadKind::features, "the same packet"};
  static void declare(NodeSpec& spec) {
    spec.summary("passes the same packet on");
    spec.input(kIn);
    spec.output(kOut);
  }
  void process(const InputPort&, const PacketPtr& packet, Emitter& out) override { out.emit(kOut, packet); }
};

class CountingSink final : public Node {
 public:
  static constexpr const char* kType = "counting_sink";
  static constexpr InputPort kIn{"in", PayloadKind::features, "anything"};
  static void declare(NodeSpec& spec) {
    spec.summary("counts and checks what reaches it");
    spec.input(kIn);
  }
  explicit CountingSink(Tally& tally) : tally_(tally) {}
  void process(const InputPort&, const PacketPtr& packet, Emitter&) override { tally_.count(packet); }

 private:
  Tally& tally_;
};

template <typename T, typename... Args>
NodeType node_type(Args&... args) {
  NodeType type;
  type.name = T::kType;
  T::declare(type.spec);
  type.create = [&args...] { return std::unique_ptr<Node>(new T(args...)); };
  return type;
}

std::string chain_toml(Work work, int chain, std::uint64_t packets, std::int64_t capacity) {
  const char* plugin = work == Work::light ? AddOne::kType : work == Work::none ? PassOn::kType : AddOneOrdered::kType;
  std::string toml =
      "[pipeline]\nname = \"runtime-overhead\"\nqueue_capacity = " + std::to_string(capacity) + "\nlinks = [";
  std::string previous = "src";
  for (int i = 0; i < chain; ++i) {
    const std::string name = "n" + std::to_string(i);
    toml += "\"" + previous + " -> " + name + "\", ";
    previous = name;
  }
  toml += "\"" + previous + " -> sink\"]\n\n[nodes.src]\nplugin = \"" + std::string(BenchSource::kType) +
          "\"\ncount = " + std::to_string(packets) + "\n";
  for (int i = 0; i < chain; ++i) toml += "[nodes.n" + std::to_string(i) + "]\nplugin = \"" + plugin + "\"\n";
  toml += "[nodes.sink]\nplugin = \"" + std::string(CountingSink::kType) + "\"\n";
  return toml;
}

struct Timing {
  double run_s = 0.0;
  double setup_s = 0.0;  // Tributary only: parsing the pipeline and configuring the nodes
};

Timing run_tributary(const core::PluginRegistry& registry, const std::string& toml) {
  auto t0 = Clock::now();
  core::Logging logging(core::LogSettings{LogLevel::warn, {}, false});
  auto decl = core::parse_pipeline(toml, "runtime_overhead.toml", core::LoadOptions{});
  core::Plan plan = core::build_plan(std::move(decl), registry, core::RunInfo{"bench", "."}, logging);
  auto t1 = Clock::now();
  core::RunResult result;
  {
    core::Runtime runtime(plan, logging);
    result = runtime.run();
  }
  auto t2 = Clock::now();
  if (result.status != core::RunResult::Status::finished) {
    throw std::runtime_error("the Tributary run did not finish: " + result.failed_node + " " + result.error);
  }
  return Timing{std::chrono::duration<double>(t2 - t1).count(), std::chrono::duration<double>(t1 - t0).count()};
}

// ---- the hand-written version: input_node -> limiter_node -> function_node chain -> sink --------

Timing run_tbb(Work work, int chain, std::uint64_t packets, std::int64_t capacity, int threads, Tally& tally) {
  auto t0 = Clock::now();
  oneapi::tbb::task_arena arena(threads);
  arena.execute([&] {
    flow::graph graph;
    std::uint64_t next = 0;
    flow::input_node<PacketPtr> source(graph, [&](oneapi::tbb::flow_control& control) -> PacketPtr {
      if (next >= packets) {
        control.stop();
        return {};
      }
      return source_packet(next++);
    });
    flow::limiter_node<PacketPtr> limiter(graph, static_cast<std::size_t>(capacity));
    std::vector<std::unique_ptr<flow::function_node<PacketPtr, PacketPtr>>> nodes;
    // Ordered: each stage runs unlimited in parallel, and a sequencer puts its output back in order.
    std::vector<std::unique_ptr<flow::sequencer_node<PacketPtr>>> sequencers;
    for (int i = 0; i < chain; ++i) {
      if (work == Work::ordered) {
        nodes.push_back(std::make_unique<flow::function_node<PacketPtr, PacketPtr>>(
            graph, flow::unlimited, [](const PacketPtr& p) { return add_one(p); }));
        sequencers.push_back(std::make_unique<flow::sequencer_node<PacketPtr>>(
            graph, [](const PacketPtr& p) { return static_cast<std::size_t>(p->sequence); }));
      } else if (work == Work::light) {
        nodes.push_back(std::make_unique<flow::function_node<PacketPtr, PacketPtr>>(
            graph, flow::serial, [](const PacketPtr& p) { return add_one(p); }));
      } else {
        nodes.push_back(std::make_unique<flow::function_node<PacketPtr, PacketPtr>>(
            graph, flow::serial, [](const PacketPtr& p) { return p; }));
      }
    }
    flow::function_node<PacketPtr, flow::continue_msg> sink(graph, flow::serial, [&](const PacketPtr& p) {
      tally.count(p);
      return flow::continue_msg();
    });
    flow::make_edge(source, limiter);
    flow::make_edge(limiter, *nodes.front());
    if (work == Work::ordered) {
      for (int i = 0; i < chain; ++i) {
        auto k = static_cast<std::size_t>(i);
        flow::make_edge(*nodes[k], *sequencers[k]);
        if (i + 1 < chain) flow::make_edge(*sequencers[k], *nodes[k + 1]);
      }
      flow::make_edge(*sequencers.back(), sink);
    } else {
      for (int i = 1; i < chain; ++i)
        flow::make_edge(*nodes[static_cast<std::size_t>(i) - 1], *nodes[static_cast<std::size_t>(i)]);
      flow::make_edge(*nodes.back(), sink);
    }
    flow::make_edge(sink, limiter.decrementer());
    source.activate();
    graph.wait_for_all();
  });
  return Timing{std::chrono::duration<double>(Clock::now() - t0).count(), 0.0};
}

// ---- reporting ----------------------------------------------------------------------------------

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const std::size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

struct Row {
  std::vector<double> times;
  double setup_s = 0.0;
};

void print_row(Work work, const char* version, const Row& row, std::uint64_t packets, int graph_nodes) {
  const double best = *std::min_element(row.times.begin(), row.times.end());
  const double med = median(row.times);
  const auto n = static_cast<double>(packets);
  std::printf("%-6s %-10s %12.0f %12.0f %10.1f %10.1f %10.3f %10.3f\n", to_string(work), version, n / best, n / med,
              best * 1e9 / n / graph_nodes, med * 1e9 / n / graph_nodes, best, med);
}

struct Options {
  std::uint64_t packets = 200000;
  int repeat = 5;
  int chain = 10;
  std::int64_t capacity = 64;
  bool tbb = true;
  bool tributary = true;
};

Options parse_options(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    auto value = [&]() -> long long {
      if (i + 1 >= argc) throw std::invalid_argument(arg + " needs a value");
      char* end = nullptr;
      const long long v = std::strtoll(argv[++i], &end, 10);
      if (*end != '\0' || v <= 0) throw std::invalid_argument(arg + " needs a positive integer, not '" + argv[i] + "'");
      return v;
    };
    if (arg == "--packets") {
      o.packets = static_cast<std::uint64_t>(value());
    } else if (arg == "--repeat") {
      o.repeat = static_cast<int>(value());
    } else if (arg == "--chain") {
      o.chain = static_cast<int>(value());
    } else if (arg == "--capacity") {
      o.capacity = value();
    } else if (arg == "--only") {
      const std::string side = i + 1 < argc ? argv[++i] : "";
      if (side != "tbb" && side != "tributary") throw std::invalid_argument("--only takes tbb or tributary");
      o.tbb = side == "tbb";
      o.tributary = side == "tributary";
    } else if (arg == "--help" || arg == "-h") {
      std::printf(
          "usage: %s [--packets N] [--repeat R] [--chain NODES] [--capacity IN_FLIGHT] [--only tbb|tributary]\n",
          argv[0]);
      std::exit(0);
    } else {
      throw std::invalid_argument("unknown option '" + arg + "' (try --help)");
    }
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) try {
  const Options o = parse_options(argc, argv);
  const int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int graph_nodes = o.chain + 2;

  Tally tally;
  core::PluginRegistry registry;
  registry.add(node_type<BenchSource>());
  registry.add(node_type<AddOne>());
  registry.add(node_type<AddOneOrdered>());
  registry.add(node_type<PassOn>());
  registry.add(node_type<CountingSink>(tally));

  std::printf(
      "runtime_overhead: %llu packets, source -> %d serial nodes -> sink, at most %lld in flight, %d threads, "
      "%d repeats (interleaved)\n",
      static_cast<unsigned long long>(o.packets), o.chain, static_cast<long long>(o.capacity), threads, o.repeat);
  std::printf(
      "tributary: Runtime::run on inline TOML, queue_capacity = %lld per link; tbb: input_node -> "
      "limiter_node(%lld) -> function_node(serial) x %d -> sink\n",
      static_cast<long long>(o.capacity), static_cast<long long>(o.capacity), o.chain);
  std::printf("ns/pkt/node = time / packets / %d graph nodes (source, chain, sink)\n\n", graph_nodes);

  bool all_counted = true;
  std::vector<std::pair<Work, double>> ratios;
  std::printf("%-6s %-10s %12s %12s %10s %10s %10s %10s\n", "work", "version", "best pkt/s", "median pkt/s",
              "best ns/pn", "med ns/pn", "best s", "median s");
  for (Work work : {Work::light, Work::none, Work::ordered}) {
    const float expected = work == Work::none ? 0.0f : static_cast<float>(o.chain);
    const std::string toml = chain_toml(work, o.chain, o.packets, o.capacity);
    auto check = [&](const char* version) {
      if (tally.packets != o.packets || tally.wrong != 0) {
        std::fprintf(stderr, "%s (%s): the sink counted %llu packets (%llu wrong), expected %llu\n", version,
                     to_string(work), static_cast<unsigned long long>(tally.packets),
                     static_cast<unsigned long long>(tally.wrong), static_cast<unsigned long long>(o.packets));
        all_counted = false;
      }
    };
    // One short warm-up of each, not counted: allocator pools, TBB's worker threads, page faults.
    const std::uint64_t warm = std::max<std::uint64_t>(1, o.packets / 10);
    tally.reset(expected);
    if (o.tbb) run_tbb(work, o.chain, warm, o.capacity, threads, tally);
    tally.reset(expected);
    if (o.tributary) run_tributary(registry, chain_toml(work, o.chain, warm, o.capacity));

    Row tbb_row;
    Row tributary_row;
    std::uint64_t tbb_out_of_order = 0;
    std::uint64_t tributary_out_of_order = 0;
    for (int r = 0; r < o.repeat; ++r) {
      if (o.tbb) {
        tally.reset(expected);
        tbb_row.times.push_back(run_tbb(work, o.chain, o.packets, o.capacity, threads, tally).run_s);
        check("tbb");
        tbb_out_of_order += tally.out_of_order;
      }
      if (o.tributary) {
        tally.reset(expected);
        Timing t = run_tributary(registry, toml);
        check("tributary");
        tributary_out_of_order += tally.out_of_order;
        tributary_row.times.push_back(t.run_s);
        tributary_row.setup_s = std::max(tributary_row.setup_s, t.setup_s);
      }
    }
    if (o.tbb) print_row(work, "tbb", tbb_row, o.packets, graph_nodes);
    if (o.tributary) {
      print_row(work, "tributary", tributary_row, o.packets, graph_nodes);
      std::printf("%-6s tributary setup (parse + plan, not timed above): %.1f ms at most\n", to_string(work),
                  tributary_row.setup_s * 1e3);
    }
    if (o.tbb && o.tributary) ratios.emplace_back(work, median(tributary_row.times) / median(tbb_row.times));
    std::printf("%-6s packets reaching the sink out of order, all repeats: tbb %llu, tributary %llu\n", to_string(work),
                static_cast<unsigned long long>(tbb_out_of_order),
                static_cast<unsigned long long>(tributary_out_of_order));
  }
  std::printf("\n");
  for (const auto& [work, ratio] : ratios) {
    std::printf("ratio tributary/tbb (time per packet, median), %s work: %.2f (goal <= 1.2)\n", to_string(work), ratio);
  }
  return all_counted ? 0 : 1;
} catch (const std::exception& e) {
  std::fprintf(stderr, "bench_runtime_overhead: %s\n", e.what());
  return 2;
}

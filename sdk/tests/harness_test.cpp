#include <catch2/catch.hpp>

#include "tributary/testing.hpp"

using namespace tributary;

namespace {
// Counts packets and emits a running total: a small node that reads like a plugin's.
class RunningSum final : public Node {
 public:
  static constexpr const char* kType = "running_sum";
  static constexpr InputPort kIn{"in", PayloadKind::features, "values to add"};
  static constexpr OutputPort kOut{"out", PayloadKind::features, "the sum so far"};
  static void declare(NodeSpec& spec) {
    spec.summary("adds up the first element of every packet");
    spec.input(kIn);
    spec.output(kOut);
    spec.param<double>("start", 0.0, "initial value");
  }
  void configure(const Params& p) override { sum_ = p.get<double>("start"); }
  void process(const InputPort&, const PacketPtr& packet, Emitter& out) override {
    sum_ += packet->tensors.at(0).at(0);
    auto result = make_packet(PayloadKind::features);
    result->tensors.push_back(Tensor::from_vector(std::vector<double>{sum_}));
    out.emit(kOut, result);
  }
  void flush(Emitter&) override { log().info("total ", sum_); }

 private:
  double sum_ = 0;
};
}  // namespace

TEST_CASE("the harness configures a node, feeds it and records what it emits and logs") {
  auto h = NodeHarness::of<RunningSum>({{"start", 10}});
  h.start();
  for (double v : {1.0, 2.0, 3.0}) {
    auto p = make_packet(PayloadKind::features);
    p->tensors.push_back(Tensor::from_vector(std::vector<double>{v}));
    h.push("in", p);
  }
  h.flush();
  REQUIRE(h.output().size() == 3);
  CHECK(h.output("out").back()->tensors[0].at(0) == 16.0);
  REQUIRE(h.logs().size() == 1);
  CHECK(h.logs()[0].message == "total 16");
  CHECK(h.logs()[0].node == "running_sum");
}

TEST_CASE("the harness refuses parameters the declaration refuses") {
  CHECK_THROWS_AS(NodeHarness::of<RunningSum>({{"strat", 1}}), ParamError);
}

TEST_CASE("a run view says which outputs a link takes, and an empty one (a harness) takes every output") {
  RunView view;
  CHECK(view.output_linked("train", "boundary"));
  view.nodes.push_back(RunView::NodeView{});
  view.nodes.back().name = "train";
  RunView::LinkView link;
  link.from = "train";
  link.from_port = "metrics";
  link.to = "log";
  link.to_port = "in";
  view.links.push_back(link);
  CHECK(view.output_linked("train", "metrics"));
  CHECK_FALSE(view.output_linked("train", "boundary"));
  CHECK_FALSE(view.output_linked("log", "metrics"));
}

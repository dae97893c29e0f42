#include "normalize/normalize.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <filesystem>
#include <fstream>

#include "tributary/testing.hpp"

using namespace tributary;
using tributary::features::Normalize;

namespace {

PacketPtr frames(std::vector<float> values, std::int64_t bins, Split split = Split::train) {
  auto p = make_packet(PayloadKind::example);
  const auto n = static_cast<std::int64_t>(values.size()) / bins;
  p->tensors.push_back(Tensor::from_vector(std::move(values), {n, bins}));
  p->split = split;
  p->label = 2;
  return p;
}

std::vector<float> values(const PacketPtr& p) {
  const float* v = p->tensors.at(0).data<float>();
  return {v, v + p->tensors.at(0).numel()};
}

}  // namespace

TEST_CASE("normalize per utterance centres and scales each bin over the packet's own frames") {
  auto h = NodeHarness::of<Normalize>({{"mode", "utterance"}});
  h.start();
  h.push("in", frames({1, 10, 3, 10, 5, 10}, 2));  // bin 0: mean 3, var 8/3; bin 1 constant
  const auto v = values(h.output().at(0));
  const double sd = std::sqrt(8.0 / 3.0 + 1e-8);
  CHECK(v[0] == Approx(-2.0 / sd));
  CHECK(v[2] == Approx(0.0).margin(1e-6));
  CHECK(v[4] == Approx(2.0 / sd));
  CHECK(v[1] == 0.0f);  // a constant bin is centred, not blown up
  CHECK(h.output()[0]->label == 2);
  CHECK(h.output()[0]->tensors[0].shape() == Shape{3, 2});
}

TEST_CASE("normalize running uses the train frames seen so far, val frames do not move them") {
  auto h = NodeHarness::of<Normalize>({{"variance", false}});
  h.start();
  h.push("in", frames({0, 0, 2, 4}, 2));  // means {1, 2}
  h.push("in", frames({100, 100}, 2, Split::val));
  CHECK(values(h.output()[1]) == std::vector<float>{99, 98});
  h.push("in", frames({4, 8}, 2));  // means {2, 4}
  CHECK(values(h.output()[2]) == std::vector<float>{2, 4});
}

TEST_CASE("normalize from a file reads means and standard deviations per bin") {
  const auto path = std::filesystem::temp_directory_path() / "tributary-cmvn-stats.txt";
  std::ofstream(path) << "1.0, 2.0\n0.5 4\n";
  auto h = NodeHarness::of<Normalize>({{"mode", "file"}, {"stats_path", path.string()}});
  h.start();
  h.push("in", frames({2, 10}, 2));
  CHECK(values(h.output().at(0)) == std::vector<float>{2, 2});
  CHECK_THROWS_WITH(h.push("in", frames({1, 2, 3}, 3)), Catch::Contains("normalize") && Catch::Contains("2 bins"));
}

TEST_CASE("normalize refuses file mode without a readable, well-formed file") {
  try {
    NodeHarness::of<Normalize>({{"mode", "file"}});
    FAIL("no error");
  } catch (const ParamError& e) {
    CHECK(e.param() == "stats_path");
  }
  const auto path = std::filesystem::temp_directory_path() / "tributary-cmvn-bad.txt";
  std::ofstream(path) << "1 2 3\n1 2\n";
  CHECK_THROWS_WITH(NodeHarness::of<Normalize>({{"mode", "file"}, {"stats_path", path.string()}}),
                    Catch::Contains("3 and 2"));
  CHECK_THROWS_AS(NodeHarness::of<Normalize>({{"stats_path", path.string()}}), ParamError);
}

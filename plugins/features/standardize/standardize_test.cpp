#include "standardize/standardize.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <string>

#include "tributary/testing.hpp"

using namespace tributary;
using tributary::features::RunningMoments;
using tributary::features::Standardize;

namespace {

PacketPtr example(std::vector<float> values, Split split = Split::train, std::int64_t label = 0) {
  auto p = make_packet(PayloadKind::example);
  p->tensors.push_back(Tensor::from_vector(std::move(values)));
  p->split = split;
  p->label = label;
  return p;
}

std::vector<double> values_of(const PacketPtr& p) {
  std::vector<double> v;
  const Tensor& t = p->tensors.at(0);
  for (std::int64_t i = 0; i < t.numel(); ++i) v.push_back(t.at(i));
  return v;
}

}  // namespace

TEST_CASE("RunningMoments matches the two-pass mean and population variance") {
  RunningMoments m;
  m.reset(2);
  const std::vector<std::vector<double>> rows{{1, 10}, {2, 10}, {3, 10}, {4, 10}};
  for (const auto& r : rows) m.add(Tensor::from_vector(r));
  CHECK(m.count() == 4);
  CHECK(m.mean(0) == Approx(2.5));
  CHECK(m.variance(0) == Approx(1.25));
  CHECK(m.mean(1) == Approx(10.0));
  CHECK(m.variance(1) == 0.0);
}

TEST_CASE("standardize transforms with the statistics of the train examples seen so far") {
  auto h = NodeHarness::of<Standardize>();
  h.start();
  h.push("in", example({1.0f, 5.0f}));
  h.push("in", example({3.0f, 5.0f}));
  REQUIRE(h.output("out").size() == 2);
  // After the second example: mean {2, 5}, variance {1, 0}.
  const auto second = values_of(h.output("out")[1]);
  CHECK(second[0] == Approx(1.0).epsilon(1e-6));
  CHECK(second[1] == 0.0);  // a constant feature is centred, not blown up

  // Validation examples are transformed but do not move the statistics.
  h.push("in", example({100.0f, 5.0f}, Split::val));
  h.push("in", example({4.0f, 6.0f}, Split::test));
  const auto val = values_of(h.output("out")[2]);
  const auto test = values_of(h.output("out")[3]);
  CHECK(val[0] == Approx((100.0 - 2.0) / std::sqrt(1.0 + 1e-8)));
  CHECK(test[0] == Approx(2.0).epsilon(1e-6));
  CHECK(test[1] == Approx(1.0));
}

TEST_CASE("standardize with fit_split = all learns from every split") {
  auto h = NodeHarness::of<Standardize>({{"fit_split", "all"}});
  h.start();
  h.push("in", example({0.0f}, Split::val));
  h.push("in", example({2.0f}, Split::test));
  const auto last = values_of(h.output().back());
  CHECK(last[0] == Approx(1.0).epsilon(1e-6));  // mean 1, variance 1
}

TEST_CASE("standardize copies label, split, sequence, stream and attributes and keeps the shape as f32") {
  auto h = NodeHarness::of<Standardize>();
  h.start();
  auto in = make_packet(PayloadKind::features);
  in->stream = "gen";
  in->sequence = 42;
  in->label = 7;
  in->split = Split::train;
  in->set_attribute("epoch", 3);
  in->tensors.push_back(Tensor::from_vector(std::vector<double>{1, 2, 3, 4, 5, 6}, {2, 3}));
  in->tensors.push_back(Tensor::from_vector(std::vector<float>{9.0f}));
  h.push("in", in);
  REQUIRE(h.output().size() == 1);
  const auto& out = *h.output()[0];
  CHECK(out.kind == PayloadKind::features);
  CHECK(out.stream == "gen");
  CHECK(out.sequence == 42);
  CHECK(out.label == 7);
  CHECK(out.split == Split::train);
  REQUIRE(out.attribute("epoch") != nullptr);
  CHECK(out.attribute("epoch")->as_int() == 3);
  CHECK(out.tensors[0].dtype() == DType::f32);
  CHECK(out.tensors[0].shape() == Shape{2, 3});
  // Tensors after the first are shared, not copied; the input is left as it was.
  CHECK(out.tensors[1].raw() == in->tensors[1].raw());
  CHECK(in->tensors[0].dtype() == DType::f64);
  CHECK(in->tensors[0].at(0) == 1.0);
}

TEST_CASE("standardize holds warmup packets and emits them with the statistics of all of them") {
  auto h = NodeHarness::of<Standardize>({{"warmup", 3}});
  h.start();
  h.push("in", example({1.0f}));
  h.push("in", example({2.0f}));
  CHECK(h.output().empty());
  h.push("in", example({3.0f}));
  REQUIRE(h.output().size() == 3);
  // Mean 2, variance 2/3, for all three.
  const double sd = std::sqrt(2.0 / 3.0 + 1e-8);
  CHECK(values_of(h.output()[0])[0] == Approx(-1.0 / sd));
  CHECK(values_of(h.output()[1])[0] == Approx(0.0).margin(1e-6));
  CHECK(values_of(h.output()[2])[0] == Approx(1.0 / sd));
}

TEST_CASE("standardize emits held packets at flush when the stream ends during warmup") {
  auto h = NodeHarness::of<Standardize>({{"warmup", 10}});
  h.start();
  h.push("in", example({1.0f}, Split::train, 1));
  h.push("in", example({3.0f}, Split::train, 2));
  CHECK(h.output().empty());
  h.flush();
  REQUIRE(h.output().size() == 2);
  CHECK(h.output()[0]->label == 1);
  CHECK(h.output()[1]->label == 2);
  CHECK(values_of(h.output()[0])[0] == Approx(-1.0).epsilon(1e-6));
}

TEST_CASE("standardize names itself, the expected and the found shape when the feature count changes") {
  auto h = NodeHarness::of<Standardize>();
  h.start();
  h.push("in", example({1.0f, 2.0f, 3.0f}));
  try {
    h.push("in", example({1.0f, 2.0f}));
    FAIL("no error for a changed feature count");
  } catch (const std::runtime_error& e) {
    const std::string what = e.what();
    CHECK(what.find("standardize") != std::string::npos);
    CHECK(what.find("[3]") != std::string::npos);
    CHECK(what.find("[2]") != std::string::npos);
  }
}

TEST_CASE("standardize refuses integer tensors and packets without tensors") {
  auto h = NodeHarness::of<Standardize>();
  h.start();
  auto ints = make_packet(PayloadKind::features);
  ints->tensors.push_back(Tensor::from_vector(std::vector<std::int32_t>{1, 2}));
  CHECK_THROWS_WITH(h.push("in", ints), Catch::Contains("f32 or f64") && Catch::Contains("i32"));
  CHECK_THROWS_WITH(h.push("in", make_packet(PayloadKind::example)), Catch::Contains("no tensors"));
}

TEST_CASE("standardize refuses a non-positive epsilon and an unknown fit_split") {
  CHECK_THROWS_AS(NodeHarness::of<Standardize>({{"epsilon", 0.0}}), ParamError);
  CHECK_THROWS_AS(NodeHarness::of<Standardize>({{"fit_split", "val"}}), ParamError);
  CHECK_THROWS_AS(NodeHarness::of<Standardize>({{"warmup", -1}}), ParamError);
}

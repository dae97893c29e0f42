#include "identity/identity.hpp"

#include <catch2/catch.hpp>

#include "tributary/testing.hpp"

using namespace tributary;
using tributary::features::Identity;

namespace {
PacketPtr numbered(PayloadKind kind, std::uint64_t sequence) {
  auto p = make_packet(kind);
  p->sequence = sequence;
  p->tensors.push_back(Tensor::from_vector(std::vector<float>{static_cast<float>(sequence)}));
  return p;
}
}  // namespace

TEST_CASE("identity declares one input and one output of any kind and keeps packets in order") {
  auto h = NodeHarness::of<Identity>();
  REQUIRE(h.spec().inputs().size() == 1);
  REQUIRE(h.spec().outputs().size() == 1);
  CHECK(h.spec().inputs()[0]->kinds == PayloadKinds::any());
  CHECK(h.spec().outputs()[0]->kinds == PayloadKinds::any());
  CHECK(h.spec().concurrency() == Concurrency::serial);
  CHECK(h.params().get<std::int64_t>("drop_every") == 0);
}

TEST_CASE("identity passes on the very same packets, in order, whatever their kind") {
  auto h = NodeHarness::of<Identity>();
  h.start();
  std::vector<PacketPtr> sent;
  std::uint64_t seq = 0;
  for (auto kind : {PayloadKind::audio, PayloadKind::example, PayloadKind::metrics, PayloadKind::blob}) {
    sent.push_back(numbered(kind, seq++));
    h.push("in", sent.back());
  }
  h.flush();
  REQUIRE(h.output("out").size() == sent.size());
  for (std::size_t i = 0; i < sent.size(); ++i) CHECK(h.output("out")[i].get() == sent[i].get());
  CHECK(h.logs().empty());
}

TEST_CASE("identity with drop_every = 3 drops the 3rd, 6th, 9th packet and says how many at flush") {
  auto h = NodeHarness::of<Identity>({{"drop_every", 3}});
  h.start();
  for (std::uint64_t i = 1; i <= 10; ++i) h.push("in", numbered(PayloadKind::features, i));
  h.flush();
  std::vector<std::uint64_t> passed;
  for (const auto& p : h.output()) passed.push_back(p->sequence);
  CHECK(passed == std::vector<std::uint64_t>{1, 2, 4, 5, 7, 8, 10});
  REQUIRE(h.logs().size() == 1);
  CHECK(h.logs()[0].message == "dropped 3 of 10 packets (drop_every = 3)");
}

TEST_CASE("identity refuses a negative drop_every") {
  CHECK_THROWS_AS(NodeHarness::of<Identity>({{"drop_every", -1}}), ParamError);
}

#include "cache/cache.hpp"

#include <catch2/catch.hpp>
#include <cstring>
#include <filesystem>
#include <set>
#include <string>

#include "augment/augment.hpp"
#include "tributary/testing.hpp"

using namespace tributary;
using tributary::features::Augment;
using tributary::features::Cache;

namespace fs = std::filesystem;

namespace {

// A clip as audio_dataset gives it: [samples, 1] f32 with a path, label, split and epoch.
PacketPtr clip(std::size_t i, Split split, std::size_t samples = 1600) {
  auto p = make_packet(PayloadKind::example);
  std::vector<float> v(samples);
  for (std::size_t k = 0; k < samples; ++k) v[k] = static_cast<float>((i * 7919 + k * 104729) % 2000) / 1000.0f - 1.0f;
  p->tensors.push_back(Tensor::from_vector(std::move(v), {static_cast<std::int64_t>(samples), 1}));
  p->stream = "clips";
  p->sequence = i;
  p->label = static_cast<std::int64_t>(i % 3);
  p->split = split;
  p->set_attribute("path", "data/kws/" + std::to_string(i) + ".wav");
  p->set_attribute("sample_rate", 16000);
  p->set_attribute("epoch", 0);
  return p;
}

Split split_of(std::size_t i) { return i % 5 == 3 ? Split::val : i % 5 == 4 ? Split::test : Split::train; }

// One epoch of `n` clips and its marker into the cache, then the end of its input.
void feed_epoch(NodeHarness& h, std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) h.push("in", clip(i, split_of(i)));
  h.push("in", Marker{MarkerKind::epoch_end, 0, Split::none, "clips"});
  h.push("in", Marker{MarkerKind::end_of_stream, -1, Split::none, ""});
  h.flush();
}

std::string path_of(const PacketPtr& p) { return p->attribute("path")->as_string(); }

std::int64_t epoch_of(const PacketPtr& p) { return p->attribute("epoch")->as_int(); }

bool same_bytes(const Tensor& a, const Tensor& b) {
  return a.dtype() == b.dtype() && a.shape() == b.shape() && std::memcmp(a.raw(), b.raw(), a.nbytes()) == 0;
}

// The packets of one epoch, by epoch attribute.
std::vector<PacketPtr> epoch_packets(const std::vector<PacketPtr>& all, std::int64_t epoch) {
  std::vector<PacketPtr> out;
  for (const auto& p : all) {
    if (epoch_of(p) == epoch) out.push_back(p);
  }
  return out;
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("tributary-cache-test-" + name);
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

}  // namespace

TEST_CASE("cache passes the first epoch through and replays it for the later epochs") {
  auto h = NodeHarness::of<Cache>({{"epochs", 3}}, fresh_dir("replay").string());
  h.start();
  feed_epoch(h, 10);
  const auto& out = h.output();
  REQUIRE(out.size() == 30);
  for (std::int64_t e = 0; e < 3; ++e) {
    const auto epoch = epoch_packets(out, e);
    REQUIRE(epoch.size() == 10);
    for (std::size_t i = 0; i < 10; ++i) {
      const PacketPtr expected = clip(i, split_of(i));
      // Unshuffled, every replay is the first pass: same items, order, tensors, labels, splits.
      CHECK(path_of(epoch[i]) == path_of(expected));
      CHECK(epoch[i]->label == expected->label);
      CHECK(epoch[i]->split == expected->split);
      CHECK(epoch[i]->stream == "clips");
      CHECK(epoch[i]->attribute("epochs")->as_int() == 3);
      CHECK(same_bytes(epoch[i]->tensors.at(0), expected->tensors.at(0)));
    }
  }
  // Sequence numbers go on rising, so what follows sees new packets each epoch.
  for (std::size_t i = 1; i < out.size(); ++i) CHECK(out[i]->sequence > out[i - 1]->sequence);
  // One epoch_end per epoch, in order, numbered as the epochs.
  const auto& markers = h.markers();
  REQUIRE(markers.size() == 3);
  for (std::int64_t e = 0; e < 3; ++e) {
    CHECK(markers[static_cast<std::size_t>(e)].kind == MarkerKind::epoch_end);
    CHECK(markers[static_cast<std::size_t>(e)].epoch == e);
  }
}

TEST_CASE("cache shuffles the train packets of each replay, the same way for the same seed") {
  auto run = [](std::int64_t seed) {
    auto h = NodeHarness::of<Cache>({{"epochs", 4}, {"shuffle", true}, {"seed", seed}},
                                    fresh_dir("shuffle" + std::to_string(seed)).string());
    h.start();
    feed_epoch(h, 40);
    std::vector<std::vector<std::string>> epochs(4);
    for (const auto& p : h.output()) epochs[static_cast<std::size_t>(epoch_of(p))].push_back(path_of(p));
    // Val and test packets keep their places; every epoch holds every item once.
    const auto first = epoch_packets(h.output(), 0);
    for (std::int64_t e = 1; e < 4; ++e) {
      const auto replay = epoch_packets(h.output(), e);
      REQUIRE(replay.size() == 40);
      std::set<std::string> items;
      for (std::size_t i = 0; i < 40; ++i) {
        items.insert(path_of(replay[i]));
        CHECK(replay[i]->split == first[i]->split);
        if (first[i]->split != Split::train) CHECK(path_of(replay[i]) == path_of(first[i]));
      }
      CHECK(items.size() == 40);
    }
    return epochs;
  };
  const auto a = run(5);
  CHECK(a[1] != a[0]);
  CHECK(a[2] != a[1]);
  CHECK(a[3] != a[2]);
  CHECK(run(5) == a);
  CHECK(run(6)[1] != a[1]);
}

TEST_CASE("cache spills past max_bytes to a file and reads the packets back byte for byte") {
  const fs::path dir = fresh_dir("spill");
  // Each clip holds 1600 f32: 6400 bytes; three fit in memory, the other seven are spilled.
  auto h = NodeHarness::of<Cache>({{"epochs", 2}, {"max_bytes", 3 * 6400}, {"dir", (dir / "spill").string()}},
                                  dir.string());
  h.start();
  for (std::size_t i = 0; i < 10; ++i) h.push("in", clip(i, split_of(i)));
  h.push("in", Marker{MarkerKind::epoch_end, 0, Split::none, "clips"});
  h.push("in", Marker{MarkerKind::end_of_stream, -1, Split::none, ""});
  CHECK(fs::file_size(dir / "spill" / "cache.spill") == 7 * 6400);
  h.flush();
  const auto replay = epoch_packets(h.output(), 1);
  REQUIRE(replay.size() == 10);
  for (std::size_t i = 0; i < 10; ++i) {
    CHECK(same_bytes(replay[i]->tensors.at(0), clip(i, split_of(i))->tensors.at(0)));
    CHECK(path_of(replay[i]) == path_of(clip(i, split_of(i))));
  }
  bool logged = false;
  for (const auto& l : h.logs()) logged = logged || l.message.find("0.0448 MB spilled to") != std::string::npos;
  CHECK(logged);
  h.stop();
  CHECK_FALSE(fs::exists(dir / "spill" / "cache.spill"));  // the spill file goes with the run
}

TEST_CASE("cache names a full disk and a packet without its key") {
  const fs::path dir = fresh_dir("errors");
  SECTION("the spill file cannot be written") {
    fs::create_directories(dir / "full");
    fs::create_symlink("/dev/full", dir / "full" / "cache.spill");
    auto h = NodeHarness::of<Cache>({{"max_bytes", 0}, {"dir", (dir / "full").string()}}, dir.string());
    h.start();
    CHECK_THROWS_WITH(h.push("in", clip(0, Split::train)),
                      Catch::Contains("cannot write to the spill file") && Catch::Contains("No space left on device") &&
                          Catch::Contains("raise max_bytes"));
  }
  SECTION("a packet without the key attribute") {
    auto h = NodeHarness::of<Cache>({{"key", "file"}}, dir.string());
    h.start();
    CHECK_THROWS_WITH(h.push("in", clip(0, Split::train)),
                      Catch::Contains("has no 'file' attribute") && Catch::Contains("key = \"\""));
  }
  SECTION("the same item twice, or a second epoch from the source") {
    auto h = NodeHarness::of<Cache>({}, dir.string());
    h.start();
    h.push("in", clip(0, Split::train));
    CHECK_THROWS_WITH(h.push("in", clip(0, Split::train)), Catch::Contains("two packets name the item"));
    h.push("in", Marker{MarkerKind::epoch_end, 0, Split::none, "clips"});
    CHECK_THROWS_WITH(h.push("in", clip(1, Split::train)), Catch::Contains("give the source epochs = 1"));
  }
}

TEST_CASE("augment after the cache varies from epoch to epoch") {
  auto cache = NodeHarness::of<Cache>({{"epochs", 3}}, fresh_dir("augment").string());
  cache.start();
  feed_epoch(cache, 5);
  auto aug = NodeHarness::of<Augment>({{"gain_db", std::vector<Value>{-6.0, 6.0}}, {"shift_ms", 20.0}});
  aug.start();
  for (const auto& p : cache.output()) aug.push("in", p);
  const auto& out = aug.output();
  REQUIRE(out.size() == 15);
  for (std::size_t i = 0; i < 5; ++i) {
    if (out[i]->split != Split::train) continue;
    // The same item, augmented differently in each epoch.
    CHECK(path_of(out[i]) == path_of(out[i + 5]));
    CHECK_FALSE(same_bytes(out[i]->tensors.at(0), out[i + 5]->tensors.at(0)));
    CHECK_FALSE(same_bytes(out[i + 5]->tensors.at(0), out[i + 10]->tensors.at(0)));
  }
}

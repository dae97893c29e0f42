#include "checkpoint/checkpoint.hpp"

#include <catch2/catch.hpp>
#include <filesystem>
#include <nlohmann/json.hpp>

#include "export/sink_testing.hpp"
#include "tributary/testing.hpp"

using namespace tributary;
using tributary::sinks::CheckpointSink;
using namespace tributary::sinks::testing;
namespace fs = std::filesystem;

namespace {

PacketPtr checkpoint(std::int64_t step, bool best, const std::string& bytes, double val_loss = 0.5) {
  auto p = make_packet(PayloadKind::blob);
  p->stream = "train";
  p->tensors.push_back(Tensor::from_vector(std::vector<std::uint8_t>(bytes.begin(), bytes.end())));
  p->set_attribute("step", step);
  p->set_attribute("epoch", step / 10);
  p->set_attribute("best", best);
  p->set_attribute("reason", best ? "best" : "schedule");
  p->set_attribute("metric/val/loss", val_loss);
  return p;
}

std::vector<std::string> files_in(const std::string& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir)) names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

nlohmann::json manifest(const std::string& dir) { return nlohmann::json::parse(read_text(dir + "/checkpoints.json")); }

}  // namespace

TEST_CASE("checkpoint: writes each checkpoint whole, keeps the last `keep` and the best, with a manifest") {
  ScratchDir scratch;
  const std::string dir = scratch.file("ckpt");
  auto h = NodeHarness::of<CheckpointSink>({{"dir", dir}, {"keep", 2}});
  h.start();
  h.push("in", checkpoint(10, true, "ten", 0.4));
  h.push("in", checkpoint(20, false, "twenty"));
  h.push("in", checkpoint(30, false, "thirty"));
  h.push("in", checkpoint(40, false, "forty"));
  h.flush();
  // One line at the end says what was written and what is kept.
  std::vector<std::string> said;
  for (const LogRecord& r : h.logs()) {
    if (r.level >= LogLevel::info) said.push_back(r.message);
  }
  REQUIRE(said.size() == 1);
  CHECK(said[0] == "wrote 4 checkpoints (20 bytes) to " + dir +
                       "; kept 3: newest step-000000000040.pt, best step-000000000010.pt");

  // The best (step 10) stays beside the last two; nothing temporary is left.
  CHECK(files_in(dir) == std::vector<std::string>{"checkpoints.json", "step-000000000010.pt", "step-000000000030.pt",
                                                  "step-000000000040.pt"});
  CHECK(read_text(dir + "/step-000000000040.pt") == "forty");
  const auto m = manifest(dir);
  CHECK(m["latest"] == "step-000000000040.pt");
  CHECK(m["best"] == "step-000000000010.pt");
  REQUIRE(m["checkpoints"].size() == 3);
  const auto& first = m["checkpoints"][0];
  CHECK(first["step"] == 10);
  CHECK(first["epoch"] == 1);
  CHECK(first["best"] == true);
  CHECK(first["reason"] == "best");
  CHECK(first["metrics"]["val/loss"] == 0.4);
  CHECK(first["path"] == dir + "/step-000000000010.pt");
  CHECK(first["time"].get<double>() > 1.0e9);

  // A new best takes over; the old best goes once it is out of the last `keep`.
  h.push("in", checkpoint(50, true, "fifty", 0.3));
  CHECK(files_in(dir) == std::vector<std::string>{"checkpoints.json", "step-000000000040.pt", "step-000000000050.pt"});
  CHECK(manifest(dir)["best"] == "step-000000000050.pt");

  // Another run in the same folder carries the manifest on.
  auto again = NodeHarness::of<CheckpointSink>({{"dir", dir}, {"keep", 2}});
  again.start();
  again.push("in", checkpoint(60, false, "sixty"));
  CHECK(manifest(dir)["checkpoints"].size() == 2);
  CHECK(manifest(dir)["best"] == "step-000000000050.pt");
  CHECK(manifest(dir)["latest"] == "step-000000000060.pt");
}

TEST_CASE("checkpoint: a write that fails is reported, and the run goes on with the last good checkpoint") {
  ScratchDir scratch;
  const std::string dir = scratch.file("ckpt");
  auto h = NodeHarness::of<CheckpointSink>({{"dir", dir}});
  h.start();
  h.push("in", checkpoint(1, false, "one"));
  // Something in the way of the temporary file makes the next write fail, as a full disk would.
  fs::create_directories(dir + "/.step-000000000002.pt.tmp");
  CHECK_NOTHROW(h.push("in", checkpoint(2, false, "two")));
  bool reported = false;
  for (const auto& r : h.logs()) {
    if (r.level == LogLevel::error && r.message.find("checkpoint at step 2 not written") != std::string::npos &&
        r.message.find("step-000000000001.pt") != std::string::npos) {
      reported = true;
    }
  }
  CHECK(reported);
  CHECK(read_text(dir + "/step-000000000001.pt") == "one");
  CHECK_FALSE(fs::exists(dir + "/step-000000000002.pt"));
  CHECK(manifest(dir)["latest"] == "step-000000000001.pt");
  bool counted = false;
  for (const auto& m : h.metrics()) counted = counted || (m.name == "checkpoint/failures" && m.value == 1.0);
  CHECK(counted);
  // Once the way is clear it writes again.
  fs::remove_all(dir + "/.step-000000000002.pt.tmp");
  h.push("in", checkpoint(3, false, "three"));
  CHECK(manifest(dir)["latest"] == "step-000000000003.pt");
}

TEST_CASE("checkpoint: the default folder is checkpoints/ in the run directory, other payloads are refused") {
  ScratchDir scratch;
  auto h = NodeHarness::of<CheckpointSink>({}, scratch.file("run"));
  h.start();
  h.push("in", checkpoint(7, false, "seven"));
  CHECK(read_text(scratch.file("run") + "/checkpoints/step-000000000007.pt") == "seven");
  auto wrong = make_packet(PayloadKind::blob);
  wrong->tensors.push_back(Tensor::from_vector(std::vector<float>{1.0f}));
  CHECK_THROWS_WITH(h.push("in", wrong), Catch::Contains("expected a checkpoint as a u8 tensor"));
}

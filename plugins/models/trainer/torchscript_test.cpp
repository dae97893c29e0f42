// kind = "torchscript": a module made in Python with torch.jit.script and saved, trained here. The
// .pt files are made at test time with Debian's python3-torch (/usr/bin/python3).
#include <torch/csrc/jit/serialization/import.h>

#include <catch2/catch.hpp>
#include <cstdlib>
#include <fstream>
#include <random>
#include <set>

#include "trainer/network.hpp"
#include "trainer/test_support.hpp"
#include "trainer/trainer.hpp"

using namespace tributary;
using namespace tributary::models::testing;
using tributary::models::Trainer;
namespace fs = std::filesystem;

namespace {

constexpr const char* kPython = "/usr/bin/python3";

bool python_has_torch() {
  static const bool has = std::system((std::string(kPython) + " -c 'import torch' >/dev/null 2>&1").c_str()) == 0;
  return has;
}

// Scripts and saves the modules the tests train: classifier.pt (4 -> 16 -> 3, with dropout and
// batch norm) and autoencoder.pt (8 -> 3 -> 8), into `dir`.
void make_modules(const fs::path& dir) {
  const fs::path script = dir / "make.py";
  std::ofstream(script) << R"(import sys, torch
torch.manual_seed(0)
class Classifier(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = torch.nn.Linear(4, 16)
        self.norm = torch.nn.BatchNorm1d(16)
        self.drop = torch.nn.Dropout(0.2)
        self.out = torch.nn.Linear(16, 3)
    def forward(self, x):
        return self.out(self.drop(torch.relu(self.norm(self.hidden(x)))))
class Autoencoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encode = torch.nn.Sequential(torch.nn.Linear(8, 3), torch.nn.Tanh())
        self.decode = torch.nn.Linear(3, 8)
    def forward(self, x):
        return self.decode(self.encode(x))
torch.jit.script(Classifier()).save(sys.argv[1] + "/classifier.pt")
torch.jit.script(Autoencoder()).save(sys.argv[1] + "/autoencoder.pt")
)";
  const std::string command = std::string(kPython) + " " + script.string() + " " + dir.string();
  REQUIRE(std::system(command.c_str()) == 0);
}

Value model(std::vector<TableEntry> entries) { return Value::table(std::move(entries)); }

PacketPtr example(const std::vector<float>& x, std::int64_t label, Split split) {
  auto p = make_packet(PayloadKind::example);
  p->stream = "data";
  p->tensors.push_back(Tensor::from_vector(x));
  p->label = label;
  p->split = split;
  p->set_attribute("classes", std::vector<Value>{"a", "b", "c"});
  return p;
}

// Blobs of 3 classes in 4 dimensions, epochs closed by markers.
void feed_blobs(NodeHarness& h, int epochs) {
  for (int e = 0; e < epochs; ++e) {
    std::mt19937 rng(1);  // the same rows each epoch
    std::normal_distribution<float> noise(0.0f, 0.5f);
    for (int i = 0; i < 150; ++i) {
      const std::int64_t label = i % 3;
      std::vector<float> x;
      for (int d = 0; d < 4; ++d) x.push_back((d == label ? 2.5f : 0.0f) + noise(rng));
      h.push("in", example(x, label, i % 10 == 8 ? Split::val : i % 10 == 9 ? Split::test : Split::train));
    }
    h.push("in", Marker{MarkerKind::epoch_end, e, Split::none, "data"});
  }
}

}  // namespace

TEST_CASE("trainer: a torchscript classifier made in Python trains here, with model_stats, checkpoints and resume") {
  if (!python_has_torch()) {
    WARN("skipped: " << kPython << " has no torch (scripts/setup.sh installs python3-torch)");
    return;
  }
  ScratchDir dir;
  make_modules(dir.path());
  const std::vector<TableEntry> params{
      {"model", model({{"kind", "torchscript"}, {"path", (dir.path() / "classifier.pt").string()}})},
      {"lr", 0.01},
      {"batch", 10},
      {"log_every", 1},
      {"checkpoint_every", 17},
      {"stats_every", 10},
      {"seed", 3}};
  auto whole = NodeHarness::of<Trainer>(params);
  whole.start();
  feed_blobs(whole, 4);
  end(whole);
  CHECK(last(whole, "test/accuracy") > 0.9);
  const auto val = named(whole, "val/loss");
  REQUIRE(val.size() == 4);
  CHECK(val.back().value < val.front().value);
  // Its parameters are the optimizer's and model_stats': hidden, norm and out, weights and biases.
  REQUIRE_FALSE(whole.output("model_stats").empty());
  std::set<std::string> names;
  for (const auto& m : whole.output("model_stats").front()->metrics) names.insert(m.name);
  CHECK(names.count("model/0.scripted.hidden_weight/grad/norm") == 1);
  CHECK(names.count("model/0.scripted.norm_bias/weight/mean") == 1);
  CHECK(names.count("model/0.scripted.out_weight/weight/std") == 1);

  // Resumed from a checkpoint mid-epoch, the run goes on exactly (dropout and batch norm included).
  PacketPtr mid;
  for (const auto& c : whole.output("checkpoint")) {
    if (c->attribute("step")->as_int() == 17) mid = c;
  }
  REQUIRE(mid);
  save_checkpoint(mid, dir.path());
  std::vector<TableEntry> resumed_params = params;
  resumed_params.push_back({"resume", dir.path().string()});
  auto resumed = NodeHarness::of<Trainer>(resumed_params);
  resumed.start();
  feed_blobs(resumed, 4);
  end(resumed);
  const auto a = named(whole, "train/loss");
  const auto b = named(resumed, "train/loss");
  REQUIRE(b.size() + 17 == a.size());
  for (std::size_t i = 0; i < b.size(); ++i) CHECK(b[i].value == a[i + 17].value);
  CHECK(last(resumed, "val/loss") == last(whole, "val/loss"));
}

TEST_CASE("trainer: train() and eval() reach the scripted module") {
  if (!python_has_torch()) {
    WARN("skipped: " << kPython << " has no torch (scripts/setup.sh installs python3-torch)");
    return;
  }
  ScratchDir dir;
  make_modules(dir.path());
  torch::jit::Module scripted = torch::jit::load((dir.path() / "classifier.pt").string());
  auto net = tributary::models::wrap_script(scripted);
  net->eval();
  CHECK_FALSE(scripted.is_training());
  for (const auto& child : scripted.named_children()) CHECK_FALSE(child.value.is_training());
  // In eval mode dropout is off: the same input gives the same output.
  const torch::Tensor x = torch::randn({5, 4});
  CHECK(torch::equal(net->forward(x), net->forward(x)));
  net->train();
  CHECK(scripted.is_training());
  CHECK_FALSE(torch::equal(net->forward(x), net->forward(x)));
  // The registered parameters are the scripted module's own tensors.
  std::size_t count = 0;
  for (const auto& p : scripted.parameters()) {
    ++count;
    bool shared = false;
    for (const auto& q : net->parameters()) shared = shared || q.is_same(p);
    CHECK(shared);
  }
  CHECK(count == net->parameters().size());
}

TEST_CASE("trainer: a torchscript autoencoder (loss = \"mse\") learns to reconstruct unlabelled packets") {
  if (!python_has_torch()) {
    WARN("skipped: " << kPython << " has no torch (scripts/setup.sh installs python3-torch)");
    return;
  }
  ScratchDir dir;
  make_modules(dir.path());
  auto h = NodeHarness::of<Trainer>(
      {{"model", model({{"kind", "torchscript"}, {"path", (dir.path() / "autoencoder.pt").string()}, {"loss", "mse"}})},
       {"mode", "online"},
       {"batch", 16},
       {"lr", 0.01},
       {"log_every", 10}});
  h.start();
  std::mt19937 rng(4);
  std::normal_distribution<float> noise(0.0f, 1.0f);
  for (int i = 0; i < 600; ++i) {
    // 8 values on a 2-D plane: a 3-wide code can hold them.
    const float u = noise(rng), v = noise(rng);
    auto p = make_packet(PayloadKind::features);
    p->tensors.push_back(Tensor::from_vector(std::vector<float>{u, v, u + v, u - v, 0.5f * u, -v, u, 2.0f * v}));
    h.push("in", p);
  }
  end(h);
  const auto losses = named(h, "train/loss");
  REQUIRE(losses.size() > 10);
  CHECK(losses.back().value < 0.2 * losses.front().value);
  CHECK(named(h, "train/accuracy").empty());
}

TEST_CASE("trainer: a torchscript model's missing file, other file or failing forward is said with the path or shape") {
  if (!python_has_torch()) {
    WARN("skipped: " << kPython << " has no torch (scripts/setup.sh installs python3-torch)");
    return;
  }
  ScratchDir dir;
  make_modules(dir.path());
  auto started = [&](const std::string& path, std::vector<TableEntry> more = {}) {
    more.push_back({"model", model({{"kind", "torchscript"}, {"path", path}})});
    return NodeHarness::of<Trainer>(more);
  };
  {
    auto h = started((dir.path() / "nowhere.pt").string());
    CHECK_THAT(error_of([&] { h.start(); }), Catch::Contains("no file " + (dir.path() / "nowhere.pt").string()) &&
                                                 Catch::Contains("torch.jit.script"));
  }
  {
    const fs::path junk = dir.path() / "junk.pt";
    std::ofstream(junk) << "not a module";
    auto h = started(junk.string());
    CHECK_THAT(error_of([&] { h.start(); }), Catch::Contains(junk.string() + " is not a TorchScript file"));
  }
  {
    auto h = started((dir.path() / "classifier.pt").string());
    h.start();
    auto p = example({1, 2, 3, 4, 5}, 0, Split::train);  // 5 values; the module takes 4
    CHECK_THAT(error_of([&] { h.push("in", p); }),
               Catch::Contains("fails on the first example, a batch of shape [1, 5]"));
  }
  {
    auto h = started((dir.path() / "classifier.pt").string(), {{"classes", 4}});
    h.start();
    auto p = example({1, 2, 3, 4}, 0, Split::train);
    CHECK_THAT(error_of([&] { h.push("in", p); }), Catch::Contains("gives [1, 3]") && Catch::Contains("[1, 4]"));
  }
  CHECK_THROWS_AS(NodeHarness::of<Trainer>({{"model", model({{"kind", "torchscript"}})}}), ParamError);
  CHECK_THROWS_AS(
      NodeHarness::of<Trainer>({{"model", model({{"kind", "torchscript"}, {"path", "m.pt"}, {"loss", "l1"}})}}),
      ParamError);
}

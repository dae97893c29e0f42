// The trainer node alone, without a runtime, against the hand-written LibTorch loop of
// bench/trainer_loop.cpp (bench/trainer_throughput.sh runs both): the same data (scikit-learn's
// digits, standardized), model (an MLP 64 -> 64 -> 10), optimizer (Adam), batch, thread count and
// shuffling, each row a packet pushed into the node (one NodeHarness, the packets made before the
// clock starts), each epoch closed by its marker. What it costs above the loop is the node's own
// overhead per packet and per step; what the pipeline costs above it is the graph's.
//
//   bench_trainer_node [--data FILE] [--epochs 100] [--batch 32] [--threads 1] [--lr 0.002]
#include <torch/utils.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "digits_data.hpp"
#include "trainer/trainer.hpp"
#include "tributary/testing.hpp"

using bench::read_digits;

int main(int argc, char** argv) {
  using namespace tributary;
  std::string data = "/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz";
  int epochs = 100;
  std::int64_t batch = 32;
  int threads = 1;
  double lr = 0.002;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--data") data = argv[i + 1];
    if (flag == "--epochs") epochs = std::atoi(argv[i + 1]);
    if (flag == "--batch") batch = std::atoll(argv[i + 1]);
    if (flag == "--threads") threads = std::atoi(argv[i + 1]);
    if (flag == "--lr") lr = std::atof(argv[i + 1]);
  }
  std::vector<float> xs;
  std::vector<std::int64_t> ys;
  read_digits(data, xs, ys);
  const auto n = static_cast<std::int64_t>(ys.size());
  torch::Tensor x = torch::from_blob(xs.data(), {n, 64}, torch::kFloat32).clone();
  x = ((x - x.mean(0)) / (x.std(0, /*unbiased=*/false) + 1e-4)).contiguous();
  std::vector<PacketPtr> rows;
  for (std::int64_t r = 0; r < n; ++r) {
    auto p = make_packet(PayloadKind::example);
    p->stream = "rows";
    p->tensors.push_back(Tensor::from_vector(std::vector<float>(x[r].data_ptr<float>(), x[r].data_ptr<float>() + 64)));
    p->label = ys[static_cast<std::size_t>(r)];
    p->split = Split::train;
    p->set_attribute("epochs", std::int64_t{epochs});
    rows.push_back(std::move(p));
  }
  auto node =
      NodeHarness::of<models::Trainer>({{"classes", 10},
                                        {"model", Value::table({{"kind", "mlp"}, {"hidden", std::vector<Value>{64}}})},
                                        {"optimizer", "adam"},
                                        {"lr", lr},
                                        {"batch", batch},
                                        {"threads", threads},
                                        {"seed", 1},
                                        {"log_every", 1000},
                                        {"checkpoint_best", false},
                                        {"checkpoint_end", false}});
  node.start();
  torch::manual_seed(1);
  std::vector<torch::Tensor> orders;
  for (int e = 0; e < epochs; ++e) orders.push_back(torch::randperm(n, torch::kInt64));
  const auto start = std::chrono::steady_clock::now();
  for (int e = 0; e < epochs; ++e) {
    const std::int64_t* order = orders[static_cast<std::size_t>(e)].data_ptr<std::int64_t>();
    for (std::int64_t i = 0; i < n; ++i) node.push("in", rows[static_cast<std::size_t>(order[i])]);
    node.push("in", Marker{MarkerKind::epoch_end, e, Split::none, "rows"});
  }
  node.push("in", Marker{MarkerKind::end_of_stream, -1, Split::none, "rows"});
  node.flush();
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double samples = static_cast<double>(n) * epochs;
  std::printf("trainer node: %.0f samples in %.3f s: %.0f samples/s\n", samples, seconds, samples / seconds);
  return 0;
}

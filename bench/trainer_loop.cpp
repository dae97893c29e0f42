// The hand-written LibTorch loop that the trainer node is measured against (bench/trainer_throughput.sh):
// the same data (scikit-learn's digits, standardized), model (an MLP 64 -> 64 -> 10, ReLU), optimizer
// (Adam), batch and thread count, and the same work per step as the trainer does (loss and accuracy
// read back, the gradient norm), with the data in one tensor and batches gathered from a shuffled
// index: no packets, no pipeline.
//
//   bench_trainer_loop [--data FILE] [--epochs 100] [--batch 32] [--threads 1] [--lr 0.002]
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/utils/clip_grad.h>
#include <torch/optim/adam.h>
#include <torch/utils.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "digits_data.hpp"

using bench::read_digits;

int main(int argc, char** argv) {
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
  torch::set_num_threads(threads);
  torch::manual_seed(1);

  std::vector<float> xs;
  std::vector<std::int64_t> ys;
  read_digits(data, xs, ys);
  const auto n = static_cast<std::int64_t>(ys.size());
  torch::Tensor x = torch::from_blob(xs.data(), {n, 64}, torch::kFloat32).clone();
  torch::Tensor y = torch::from_blob(ys.data(), {n}, torch::kInt64).clone();
  x = (x - x.mean(0)) / (x.std(0, /*unbiased=*/false) + 1e-4);

  namespace nn = torch::nn;
  nn::Sequential net(nn::Flatten(), nn::Linear(64, 64), nn::ReLU(), nn::Linear(64, 10));
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(lr));

  std::int64_t samples = 0;
  double loss_sum = 0.0;
  std::int64_t correct = 0;
  const auto start = std::chrono::steady_clock::now();
  for (int e = 0; e < epochs; ++e) {
    torch::Tensor order = torch::randperm(n, torch::kInt64);
    for (std::int64_t begin = 0; begin < n; begin += batch) {
      const std::int64_t count = std::min(batch, n - begin);
      torch::Tensor index = order.narrow(0, begin, count);
      torch::Tensor bx = x.index_select(0, index);
      torch::Tensor by = y.index_select(0, index);
      net->train();
      opt.zero_grad();
      torch::Tensor logits = net->forward(bx);
      torch::Tensor loss = torch::nn::functional::cross_entropy(logits, by);
      loss.backward();
      torch::nn::utils::clip_grad_norm_(net->parameters(), std::numeric_limits<double>::infinity());
      opt.step();
      loss_sum += loss.item<double>() * static_cast<double>(count);
      correct += logits.argmax(1).eq(by).sum().item<std::int64_t>();
      samples += count;
    }
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("libtorch loop: %lld samples in %.3f s: %.0f samples/s (train accuracy %.3f, loss %.4f)\n",
              static_cast<long long>(samples), seconds, static_cast<double>(samples) / seconds,
              static_cast<double>(correct) / static_cast<double>(samples), loss_sum / static_cast<double>(samples));
  return 0;
}

"""The Python PyTorch loop the trainer node is measured against (bench/trainer_throughput.sh).

The same data (scikit-learn's digits, standardized), model (an MLP 64 -> 64 -> 10, ReLU), optimizer
(Adam), batch and thread count, written the way a PyTorch user writes it: a TensorDataset and a
DataLoader with shuffle, zero_grad / forward / backward / step, the loss read back every step.

    /usr/bin/python3 bench/trainer_python.py [--epochs 100] [--batch 32] [--threads 1] [--lr 0.002]
"""
import argparse
import gzip
import time

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data", default="/usr/lib/python3/dist-packages/sklearn/datasets/data/digits.csv.gz")
    parser.add_argument("--epochs", type=int, default=100)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--lr", type=float, default=0.002)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(1)

    with gzip.open(args.data, "rt") as f:
        rows = np.loadtxt(f, delimiter=",")
    x = torch.tensor(rows[:, :-1], dtype=torch.float32)
    y = torch.tensor(rows[:, -1], dtype=torch.int64)
    x = (x - x.mean(0)) / (x.std(0, unbiased=False) + 1e-4)

    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 64), torch.nn.ReLU(), torch.nn.Linear(64, 10))
    opt = torch.optim.Adam(net.parameters(), lr=args.lr)
    loader = DataLoader(TensorDataset(x, y), batch_size=args.batch, shuffle=True)

    samples = 0
    loss_sum = 0.0
    start = time.perf_counter()
    for _ in range(args.epochs):
        net.train()
        for bx, by in loader:
            opt.zero_grad()
            loss = torch.nn.functional.cross_entropy(net(bx), by)
            loss.backward()
            opt.step()
            loss_sum += loss.item() * len(by)
            samples += len(by)
    seconds = time.perf_counter() - start
    print(f"python loop: {samples} samples in {seconds:.3f} s: {samples / seconds:.0f} samples/s "
          f"(loss {loss_sum / samples:.4f})")


if __name__ == "__main__":
    main()

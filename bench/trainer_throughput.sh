#!/usr/bin/env bash
# Training samples per second of the `trainer` node inside a pipeline against a hand-written
# LibTorch loop and a Python PyTorch loop (Debian's python3-torch), in one run, interleaved:
# the same data (scikit-learn's digits, every row a train example, standardized), model (MLP
# 64 -> 64 -> 10), optimizer (Adam), batch and intra-op thread count.
#
#   tributary run bench/trainer_digits.toml    table -> standardize -> trainer (its own thread)
#   bench_trainer_loop                          one tensor, shuffled index, the same work per step
#   bench_trainer_node                          the trainer node alone in a NodeHarness (no runtime),
#                                               each row a packet made before the clock starts
#   /usr/bin/python3 bench/trainer_python.py    TensorDataset + DataLoader(shuffle=True)
#
# Timed: the pipeline from its first example to the end of its stream, as the trainer logs it
# (reading the file and loading LibTorch are outside, as are the loops' data loading); the loops
# from their first step to their last. Also: time from `tributary run` to the first step, and the
# peak memory (max RSS) of each process.
#
#   bench/trainer_throughput.sh [BUILD_DIR]     default: build beside this folder
#   EPOCHS=100 BATCH=32 THREADS=1 REPEAT=3 bench/trainer_throughput.sh build-bench
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-$here/../build}
epochs=${EPOCHS:-100}
batch=${BATCH:-32}
threads=${THREADS:-1}
repeat=${REPEAT:-3}
tributary=$build/bin/tributary
loop=$build/bin/bench_trainer_loop
node=$build/bin/bench_trainer_node  # optional: the trainer node alone, no runtime
python=/usr/bin/python3

for f in "$tributary" "$loop"; do
  if [[ ! -x $f ]]; then
    echo "trainer_throughput.sh: $f is missing: build the targets tributary tributary_sources tributary_features" \
      "tributary_models tributary_sinks bench_trainer_loop" >&2
    exit 2
  fi
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

blas=$(readlink -f /usr/lib/x86_64-linux-gnu/libblas.so.3 || true)
echo "epochs $epochs, batch $batch, threads $threads, BLAS $blas"
rss() { sed -n 's/^\s*Maximum resident set size (kbytes): //p' "$1"; }

for ((r = 1; r <= repeat; r++)); do
  t0=$(date +%s.%N)
  /usr/bin/time -v "$tributary" run "$here/trainer_digits.toml" --run-dir "$work/run$r" \
    --set rows.epochs="$epochs" --set train.batch="$batch" --set train.threads="$threads" \
    >"$work/out$r" 2>"$work/err$r"
  line=$(grep -o 'trained .* samples/s' "$work/err$r")
  pipeline=$(sed -E 's/.*: ([0-9.e+]+) samples\/s/\1/' <<<"$line")
  # From exec to the first step: the trainer logs its model when its first example arrives, and
  # the step follows at the 32nd.
  first=$(grep 'info  \[train\] model ' "$work/err$r" | grep -o '^[0-9-]* [0-9:.]*' | head -1)
  to_first=$(awk -v a="$t0" -v b="$(date -d "$first" +%s.%N)" 'BEGIN { printf "%.3f", b - a }')
  printf 'tributary: %8.0f samples/s   max RSS %6d kB   exec to first example %s s   (%s)\n' "$pipeline" \
    "$(rss "$work/err$r")" "$to_first" "$line"

  /usr/bin/time -v "$loop" --epochs "$epochs" --batch "$batch" --threads "$threads" >"$work/loop$r" 2>"$work/looptime$r"
  printf '%s   max RSS %6d kB\n' "$(cat "$work/loop$r")" "$(rss "$work/looptime$r")"

  if [[ -x $node ]]; then
    /usr/bin/time -v "$node" --epochs "$epochs" --batch "$batch" --threads "$threads" >"$work/node$r" 2>"$work/nodetime$r"
    printf '%s   max RSS %6d kB\n' "$(cat "$work/node$r")" "$(rss "$work/nodetime$r")"
  fi

  /usr/bin/time -v "$python" "$here/trainer_python.py" --epochs "$epochs" --batch "$batch" --threads "$threads" \
    >"$work/py$r" 2>"$work/pytime$r"
  printf '%s   max RSS %6d kB\n' "$(cat "$work/py$r")" "$(rss "$work/pytime$r")"
done

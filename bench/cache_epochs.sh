#!/usr/bin/env bash
# What the `cache` node saves from the second epoch on: the keyword data set decoded and turned
# into MFCC for EPOCHS epochs, with and without a cache, in the same run:
#
#   without:  audio_dataset epochs=EPOCHS -> mfcc -> end           (every epoch decodes every file)
#   with:     audio_dataset epochs=1 -> cache epochs=EPOCHS -> mfcc -> end   (decoded once)
#
# Each is also run for one epoch; (time of EPOCHS) - (time of 1), divided by EPOCHS - 1, is the
# cost of one later epoch. Timed: `tributary run`'s own "finished in" (the run alone), median of
# REPEAT interleaved runs. The data set is made by scripts/make-kws-dataset.sh (PER_CLASS per
# class, 10 classes, 1 s clips at 16 kHz).
#
#   bench/cache_epochs.sh [TRIBUTARY_BINARY]     default: build/bin/tributary beside this folder
#   PER_CLASS=50 EPOCHS=4 REPEAT=3 bench/cache_epochs.sh build-bench/bin/tributary
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tributary=${1:-${TRIBUTARY:-$here/../build/bin/tributary}}
per_class=${PER_CLASS:-50}
epochs=${EPOCHS:-4}
repeat=${REPEAT:-3}
[[ -x $tributary ]] || { echo "cache_epochs.sh: no tributary binary at '$tributary'" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/../scripts/make-kws-dataset.sh" "$work/kws" --per-class "$per_class" >/dev/null

pipeline() {  # pipeline NAME CACHE(0|1): writes $work/NAME.toml
  local links='"clips -> mfcc", "mfcc -> end"'
  [[ $2 == 1 ]] && links='"clips -> cache", "cache -> mfcc", "mfcc -> end"'
  cat >"$work/$1.toml" <<EOF
[pipeline]
name  = "$1"
links = [ $links ]
[nodes.clips]
plugin = "audio_dataset"
path   = "$work/kws"
[nodes.mfcc]
plugin     = "mfcc"
n_fft      = 480
hop_length = 160
n_mels     = 40
n_mfcc     = 20
[nodes.end]
plugin = "identity"
EOF
  if [[ $2 == 1 ]]; then
    printf '[nodes.cache]\nplugin = "cache"\n' >>"$work/$1.toml"
  fi
}
pipeline plain 0
pipeline cached 1

run() {  # run NAME SOURCE_EPOCHS [CACHE_EPOCHS]: prints the run's seconds
  local sets=(--set "clips.epochs=$2")
  [[ $# -ge 3 ]] && sets+=(--set "cache.epochs=$3")
  "$tributary" run "$work/$1.toml" --run-dir "$work/run" "${sets[@]}" >"$work/out" 2>&1 || {
    echo "cache_epochs.sh: $1 failed" >&2
    cat "$work/out" >&2
    exit 1
  }
  rm -rf "$work/run"
  sed -n 's/^finished in \([0-9.e+-]*\) s$/\1/p' "$work/out"
}

median() { tr ' ' '\n' <<<"$1" | sed '/^$/d' | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }

declare -A t
for ((r = 0; r < repeat; r++)); do
  t[plain1]+="$(run plain 1) "
  t[plainN]+="$(run plain "$epochs") "
  t[cached1]+="$(run cached 1 1) "
  t[cachedN]+="$(run cached 1 "$epochs") "
done
p1=$(median "${t[plain1]}") pn=$(median "${t[plainN]}") c1=$(median "${t[cached1]}") cn=$(median "${t[cachedN]}")
clips=$((per_class * 10))
awk -v p1="$p1" -v pn="$pn" -v c1="$c1" -v cn="$cn" -v e="$epochs" -v n="$clips" 'BEGIN {
  pl = (pn - p1) / (e - 1); cl = (cn - c1) / (e - 1)
  printf "%d clips, %d epochs, median of the runs (s)\n", n, e
  printf "%-10s %10s %12s %16s\n", "", "1 epoch", e " epochs", "a later epoch"
  printf "%-10s %10.3f %12.3f %16.3f\n", "no cache", p1, pn, pl
  printf "%-10s %10.3f %12.3f %16.3f\n", "cache", c1, cn, cl
  printf "a later epoch with the cache: %.1fx faster\n", pl / (cl > 0 ? cl : 1e-9)
}'

#!/usr/bin/env bash
# A pipeline's throughput with the run store on against off: the same `tributary run`, alternating
# --no-store and the store (a fresh database per run), REPEAT times each; the run's own
# "finished in" time is compared (the median of each side).
#
#   bench/run_store.sh [TRIBUTARY_BINARY]      default: build/bin/tributary beside this folder
#   REPEAT=7 EPOCHS=300 bench/run_store.sh build-bench/bin/tributary
#
# Two pipelines: digits (training: the trainer's metric points, a point every few ms) and the
# identity chain of gst_chain.sh with telemetry every millisecond (about 70,000 points a second
# into the store while 100,000 packets cross 12 nodes).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tributary=${1:-${TRIBUTARY:-$here/../build/bin/tributary}}
repeat=${REPEAT:-5}
epochs=${EPOCHS:-200}
packets=${PACKETS:-100000}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sed 's/^name  = "identity-chain"/name  = "identity-chain"\ntelemetry_interval_s = 0.001/' \
  "$here/identity_chain.toml" >"$work/chain.toml"

run_time() {  # prints the run's own seconds
  "$tributary" "$@" 2>/dev/null | sed -n 's/^finished in \([0-9.e-]*\) s$/\1/p'
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

bench() {
  local label=$1
  shift
  local off=() on=() points=0
  for ((i = 0; i < repeat; i++)); do
    rm -rf "$work/run"
    off+=("$(run_time "$@" --run-dir "$work/run" --no-store)")
    rm -rf "$work/run" "$work/store.db"*
    on+=("$(run_time "$@" --run-dir "$work/run" --store "$work/store.db")")
    points=$(sqlite3 "$work/store.db" "select points from runs")
  done
  local m_off m_on
  m_off=$(printf '%s\n' "${off[@]}" | median)
  m_on=$(printf '%s\n' "${on[@]}" | median)
  printf '%-40s off %8.3f s   on %8.3f s   cost %+6.1f%%   (%s points recorded a run)\n' "$label" "$m_off" "$m_on" \
    "$(awk -v a="$m_off" -v b="$m_on" 'BEGIN {print (b - a) / a * 100}')" "$points"
  echo "  off: ${off[*]}"
  echo "  on:  ${on[*]}"
}

echo "$("$tributary" --version); REPEAT=$repeat"
bench "digits, $epochs epochs" run "$here/../pipelines/digits_linear.toml" --set "rows.epochs=$epochs"
bench "identity chain, $packets packets" run "$work/chain.toml" --set "src.count=$packets"

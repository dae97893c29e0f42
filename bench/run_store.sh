#!/usr/bin/env bash
# A pipeline's throughput with the run store on against off: the same `tributary run`, alternating
# --no-store and the store (a fresh database per run), REPEAT times each. Compared, the median of
# each side: the run's own "finished in" time, and the CPU time (user + system) of the whole
# process, which a machine shared with other work shows with less noise than the wall clock.
#
#   bench/run_store.sh [TRIBUTARY_BINARY]      default: build/bin/tributary beside this folder
#   REPEAT=7 EPOCHS=300 bench/run_store.sh build-bench/bin/tributary
#   ONLY=digits bench/run_store.sh             only the benches whose label holds ONLY
#
# Three pipelines: digits (training: the trainer's metric points, about 20,000 a second), digits
# with the trainer's step metrics at every step instead of every 10th (train.log_every = 1: about
# 2.5 times the points), and the identity chain of gst_chain.sh with telemetry every millisecond
# (100,000 packets across 12 nodes: little telemetry in its 0.2 s).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tributary=${1:-${TRIBUTARY:-$here/../build/bin/tributary}}
repeat=${REPEAT:-5}
epochs=${EPOCHS:-200}
packets=${PACKETS:-100000}
only=${ONLY:-}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

sed 's/^name  = "identity-chain"/name  = "identity-chain"\ntelemetry_interval_s = 0.001/' \
  "$here/identity_chain.toml" >"$work/chain.toml"

run_once() {  # prints the run's own seconds and the process's CPU seconds
  local cpu
  cpu=$( { TIMEFORMAT='%U %S'; time "$tributary" "$@" >"$work/out" 2>/dev/null; } 2>&1)
  printf '%s %s\n' "$(sed -n 's/^finished in \([0-9.e-]*\) s$/\1/p' "$work/out")" \
    "$(awk '{print $1 + $2}' <<<"$cpu")"
}

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
cost() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%+.1f%%", (b - a) / a * 100}'; }

bench() {
  local label=$1
  shift
  if [[ -n $only && $label != *"$only"* ]]; then return; fi
  local off=() on=() off_cpu=() on_cpu=() points=0 t
  for ((i = 0; i < repeat; i++)); do
    rm -rf "$work/run"
    read -r -a t <<<"$(run_once "$@" --run-dir "$work/run" --no-store)"
    off+=("${t[0]}") off_cpu+=("${t[1]}")
    rm -rf "$work/run" "$work/store.db"*
    read -r -a t <<<"$(run_once "$@" --run-dir "$work/run" --store "$work/store.db")"
    on+=("${t[0]}") on_cpu+=("${t[1]}")
    points=$(sqlite3 "$work/store.db" "select points from runs")
  done
  local m_off m_on c_off c_on
  m_off=$(printf '%s\n' "${off[@]}" | median)
  m_on=$(printf '%s\n' "${on[@]}" | median)
  c_off=$(printf '%s\n' "${off_cpu[@]}" | median)
  c_on=$(printf '%s\n' "${on_cpu[@]}" | median)
  printf '%-36s run: off %7.3f s  on %7.3f s  cost %s   CPU: off %7.3f s  on %7.3f s  cost %s   (%s points a run)\n' \
    "$label" "$m_off" "$m_on" "$(cost "$m_off" "$m_on")" "$c_off" "$c_on" "$(cost "$c_off" "$c_on")" "$points"
  echo "  run off: ${off[*]}"
  echo "  run on:  ${on[*]}"
  echo "  CPU off: ${off_cpu[*]}"
  echo "  CPU on:  ${on_cpu[*]}"
}

echo "$("$tributary" --version); REPEAT=$repeat"
digits=("$here/../pipelines/digits_linear.toml" --set "rows.epochs=$epochs")
bench "digits, $epochs epochs" run "${digits[@]}"
bench "digits, $epochs epochs, log_every 1" run "${digits[@]}" --set train.log_every=1
bench "identity chain, $packets packets" run "$work/chain.toml" --set "src.count=$packets"

#!/usr/bin/env bash
# The plot_server dashboard's cost to a training run and its latency to a viewer.
#
#   bench/dashboard.sh [TRIBUTARY_BINARY [VIEWERS_BINARY]]   defaults: build/bin/tributary, build/bin/bench_dash_viewers
#   REPEAT=5 EPOCHS=200 LOG_EVERY=1 VIEWERS=50 bench/dashboard.sh build-dash/bin/tributary build-dash/bin/bench_dash_viewers
#
# pipelines/digits_mlp.toml (table -> standardize -> trainer, metrics into a CSV file and the
# dashboard) with the trainer's metrics every LOG_EVERY steps, run four ways, interleaved REPEAT
# times: without the dashboard (its node and link removed), with it and no viewer, with 1 viewer
# and with VIEWERS viewers (bench_dash_viewers, connected as soon as the URL is logged). The run's
# own "finished in" time is compared (median of each); the viewers print the latency of every
# point they got (arrival wall time minus the point's `time`, the wall clock at emission).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tributary=${1:-${TRIBUTARY:-$here/../build/bin/tributary}}
viewers_bin=${2:-$(dirname "$tributary")/bench_dash_viewers}
repeat=${REPEAT:-5}
epochs=${EPOCHS:-200}
log_every=${LOG_EVERY:-1}
many=${VIEWERS:-50}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

pipeline=$here/../pipelines/digits_mlp.toml
# The same pipeline without the dashboard: its link and its table removed.
sed -e 's/,\? *"train.metrics -> dash.metrics"//' -e '/^\[nodes.dash\]/,$d' -e '/^# The live dashboard/d' \
  "$pipeline" >"$work/no_dash.toml"
if grep -q dash "$work/no_dash.toml"; then
  echo "could not remove the dashboard from $pipeline" >&2
  exit 1
fi

median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

# run FILE VIEWERS LABEL: one run; prints its seconds; the viewers' report goes to $work/LABEL.viewers
run() {
  local file=$1 n=$2 label=$3
  rm -rf "$work/run"
  "$tributary" run "$file" --run-dir "$work/run" --no-store --set dash.port=0 --set "train.log_every=$log_every" \
    --set "rows.epochs=$epochs" >"$work/out" 2>"$work/err" &
  local pid=$! port=""
  if ((n > 0)); then
    for ((t = 0; t < 200; t++)); do
      port=$(sed -n 's|.*dashboard at http://127.0.0.1:\([0-9]*\)/.*|\1|p' "$work/err" | head -1)
      [[ -n $port ]] && break
      sleep 0.02
    done
    [[ -n $port ]] || { echo "$label: no dashboard URL logged" >&2; cat "$work/err" >&2; exit 1; }
    "$viewers_bin" --port "$port" --viewers "$n" >>"$work/$label.viewers" 2>>"$work/$label.viewers.err"
  fi
  wait "$pid"
  sed -n 's/^finished in \([0-9.e-]*\) s$/\1/p' "$work/out"
}

# The file without the dashboard takes no dash.port: --set on a missing node is an error.
run_plain() {
  rm -rf "$work/run"
  "$tributary" run "$work/no_dash.toml" --run-dir "$work/run" --no-store --set "train.log_every=$log_every" \
    --set "rows.epochs=$epochs" 2>/dev/null | sed -n 's/^finished in \([0-9.e-]*\) s$/\1/p'
}

echo "$("$tributary" --version); digits_mlp, $epochs epochs, metrics every $log_every steps; REPEAT=$repeat"
run_plain >/dev/null  # warm-up: page cache, LibTorch's libraries
declare -a t_off t_0 t_1 t_n
for ((i = 0; i < repeat; i++)); do
  t_off+=("$(run_plain)")
  t_0+=("$(run "$pipeline" 0 zero)")
  t_1+=("$(run "$pipeline" 1 one)")
  t_n+=("$(run "$pipeline" "$many" many)")
done
points=$(($(wc -l <"$work/run/metrics.csv") - 1))
m_off=$(printf '%s\n' "${t_off[@]}" | median)
row() {
  local label=$1
  shift
  local m
  m=$(printf '%s\n' "$@" | median)
  printf '%-34s median %7.3f s  cost %+6.1f%%   runs: %s\n' "$label" "$m" \
    "$(awk -v a="$m_off" -v b="$m" 'BEGIN {print (b - a) / a * 100}')" "$*"
}
echo "metric points a run (the CSV sink's rows): $points"
echo
row "without the dashboard" "${t_off[@]}"
row "dashboard, 0 viewers" "${t_0[@]}"
row "dashboard, 1 viewer" "${t_1[@]}"
row "dashboard, $many viewers" "${t_n[@]}"
echo
echo "latency node -> viewer, each run (1 viewer):"
sed 's/^/  /' "$work/one.viewers"
echo "latency node -> viewer, each run ($many viewers):"
sed 's/^/  /' "$work/many.viewers"

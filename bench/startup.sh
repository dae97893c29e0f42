#!/usr/bin/env bash
# How long `tributary` takes to start a run and to check a pipeline, with plugin libraries loaded
# when a pipeline needs one of their types (the plugin index) against every library loaded at
# once (TRIBUTARY_PLUGIN_INDEX=off), and against gst-launch-1.0 starting a pipeline of the same
# size. Wall time of the whole process, the median of REPEAT runs of each, interleaved.
#
#   bench/startup.sh [TRIBUTARY_BINARY]      default: build/bin/tributary beside this folder
#   REPEAT=11 bench/startup.sh build/bin/tributary
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tributary=${1:-${TRIBUTARY:-$here/../build/bin/tributary}}
repeat=${REPEAT:-7}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

cat >"$work/tone.toml" <<'TOML'
[pipeline]
name  = "tone"
links = ["tone -> out"]
[nodes.tone]
plugin = "synthetic"
count  = 10
[nodes.out]
plugin = "csv"
path   = "${RUN_DIR}/tone.csv"
TOML

seconds() {  # the wall time of one command, in seconds
  local start end
  start=$(date +%s.%N)
  "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
median() { sort -g | awk '{a[NR]=$1} END {printf "%.4f", a[int((NR+1)/2)]}'; }

indexed_run=() eager_run=() indexed_check=() eager_check=() gst=()
# The first run writes the index; it is not counted.
TRIBUTARY_PLUGIN_INDEX="$work/index.tsv" "$tributary" validate "$work/tone.toml" >/dev/null
for ((i = 0; i < repeat; i++)); do
  rm -rf "$work/runs"
  indexed_run+=("$(seconds env TRIBUTARY_PLUGIN_INDEX="$work/index.tsv" "$tributary" run "$work/tone.toml" --no-store --progress off --run-dir "$work/runs/i$i")")
  eager_run+=("$(seconds env TRIBUTARY_PLUGIN_INDEX=off "$tributary" run "$work/tone.toml" --no-store --progress off --run-dir "$work/runs/e$i")")
  indexed_check+=("$(seconds env TRIBUTARY_PLUGIN_INDEX="$work/index.tsv" "$tributary" validate "$work/tone.toml")")
  eager_check+=("$(seconds env TRIBUTARY_PLUGIN_INDEX=off "$tributary" validate "$work/tone.toml")")
  gst+=("$(seconds gst-launch-1.0 -q audiotestsrc num-buffers=10 ! fakesink)")
done
ir=$(printf '%s\n' "${indexed_run[@]}" | median)
er=$(printf '%s\n' "${eager_run[@]}" | median)
ic=$(printf '%s\n' "${indexed_check[@]}" | median)
ec=$(printf '%s\n' "${eager_check[@]}" | median)
g=$(printf '%s\n' "${gst[@]}" | median)
echo "startup: $repeat interleaved runs each, median wall time of the whole process (s)"
printf '%-58s %8s\n' "tributary run (synthetic -> csv), plugin index" "$ir"
printf '%-58s %8s\n' "tributary run, every plugin library loaded at once" "$er"
printf '%-58s %8s\n' "tributary validate, plugin index" "$ic"
printf '%-58s %8s\n' "tributary validate, every plugin library loaded at once" "$ec"
printf '%-58s %8s\n' "gst-launch-1.0 -q audiotestsrc num-buffers=10 ! fakesink" "$g"
echo "ratio run, every library / index: $(echo "$er / $ir" | bc -l | xargs printf '%.1f')"
echo "ratio run, index / gst-launch: $(echo "$ir / $g" | bc -l | xargs printf '%.2f')"

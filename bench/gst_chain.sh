#!/usr/bin/env bash
# Packets per second of `tributary run` against gst-launch-1.0 on the same chain:
#
#   tributary run bench/identity_chain.toml    synthetic -> 10 x identity -> end (discards)
#   gst-launch-1.0 fakesrc num-buffers=N sizetype=fixed sizemax=6400 ! identity x 10 ! fakesink
#
# Both move N packets of the same payload size (CHUNK f32 samples = CHUNK*4 bytes). Timed: the
# wall time of the whole process, from exec to exit (start-up, plugin loading, building the
# pipeline, the run, shutdown), nothing excluded; runs are interleaved. A "source only" pair
# (synthetic -> end, fakesrc ! fakesink) shows what the chain of identities adds. Tributary's own
# "finished in" time (the run alone) is reported beside it.
#
#   bench/gst_chain.sh [TRIBUTARY_BINARY]     default: build/bin/tributary beside this folder
#   PACKETS=100000 REPEAT=5 CHUNK=1600 SIGNAL=silence bench/gst_chain.sh build-bench/bin/tributary
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tributary=${1:-${TRIBUTARY:-$here/../build/bin/tributary}}
packets=${PACKETS:-100000}
repeat=${REPEAT:-5}
chunk=${CHUNK:-1600}
export SIGNAL=${SIGNAL:-silence}
bytes=$((chunk * 4))
chain=10

if [[ ! -x $tributary ]]; then
  echo "gst_chain.sh: no tributary binary at '$tributary': build it (cmake --build BUILD --target tributary" \
    "tributary_sources tributary_features) and pass its path" >&2
  exit 2
fi
if ! command -v gst-launch-1.0 >/dev/null; then
  echo "gst_chain.sh: gst-launch-1.0 not found: install gstreamer1.0-tools" >&2
  exit 2
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The source-only Tributary pipeline: the same source, straight into the discarding end.
cat >"$work/source_only.toml" <<'EOF'
[pipeline]
name  = "source-only"
links = [ "src -> end" ]
[nodes.src]
plugin = "synthetic"
signal = "${SIGNAL:-silence}"
[nodes.end]
plugin = "identity"
EOF

gst_line() {  # gst_line IDENTITIES: the gst-launch-1.0 arguments
  local args=(fakesrc "num-buffers=$packets" sizetype=fixed "sizemax=$bytes" filltype=zero)
  for ((i = 0; i < $1; i++)); do args+=('!' identity); done
  args+=('!' fakesink sync=false)
  echo "${args[@]}"
}

# Runs the command with its output in $out; prints "WALL CPU" seconds (CPU = user + sys).
timed() {
  local out=$1
  shift
  local TIMEFORMAT='%3R %3U %3S'
  local t
  # Called inside $(...), where exit leaves only the subshell: a marker file stops the script.
  t=$({ time "$@" >"$out" 2>&1; } 2>&1) || {
    echo "gst_chain.sh: failed: $*" >&2
    cat "$out" >&2
    touch "$work/failed"
    exit 1
  }
  awk '{ printf "%s %.3f\n", $1, $2 + $3 }' <<<"$t"
}

finished_in() { sed -n 's/^finished in \([0-9.e+-]*\) s$/\1/p' "$1"; }

declare -A times cpu
add() {  # add KEY "WALL [CPU]"
  local wall rest
  read -r wall rest <<<"$2"
  times[$1]+="$wall "
  cpu[$1]+="${rest:-0} "
}
best() { tr ' ' '\n' <<<"${times[$1]}" | grep . | sort -g | head -1; }
median_of() { tr ' ' '\n' <<<"$1" | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
median() { median_of "${times[$1]}"; }

read -r -a gst_chain_args <<<"$(gst_line $chain)"
read -r -a gst_source_args <<<"$(gst_line 0)"
trib_chain=("$tributary" run "$here/identity_chain.toml" --set "src.count=$packets" --set "src.chunk=$chunk"
  --log-level warn)
trib_source=("$tributary" run "$work/source_only.toml" --set "src.count=$packets" --set "src.chunk=$chunk"
  --log-level warn)

echo "gst_chain: $packets packets of $bytes bytes, source -> $chain x identity -> discard, $repeat repeats (interleaved)"
echo "tributary: $tributary ($(nproc) cores), source: synthetic signal=$SIGNAL chunk=$chunk"
echo "gst:       gst-launch-1.0 $(gst-launch-1.0 --version | sed -n 's/^GStreamer //p'): gst-launch-1.0 -q ${gst_chain_args[*]}"
echo "time: wall time of the whole process (exec to exit), nothing excluded"
echo

# Warm the page cache and the plugin registries (GStreamer's registry cache) once, untimed.
timed "$work/warm.txt" gst-launch-1.0 -q "${gst_chain_args[@]}" >/dev/null
timed "$work/warm.txt" "${trib_source[@]}" --set src.count=100 --run-dir "$work/warm" >/dev/null
[[ ! -e $work/failed ]] || exit 1

for ((r = 1; r <= repeat; r++)); do
  add gst "$(timed "$work/gst.txt" gst-launch-1.0 -q "${gst_chain_args[@]}")"
  add trib "$(timed "$work/trib.txt" "${trib_chain[@]}" --run-dir "$work/chain-$r")"
  add trib_in "$(finished_in "$work/trib.txt")"
  add gst_src "$(timed "$work/gst_src.txt" gst-launch-1.0 -q "${gst_source_args[@]}")"
  add trib_src "$(timed "$work/trib_src.txt" "${trib_source[@]}" --run-dir "$work/source-$r")"
  add trib_src_in "$(finished_in "$work/trib_src.txt")"
  [[ ! -e $work/failed ]] || exit 1
done

row() {  # row LABEL KEY [with CPU]
  local b m c=-
  b=$(best "$2")
  m=$(median "$2")
  [[ ${3:-} == cpu ]] && c=$(median_of "${cpu[$2]}")
  awk -v l="$1" -v b="$b" -v m="$m" -v c="$c" -v n="$packets" \
    'BEGIN { printf "%-50s %8.3f %8.3f %12.0f %12.0f %8s\n", l, b, m, n / b, n / m, c == "-" ? c : sprintf("%.3f", c) }'
}
printf "%-50s %8s %8s %12s %12s %8s\n" "" "best s" "median s" "best pkt/s" "median pkt/s" "cpu s"
row "tributary run identity_chain.toml" trib cpu
row "gst-launch-1.0 fakesrc ! identity x10 ! fakesink" gst cpu
row "tributary, source only (synthetic -> end)" trib_src cpu
row "gst-launch-1.0, source only (fakesrc ! fakesink)" gst_src cpu
row "tributary in-run ('finished in'), chain" trib_in
row "tributary in-run ('finished in'), source only" trib_src_in
echo "(cpu s: median user + sys seconds of the process, all its threads)"
echo
awk -v tc="$(median trib)" -v ts="$(median trib_src)" -v gc="$(median gst)" -v gs="$(median gst_src)" \
  -v n="$packets" -v k="$chain" 'BEGIN {
    printf "wall time the %d identities add, per packet per identity (median chain - median source only): tributary %.0f ns, gst-launch %.0f ns\n",
      k, (tc - ts) * 1e9 / n / k, (gc - gs) * 1e9 / n / k }'
echo
echo "per-node table of the last tributary chain run:"
grep -v '^run directory' "$work/trib.txt" | grep -v '^$' || true
echo
awk -v t="$(median trib)" -v g="$(median gst)" \
  'BEGIN { printf "ratio tributary/gst-launch (packets/s, whole process, median): %.2f\n", g / t }'
awk -v t="$(median trib_src)" -v g="$(median gst_src)" \
  'BEGIN { printf "ratio tributary/gst-launch (packets/s, source only, median): %.2f\n", g / t }'

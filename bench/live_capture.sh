#!/usr/bin/env bash
# A live capture of DURATION seconds (default 60) at 16 kHz from a real PulseAudio device, with a
# chain behind it, reporting what the runtime dropped, the gaps the device reported, and the
# time from capture to emission (capture/latency_ms, the mean of the last second, and
# capture/latency_max_ms).
#
#   microphone:  a PulseAudio server of the benchmark's own, with a null sink into which
#                gst-launch-1.0 plays a 440 Hz tone; the `audio` node captures the sink's monitor
#   chain:       mic (audio, 16 kHz, 10 ms chunks) -> identity -> identity -> csv (every chunk
#                written and handed to the system before the next is accepted)
#
#   bench/live_capture.sh [TRIBUTARY_BINARY]       DURATION=60 CHUNK_MS=10 bench/live_capture.sh
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tributary=${1:-${TRIBUTARY:-$here/../build/bin/tributary}}
duration=${DURATION:-60}
chunk_ms=${CHUNK_MS:-10}
[[ -x $tributary ]] || { echo "live_capture.sh: no tributary binary at '$tributary'" >&2; exit 2; }
for program in pulseaudio pactl gst-launch-1.0; do
  command -v "$program" >/dev/null || { echo "live_capture.sh: $program not found: run scripts/setup.sh" >&2; exit 2; }
done

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
mkdir -p "$work/home"
HOME=$work/home XDG_RUNTIME_DIR=$work pulseaudio -n --daemonize=no --exit-idle-time=-1 --use-pid-file=no \
  "--load=module-native-protocol-unix socket=$work/native auth-anonymous=1" \
  "--load=module-null-sink sink_name=bench rate=48000 channels=1" >"$work/pulse.log" 2>&1 &
pids+=($!)
export PULSE_SERVER=unix:$work/native
for _ in $(seq 100); do pactl list short sinks 2>/dev/null | grep -q bench && break; sleep 0.1; done
gst-launch-1.0 -q audiotestsrc is-live=true freq=440 ! audio/x-raw,rate=48000,channels=1 ! pulsesink device=bench \
  >"$work/tone.log" 2>&1 &
pids+=($!)
sleep 1

cat >"$work/live.toml" <<TOML
[pipeline]
name  = "bench-live"
links = [ "mic -> a", "a -> b", "b -> rows" ]
telemetry_interval_s = 1.0
[nodes.mic]
plugin   = "audio"
device   = "bench.monitor"
rate     = 16000
chunk_ms = $chunk_ms
[nodes.a]
plugin = "identity"
[nodes.b]
plugin = "identity"
[nodes.rows]
plugin = "csv"
path   = "\${RUN_DIR}/chunks.csv"
[nodes.telemetry]
plugin    = "jsonl"
path      = "\${RUN_DIR}/telemetry.jsonl"
telemetry = true
TOML

echo "live_capture: ${duration} s from a PulseAudio null sink's monitor at 16 kHz, ${chunk_ms} ms chunks"
echo "chain: mic (audio) -> identity -> identity -> csv; tributary: $tributary ($(nproc) cores)"
"$tributary" run "$work/live.toml" --run-dir "$work/run" --log-level warn >"$work/out.txt" 2>&1 &
run=$!
sleep "$duration"
if ! kill -INT "$run" 2>/dev/null; then
  echo "live_capture.sh: the run ended before it was stopped:" >&2
  cat "$work/out.txt" >&2
  exit 1
fi
wait "$run" || true
grep -v '^run directory' "$work/out.txt" | grep -v '^$'
rows=$(($(wc -l <"$work/run/chunks.csv") - 1))
expected=$((duration * 1000 / chunk_ms))
echo
echo "chunks written: $rows of about $expected in ${duration} s"
awk -F'"name":' 'NF > 1 { split($2, a, ","); name = a[1]; gsub(/"/, "", name)
    if (name == "telemetry/drops" || name ~ /^capture\//) { match($0, /"value":[0-9.e+-]+/); v = substr($0, RSTART + 8, RLENGTH - 8)
      node = $0; sub(/.*"node":"/, "", node); sub(/".*/, "", node); last[node " " name] = v } }
  END { n = 0; for (k in last) { print "last " k ": " last[k]; n++ } if (n == 0) print "no drops or gaps reported" }' \
  "$work/run/telemetry.jsonl" | sort

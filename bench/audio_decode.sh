#!/usr/bin/env bash
# Decode + resample throughput, in seconds of audio per second, of the audio sources against
# gst-launch-1.0 doing the same decode into fakesink, in the same run:
#
#   data set:  tributary run: audio_dataset -> identity, with its default decoders (2 threads)
#              and with decoders = 1 (one decoder thread beside the node's)
#              gst-launch-1.0: multifilesrc reads every file in turn as one byte stream into
#              wavparse ignore-length=true ! audioconvert ! audioresample ! caps ! fakesink: one
#              pipeline for all files, the decode's upper bound (a pipeline per file costs more)
#   long file: tributary run: audio path=FILE -> identity
#              gst-launch-1.0 filesrc ! decodebin ! audioconvert ! audioresample ! caps ! fakesink
#
# The data set is made by scripts/make-kws-dataset.sh (1 s clips at 16 kHz; PER_CLASS per class,
# 10 classes) and resampled to RATE (default 8000, so the resampler works); the long file is the
# first LONG_CLIPS clips (default 300) joined into one 44.1 kHz stereo FLAC, decoded to RATE mono.
# Timed: the wall time of the whole process, best and median of REPEAT interleaved runs. Both
# sides also run on a data set of one file, so the start-up (GStreamer's and the CLI's) is told
# apart from the time per file: (median time for all files - median time for one) / (files - 1).
#
#   bench/audio_decode.sh [TRIBUTARY_BINARY]     default: build/bin/tributary beside this folder
#   PER_CLASS=30 REPEAT=5 RATE=8000 bench/audio_decode.sh build-bench/bin/tributary
#   PER_CLASS=300 bench/audio_decode.sh          3000 files, where start-up weighs little
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
tributary=${1:-${TRIBUTARY:-$here/../build/bin/tributary}}
per_class=${PER_CLASS:-30}
repeat=${REPEAT:-5}
rate=${RATE:-8000}
long_clips=${LONG_CLIPS:-300}
[[ -x $tributary ]] || { echo "audio_decode.sh: no tributary binary at '$tributary'" >&2; exit 2; }
for program in gst-launch-1.0 sox espeak-ng; do
  command -v "$program" >/dev/null || { echo "audio_decode.sh: $program not found: run scripts/setup.sh" >&2; exit 2; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$here/../scripts/make-kws-dataset.sh" "$work/kws" --per-class "$per_class" --seed 1 >/dev/null
mapfile -t files < <(cd "$work/kws" && find . -name '*.wav' | sort | sed "s|^\./|$work/kws/|")
clips=${#files[@]}
sox "${files[@]:0:$long_clips}" -r 44100 -c 2 "$work/long.flac"
long_s=$(soxi -D "$work/long.flac")
caps="audio/x-raw,format=F32LE,layout=interleaved,rate=$rate,channels=1"

cat >"$work/dataset.toml" <<TOML
[pipeline]
name  = "bench-dataset"
links = [ "clips -> end" ]
[nodes.clips]
plugin = "audio_dataset"
path   = "$work/kws"
rate   = $rate
[nodes.end]
plugin = "identity"
TOML
sed "s|^rate   = $rate\$|rate   = $rate\ndecoders = 1|" "$work/dataset.toml" >"$work/dataset1.toml"
grep -q '^decoders = 1$' "$work/dataset1.toml" || { echo "audio_decode.sh: could not write decoders = 1" >&2; exit 1; }
mkdir -p "$work/one/class"
cp "${files[0]}" "$work/one/class/"
sed "s|path   = \"$work/kws\"|path   = \"$work/one\"|" "$work/dataset.toml" >"$work/one.toml"
cat >"$work/file.toml" <<TOML
[pipeline]
name  = "bench-file"
links = [ "clip -> end" ]
[nodes.clip]
plugin = "audio"
path   = "$work/long.flac"
rate   = $rate
chunk_ms = 100
[nodes.end]
plugin = "identity"
TOML

mkdir -p "$work/seq"
for i in "${!files[@]}"; do ln -s "${files[$i]}" "$work/seq/$(printf %05d "$i").wav"; done
gst_dataset=(multifilesrc "location=$work/seq/%05d.wav" index=0 "stop-index=$((clips - 1))" '!' wavparse ignore-length=true
  '!' audioconvert '!' audioresample '!' "$caps" '!' fakesink sync=false)
gst_one=(multifilesrc "location=$work/seq/%05d.wav" index=0 stop-index=0 '!' wavparse ignore-length=true
  '!' audioconvert '!' audioresample '!' "$caps" '!' fakesink sync=false)
gst_file=(filesrc "location=$work/long.flac" '!' decodebin '!' audioconvert '!' audioresample '!' "$caps" '!'
  fakesink sync=false)

timed() {  # timed OUT COMMAND...: prints the wall seconds; stops the script when the command fails
  local out=$1
  shift
  local start end
  start=$(date +%s.%N)
  if ! "$@" >"$out" 2>&1; then
    echo "audio_decode.sh: failed: $*" >&2
    tail -5 "$out" >&2
    exit 1
  fi
  end=$(date +%s.%N)
  awk -v a="$start" -v b="$end" 'BEGIN { printf "%.3f\n", b - a }'
}

declare -A times
for ((r = 0; r <= repeat; r++)); do  # run 0 warms the caches and is not counted
  t1=$(timed "$work/t1.txt" "$tributary" run "$work/dataset.toml" --run-dir "$work/run-d$r" --log-level warn)
  t2=$(timed "$work/t2.txt" gst-launch-1.0 -q "${gst_dataset[@]}")
  t3=$(timed "$work/t3.txt" "$tributary" run "$work/file.toml" --run-dir "$work/run-f$r" --log-level warn)
  t4=$(timed "$work/t4.txt" gst-launch-1.0 -q "${gst_file[@]}")
  t5=$(timed "$work/t5.txt" "$tributary" run "$work/one.toml" --run-dir "$work/run-o$r" --log-level warn)
  t6=$(timed "$work/t6.txt" gst-launch-1.0 -q "${gst_one[@]}")
  t7=$(timed "$work/t7.txt" "$tributary" run "$work/dataset1.toml" --run-dir "$work/run-s$r" --log-level warn)
  for out in t1 t7; do
    grep -q "clips .*audio_dataset .* $clips " "$work/$out.txt" || { echo "audio_decode.sh: the data set run did not emit $clips clips" >&2; cat "$work/$out.txt" >&2; exit 1; }
  done
  if ((r > 0)); then
    times[trib_d]+="$t1 "
    times[gst_d]+="$t2 "
    times[trib_f]+="$t3 "
    times[gst_f]+="$t4 "
    times[trib_o]+="$t5 "
    times[gst_o]+="$t6 "
    times[trib_s]+="$t7 "
  fi
done

best() { tr ' ' '\n' <<<"${times[$1]}" | grep . | sort -g | head -1; }
median() { tr ' ' '\n' <<<"${times[$1]}" | grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
row() {  # row LABEL KEY AUDIO_SECONDS
  awk -v l="$1" -v b="$(best "$2")" -v m="$(median "$2")" -v s="$3" \
    'BEGIN { printf "%-62s %8.3f %8.3f %10.0f %10.0f\n", l, b, m, s / b, s / m }'
}
echo "audio_decode: $clips clips of 1 s (16 kHz WAV) and one ${long_s} s 44.1 kHz stereo FLAC, decoded to $rate Hz mono"
echo "tributary: $tributary ($(nproc) cores); gst-launch-1.0 $(gst-launch-1.0 --version | sed -n 's/^GStreamer //p')"
echo "time: wall time of the whole process, $repeat interleaved runs after one warm-up"
echo
printf "%-62s %8s %8s %10s %10s\n" "" "best s" "median s" "best x" "median x"
row "tributary: audio_dataset -> identity ($clips files)" trib_d "$clips"
row "tributary: audio_dataset decoders=1 -> identity ($clips files)" trib_s "$clips"
row "gst-launch: multifilesrc ($clips files) ! wavparse ! ... ! fakesink" gst_d "$clips"
row "tributary: audio_dataset -> identity (1 file)" trib_o 1
row "gst-launch: multifilesrc (1 file) ! wavparse ! ... ! fakesink" gst_o 1
row "tributary: audio path=long.flac -> identity" trib_f "$long_s"
row "gst-launch: filesrc ! decodebin ! ... ! fakesink (long.flac)" gst_f "$long_s"
echo "(x: seconds of audio per second of wall time)"
echo
awk -v t="$(median trib_d)" -v g="$(median gst_d)" 'BEGIN { printf "ratio tributary/gst-launch, data set (audio s per s, median): %.2f\n", g / t }'
awk -v t="$(median trib_s)" -v g="$(median gst_d)" 'BEGIN { printf "ratio tributary/gst-launch, data set with decoders = 1 (audio s per s, median): %.2f\n", g / t }'
awk -v t="$(median trib_f)" -v g="$(median gst_f)" 'BEGIN { printf "ratio tributary/gst-launch, long file (audio s per s, median): %.2f\n", g / t }'
per_file() {  # per_file ALL ONE: milliseconds per file beyond the start-up, from the medians
  awk -v a="$(median "$1")" -v o="$(median "$2")" -v n="$clips" 'BEGIN { printf "%.3f", (a - o) * 1000 / (n - 1) }'
}
echo "start-up (1 file, median): tributary $(median trib_o) s, gst-launch $(median gst_o) s;" \
  "per file beyond it: tributary $(per_file trib_d trib_o) ms ($(per_file trib_s trib_o) ms with decoders = 1)," \
  "gst-launch $(per_file gst_d gst_o) ms"

#!/usr/bin/env bash
# Generates a labelled spoken-keyword data set with espeak-ng and sox: one folder per class of
# 1 s, 16 kHz, mono, 16-bit WAV clips, and OUT/manifest.csv (path,label). Keywords spoken by
# several voices and variants at several speaking rates and pitches, placed at a random offset in
# the clip, over background noise at a random SNR; an `unknown` class of other words and a
# `silence` class of noise alone. The same seed gives the same files on every machine.
#
#   scripts/make-kws-dataset.sh OUT                      # 8 keywords + unknown + silence, 300 clips each
#   scripts/make-kws-dataset.sh OUT --per-class 20 --seed 7 --keywords yes,no,stop
#   scripts/make-kws-dataset.sh OUT --jobs 2             # parallel jobs (default: nproc)
set -euo pipefail

usage() { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }
[[ $# -ge 1 && $1 != -* ]] || usage
out=$1
shift
per_class=300
seed=1
keywords=yes,no,up,down,left,right,stop,go
jobs=$(nproc)
while [[ $# -gt 0 ]]; do
  case $1 in
    --per-class) per_class=$2; shift 2 ;;
    --seed) seed=$2; shift 2 ;;
    --keywords) keywords=$2; shift 2 ;;
    --jobs) jobs=$2; shift 2 ;;
    *) usage ;;
  esac
done
for program in espeak-ng sox; do
  command -v "$program" >/dev/null || {
    echo "make-kws-dataset.sh: $program is not installed: run scripts/setup.sh (Debian package $program)" >&2
    exit 1
  }
done

unknown_words=cat,dog,bird,house,tree,seven,nine,happy,wow,bed,marvin,sheila,learn,follow,forward,visual
voices=en-gb,en-us,en-gb-scotland,en-gb-x-rp,en-029,en-gb-x-gbclan
variants=m1,m2,m3,m4,m7,f1,f2,f3,f4,klatt,klatt2,croak

mkdir -p "$out"
work=$(mktemp -d)
trap 'if [[ -n ${progress_pid:-} ]]; then kill "$progress_pid" 2>/dev/null || true; fi; rm -rf "$work"' EXIT

# Background noise, made once: 30 s of each colour, cut at a random place for each clip (sox -R:
# its random generator is seeded the same on every run).
for colour in whitenoise pinknoise brownnoise; do
  sox -V1 -R -n -r 16000 -c 1 -b 16 "$work/$colour.wav" synth 30 "$colour"
done

# The plan: one line per clip with every random choice made, from the seed alone.
awk -v seed="$seed" -v n="$per_class" -v keywords="$keywords" -v unknown="$unknown_words" \
  -v voices="$voices" -v variants="$variants" -v out="$out" -v work="$work" 'BEGIN {
    srand(seed)
    nk = split(keywords, kw, ","); nu = split(unknown, uw, ","); nv = split(voices, vo, ",")
    nvar = split(variants, va, ",")
    split("whitenoise,pinknoise,brownnoise", colours, ",")
    for (c = 1; c <= nk + 2; c++) {
      label = c <= nk ? kw[c] : (c == nk + 1 ? "unknown" : "silence")
      system("mkdir -p \"" out "/" label "\"")
      for (i = 0; i < n; i++) {
        word = c <= nk ? kw[c] : (c == nk + 1 ? uw[int(rand() * nu) + 1] : "-")
        voice = vo[int(rand() * nv) + 1] "+" va[int(rand() * nvar) + 1]
        speed = 110 + int(rand() * 90)        # words per minute
        pitch = 20 + int(rand() * 60)         # 0..99
        offset = rand()                       # fraction of the room left in the clip
        snr = 5 + int(rand() * 26)            # dB above the noise
        colour = colours[int(rand() * 3) + 1]
        noise_at = sprintf("%.3f", rand() * 28)
        gain = c == nk + 2 ? sprintf("%.1f", -10 - rand() * 30) : "-"
        printf "%s\t%s\t%s\t%d\t%d\t%.3f\t%d\t%s\t%s\t%s\t%s/%s/%s_%04d.wav\n", label, word, voice, speed, pitch, offset,
          snr, work "/" colour ".wav", noise_at, gain, out, label, label, i
      }
    }
  }' >"$work/plan.tsv"

make_clip() {
  local label word voice speed pitch offset snr noise noise_at gain file
  IFS=$'\t' read -r label word voice speed pitch offset snr noise noise_at gain file <<<"$1"
  local tmp
  tmp=$(mktemp -d)
  if [[ $label == silence ]]; then
    sox -V1 -R "$noise" -r 16000 -c 1 -b 16 "$file" trim "$noise_at" 1 gain "$gain"
  else
    espeak-ng -v "$voice" -s "$speed" -p "$pitch" -w "$tmp/word.wav" "$word"
    # The word at 16 kHz, peak at -1 dBFS, without the silence espeak-ng puts around it, at most 1 s.
    sox -V1 -R "$tmp/word.wav" -r 16000 -c 1 -b 16 "$tmp/speech.wav" silence 1 0.01 0.5% reverse silence 1 0.01 0.5% \
      reverse norm -1 trim 0 1
    local length pad
    length=$(soxi -D "$tmp/speech.wav")
    pad=$(awk -v l="$length" -v o="$offset" 'BEGIN { r = 1 - l; printf "%.4f", (r > 0 ? r : 0) * o }')
    sox -V1 -R "$tmp/speech.wav" "$tmp/placed.wav" pad "$pad" 1 trim 0 1
    # Noise at `snr` dB below the speech's peak level.
    sox -V1 -R "$noise" "$tmp/noise.wav" trim "$noise_at" 1 norm "-$((snr + 1))"
    sox -V1 -R -m "$tmp/placed.wav" "$tmp/noise.wav" -b 16 "$file" trim 0 1
  fi
  rm -rf "$tmp"
}
export -f make_clip

# A progress line: redrawn each second on a terminal, a plain line every 10 s elsewhere.
total=$(wc -l <"$work/plan.tsv")
show_progress() {
  local made tick=0
  while sleep 1; do
    made=$(find "$out" -name '*.wav' -newer "$work/plan.tsv" | wc -l)
    if [[ -t 2 ]]; then
      printf '\rmake-kws-dataset.sh: %d/%d clips (%d%%)' "$made" "$total" $((100 * made / total)) >&2
    elif ((++tick % 10 == 0)); then
      printf 'make-kws-dataset.sh: %d/%d clips (%d%%)\n' "$made" "$total" $((100 * made / total)) >&2
    fi
  done
}
show_progress &
progress_pid=$!
tr '\n' '\0' <"$work/plan.tsv" | xargs -0 -P "$jobs" -I{} bash -c 'make_clip "$1"' _ {}
kill "$progress_pid" 2>/dev/null || true
wait "$progress_pid" 2>/dev/null || true
progress_pid=""
if [[ -t 2 ]]; then printf "\r\033[K" >&2; fi

{
  echo "path,label"
  cut -f1,11 "$work/plan.tsv" | awk -F'\t' -v out="$out/" '{ p = $2; sub("^" out, "", p); print p "," $1 }'
} >"$out/manifest.csv"
echo "make-kws-dataset.sh: $(($(wc -l <"$work/plan.tsv"))) clips in $out ($(cut -f1 "$work/plan.tsv" | sort -u | wc -l) classes, seed $seed)"

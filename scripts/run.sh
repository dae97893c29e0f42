#!/usr/bin/env bash
# Installs what is missing, builds, makes the keyword data set unless it is there (data/kws, or
# $KWS), and trains the default pipeline's keyword spotter with its dashboard in the browser.
# Arguments go to `tributary run`, e.g. scripts/run.sh --set cache.epochs=5; DASH_PORT moves the
# dashboard (0 picks a free port). On a terminal the dashboard stays up after the run until Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
kws="${KWS:-data/kws}"
if [[ ! -f $kws/manifest.csv ]]; then
  echo "run.sh: making the keyword data set in $kws (about a minute on 2 cores)"
  scripts/make-kws-dataset.sh "$kws" --per-class 300
fi
export KWS="$kws"
linger=()
if [[ -t 1 ]]; then
  linger=(--set dash.linger=true)
fi
port="${DASH_PORT:-8080}"
if [[ $port != 0 ]]; then
  echo "run.sh: the dashboard: http://127.0.0.1:$port/ (open it now; it fills as the run goes)"
fi
exec build/bin/tributary run pipelines/default.toml "${linger[@]}" "$@"

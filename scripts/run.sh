#!/usr/bin/env bash
# Installs what is missing, builds, makes the keyword data set unless it is there (data/kws, or
# $KWS), and runs the default pipeline. Arguments go to `tributary run`,
# e.g. scripts/run.sh --set cache.epochs=5
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
kws="${KWS:-data/kws}"
if [[ ! -f $kws/manifest.csv ]]; then
  echo "run.sh: making the keyword data set in $kws (a few minutes on 2 cores)"
  scripts/make-kws-dataset.sh "$kws" --per-class 300
fi
export KWS="$kws"
exec build/bin/tributary run pipelines/default.toml "$@"

#!/usr/bin/env bash
# Installs what is missing, builds, and runs the default pipeline. Arguments go to `tributary run`,
# e.g. scripts/run.sh --set train.lr=0.05
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
scripts/build.sh build
exec build/bin/tributary run pipelines/default.toml "$@"

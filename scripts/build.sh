#!/usr/bin/env bash
# Configures and builds into a folder (default: build). Extra arguments go to cmake.
#   scripts/build.sh                       # RelWithDebInfo, everything
#   scripts/build.sh build-asan -DTRIBUTARY_SANITIZE=address,undefined
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${1:-build}"
shift || true
jobs="$(nproc)"
cmake -S . -B "$dir" -DTRIBUTARY_WERROR=ON "$@" >/dev/null
cmake --build "$dir" -j "$jobs" ${BUILD_TARGETS:+--target $BUILD_TARGETS}

#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test; then runs the SDK and core tests again
# built with AddressSanitizer and UndefinedBehaviorSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
jobs="$(nproc)"

scripts/build.sh build
(cd build && ctest --output-on-failure -j "$jobs")

BUILD_TARGETS="sdk_tests core_tests" scripts/build.sh build-asan -DTRIBUTARY_SANITIZE=address,undefined \
  -DTRIBUTARY_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug
(cd build-asan && ASAN_OPTIONS=detect_leaks=1 ctest --output-on-failure -j "$jobs" -L "sdk|core")

#!/usr/bin/env bash
# Installs what is missing, builds, and runs every test; then runs the whole suite again built
# with AddressSanitizer and UndefinedBehaviorSanitizer, and the runtime's concurrency stress tests
# built with ThreadSanitizer (oneTBB from Debian is not instrumented, so those tests drive the
# runtime's synchronisation with plain threads: core/src/sync.hpp), with the feature nodes'
# clips computed at once.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
jobs="$(nproc)"

scripts/build.sh build
(cd build && ctest --output-on-failure -j "$jobs")

scripts/build.sh build-asan -DTRIBUTARY_SANITIZE=address,undefined -DTRIBUTARY_BENCH=OFF -DCMAKE_BUILD_TYPE=Debug
# intercept_tls_get_addr=0: GCC 12's LeakSanitizer can read a bogus dynamic-TLS range of a dlopen'ed
# plugin and crash in its tracer ("Tracer caught signal 11" after "DTLS ... at 0x...").
# -LE soak: ASan's quarantine makes the soak test's RSS meaningless (and it would take twice as long).
(cd build-asan && ASAN_OPTIONS=detect_leaks=1:intercept_tls_get_addr=0 \
  LSAN_OPTIONS="suppressions=$PWD/../tests/lsan.supp" ctest --output-on-failure -j "$jobs" -LE soak)

BUILD_TARGETS="core_stress_tests features_tests" scripts/build.sh build-tsan -DTRIBUTARY_SANITIZE=thread \
  -DTRIBUTARY_BENCH=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
TSAN_OPTIONS=halt_on_error=1 build-tsan/bin/core_stress_tests
# Feature nodes computing whole clips at once, from plain threads.
TSAN_OPTIONS=halt_on_error=1 build-tsan/bin/features_tests "[concurrent]"

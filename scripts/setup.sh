#!/usr/bin/env bash
# Installs the Debian packages Tributary needs that are missing. Quiet when all are there.
set -euo pipefail

packages=(
  # build
  cmake g++ make pkg-config
  # runtime and SDK
  libtbb-dev libtomlplusplus-dev libspdlog-dev libfmt-dev libboost-dev libboost-filesystem-dev
  nlohmann-json3-dev libcli11-dev zlib1g-dev libjemalloc-dev
  # the run store, and its command-line shell for inspecting it
  libsqlite3-dev sqlite3
  # fast BLAS for the model plugins (LibTorch uses whatever libblas.so.3 points to)
  libopenblas0-pthread
  # tests: Catch2, real data sets, GStreamer tools for the benchmarks
  catch2 python3-sklearn gstreamer1.0-tools gstreamer1.0-plugins-base
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
sudo=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "error: run as root (or install sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Installs the Debian packages Tributary needs that are missing. Quiet when all are there.
set -euo pipefail

packages=(
  # build
  cmake g++ make pkg-config
  # the dashboard page (plot_server), bundled by npm at build time; nodesource's nodejs has npm in it
  nodejs $(command -v npm >/dev/null || echo npm)
  # the dashboard's browser test: a real headless Chromium
  chromium
  # runtime and SDK
  libtbb-dev libtomlplusplus-dev libspdlog-dev libfmt-dev libboost-dev libboost-filesystem-dev
  nlohmann-json3-dev libcli11-dev zlib1g-dev libjemalloc-dev
  # LibTorch for the model plugin, and a fast BLAS for it (it uses whatever libblas.so.3 points to)
  libopenblas0-pthread libtorch-dev
  # the run store, and its command-line shell for inspecting it
  libsqlite3-dev sqlite3
  # tests: Catch2, real data sets, GStreamer tools for the benchmarks
  catch2 python3-sklearn gstreamer1.0-tools gstreamer1.0-plugins-base
  # the GStreamer sources: headers, decoders and devices (pulsesrc, alsasrc, ximagesrc)
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-plugins-good gstreamer1.0-alsa
  # Xlib's headers: the screen source keeps a broken X connection from ending the process
  libx11-dev
  # their tests: real speech, a real sound server with a null sink, a real X screen
  espeak-ng sox pulseaudio pulseaudio-utils xvfb x11-xserver-utils
  # feature nodes: the FFT (KissFFT, BSD-3-Clause); their tests and benchmark compare with
  # torchaudio at /usr/bin/python3 on speech spoken by espeak-ng and resampled by sox
  libkissfft-dev python3-torchaudio python3-torch espeak-ng sox
  # feature nodes built with -DTRIBUTARY_FFTW=ON (GPL-2+, opt-in)
  libfftw3-dev
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

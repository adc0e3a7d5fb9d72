#!/usr/bin/env bash
# Installs every package pulsing needs to build, test and benchmark on Debian 12.
# Idempotent: when everything is present it prints nothing and touches nothing.
# Must run as root (or through sudo); uses only the machine's configured apt sources.
#   scripts/install-deps.sh              the build, test and benchmark packages
#   scripts/install-deps.sh PACKAGE...   those packages only (tests/docker/run.sh: docker.io, ...)
set -euo pipefail

packages=(
  build-essential cmake ninja-build ccache pkg-config git
  libzmq3-dev cppzmq-dev capnproto libcapnp-dev libsodium-dev
  libboost-dev libspdlog-dev libfmt-dev libcli11-dev doctest-dev
  nlohmann-json3-dev libxxhash-dev zlib1g-dev
  libcaf-dev            # the comparison benchmarks only (bench/caf)
  clang libclang-rt-14-dev  # the fuzz targets (scripts/fuzz.sh): clang 14, libFuzzer and its sanitizers
  python3 python3-zmq   # a test's client in another language (tests/integration/python_client.py)
)
(($# > 0)) && packages=("$@")

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

if [[ $(id -u) -ne 0 ]]; then
  if command -v sudo >/dev/null; then exec sudo "$0" "$@"; fi
  echo "install-deps: missing ${missing[*]}; run this script as root" >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null

#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root), builds the `pulsing` command, and runs the cluster
# demo (scripts/cluster-demo.sh): three nodes on 127.0.0.1, a service resolved and called from
# the others (ask, tell, stream), a node killed and the others noticing. Stops what it started.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

echo "== building pulsing (RelWithDebInfo, in build/)"
# The same configuration as scripts/test.sh, so that running both builds the library once.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPULSING_WERROR=ON >/dev/null
cmake --build build --parallel "$(nproc)" --target pulsing_cli

exec scripts/cluster-demo.sh build/cli/pulsing

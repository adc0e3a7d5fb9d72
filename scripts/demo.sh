#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root), builds pulsing and its examples, and runs the
# tour: every example in turn, with a heading for each (examples/tour.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

echo "== building the examples (RelWithDebInfo, in build/)"
# The same configuration as scripts/test.sh, so that running both builds the library once.
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPULSING_WERROR=ON -DPULSING_BUILD_EXAMPLES=ON >/dev/null
cmake --build build --parallel "$(nproc)" --target pulsing_examples

exec examples/tour.sh build/examples

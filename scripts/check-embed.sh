#!/usr/bin/env bash
# Checks the installed package the way an application sees it: installs BUILD_DIR (already
# built) into a temporary prefix, builds examples/embed against that prefix alone, with
# warnings as errors, and runs it. Everything lands in the temporary directory, removed on exit.
#   scripts/check-embed.sh BUILD_DIR
set -euo pipefail
if [[ $# -ne 1 ]]; then
  echo "usage: $0 BUILD_DIR   (a configured and built pulsing build directory)" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
cd "$(dirname "$0")/.."

tmp=$(mktemp -d "${TMPDIR:-/tmp}/pulsing-embed.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

echo "== install $build into $tmp/prefix"
cmake --install "$build" --prefix "$tmp/prefix" >/dev/null
echo "== build examples/embed against it"
cmake -S examples/embed -B "$tmp/build" -G Ninja -DCMAKE_PREFIX_PATH="$tmp/prefix" \
  -DCMAKE_COMPILE_WARNING_AS_ERROR=ON >/dev/null
# A pulsing installed elsewhere (/usr/local) must not stand in for the one under test.
found=$(sed -n 's/^pulsing_DIR:PATH=//p' "$tmp/build/CMakeCache.txt")
if [[ $found != "$tmp/prefix/"* ]]; then
  echo "check-embed: found pulsing in '$found', not in $tmp/prefix" >&2
  exit 1
fi
cmake --build "$tmp/build"
echo "== run it"
"$tmp/build/embed_app"

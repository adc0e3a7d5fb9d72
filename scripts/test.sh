#!/usr/bin/env bash
# Sets up a fresh Debian 12 machine (as root), builds pulsing with warnings as errors, and runs
# every test, the docker-compose cluster and the chaos suite; then builds and runs every test
# again under ASan+UBSan (at -O1 with assertions on: at -O0 the simulator tests alone took ten
# minutes) and under ThreadSanitizer (libzmq's own
# internals suppressed, tests/tsan.supp). Between the two, the fuzz targets run for a bounded
# time each (scripts/fuzz.sh: clang, libFuzzer, from the seeds in tests/fuzz/corpus).
#   scripts/test.sh            everything
#   PULSING_SKIP_SANITIZERS=1  only the plain build (neither sanitizer)
#   PULSING_SKIP_TSAN=1        everything but the ThreadSanitizer build
#   PULSING_SKIP_DOCKER=1      not the docker-compose cluster (tests/docker/run.sh)
#   PULSING_SKIP_CHAOS=1       not the chaos suite (tests/chaos/run.sh: real nodes in network
#                              namespaces of their own, faults, and a checker)
#   PULSING_SKIP_FUZZ=1        not the fuzz targets (scripts/fuzz.sh; PULSING_FUZZ_SECONDS=N
#                              runs each for N seconds instead of 30)
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

jobs=$(nproc)

run_suite() {  # run_suite BUILD_DIR [cmake args...]
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja -DPULSING_WERROR=ON "$@" >/dev/null
  cmake --build "$dir" --parallel "$jobs"
  ctest --test-dir "$dir" --output-on-failure --parallel "$jobs" --timeout 300
}

echo "== build and test (RelWithDebInfo)"
run_suite build
./scripts/check-embed.sh build

if [[ -z ${PULSING_SKIP_DOCKER:-} ]]; then
  echo "== docker-compose cluster (tests/docker)"
  ./tests/docker/run.sh
fi

if [[ -z ${PULSING_SKIP_CHAOS:-} ]]; then
  echo "== chaos suite (tests/chaos/run.sh, the short schedule)"
  ./tests/chaos/run.sh
fi

if [[ -z ${PULSING_SKIP_FUZZ:-} ]]; then
  echo "== fuzz targets (scripts/fuzz.sh)"
  PULSING_FUZZ_JOBS=$jobs ./scripts/fuzz.sh
fi

if [[ -z ${PULSING_SKIP_SANITIZERS:-} ]]; then
  echo "== ASan+UBSan"
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1 \
    run_suite build-asan -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1" \
      "-DPULSING_SANITIZE=address;undefined" \
      -DPULSING_BUILD_EXAMPLES=OFF
fi
if [[ -z ${PULSING_SKIP_SANITIZERS:-} && -z ${PULSING_SKIP_TSAN:-} ]]; then
  echo "== TSan"
  TSAN_OPTIONS="suppressions=$PWD/tests/tsan.supp halt_on_error=1" \
    run_suite build-tsan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPULSING_SANITIZE=thread \
      -DPULSING_BUILD_EXAMPLES=OFF
fi

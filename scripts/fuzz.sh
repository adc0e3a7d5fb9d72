#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (every decoder of bytes from the network: frames,
# gossip datagrams, JSON, admin HTTP requests) with clang, ASan and UBSan in build-fuzz, and runs
# each for a bounded time over a copy of its seed corpus tests/fuzz/corpus/<target>/ (the
# committed seeds are never modified). Exits non-zero when a target finds a crash, a hang, a
# sanitizer report or an uncaught exception, and prints the reproducer: run it again with
# `build-fuzz/tests/fuzz/<target> <file>`.
#   scripts/fuzz.sh              every target, 30 s each
#   scripts/fuzz.sh TARGET...    those only: fuzz_envelope fuzz_gossip fuzz_json fuzz_http
#   PULSING_FUZZ_SECONDS=N       N seconds per target
#   PULSING_FUZZ_JOBS=N          build with N parallel jobs (default: every core)
# Logs: build-fuzz/fuzz-logs/<target>.log; reproducers: build-fuzz/fuzz-artifacts/.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh

targets=(fuzz_envelope fuzz_gossip fuzz_json fuzz_http)
(($# > 0)) && targets=("$@")
seconds=${PULSING_FUZZ_SECONDS:-30}
jobs=${PULSING_FUZZ_JOBS:-$(nproc)}
build=build-fuzz

# Debug at -O1: assertions on (Beast's and ours), at nearly the speed of -O2.
echo "== fuzz: build ${targets[*]} (clang, ASan+UBSan, libFuzzer)"
CC=clang CXX=clang++ cmake -S . -B "$build" -G Ninja -DPULSING_FUZZ=ON \
  -DPULSING_BUILD_TESTS=OFF -DPULSING_BUILD_EXAMPLES=OFF -DPULSING_BUILD_BENCH=OFF \
  -DCMAKE_BUILD_TYPE=Debug "-DCMAKE_CXX_FLAGS_DEBUG=-g -O1" >/dev/null
cmake --build "$build" --parallel "$jobs" --target "${targets[@]}"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
logs=$build/fuzz-logs
artifacts=$build/fuzz-artifacts
mkdir -p "$logs" "$artifacts"
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

passed=0
failed=0
for target in "${targets[@]}"; do
  corpus=$work/$target
  mkdir -p "$corpus"
  cp tests/fuzz/corpus/"$target"/* "$corpus"/
  options=(-max_total_time="$seconds" -rss_limit_mb=2048 -timeout=10 -print_final_stats=1
           -artifact_prefix="$artifacts/$target-")
  # Longer than the server's 8 KiB header limit, so that its 431 answer is reached too.
  [[ $target == fuzz_http ]] && options+=(-max_len=12000)
  log=$logs/$target.log
  echo "== fuzz: $target for ${seconds} s"
  status=0
  "$build/tests/fuzz/$target" "${options[@]}" "$corpus" >"$log" 2>&1 || status=$?
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  per_second=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  coverage=$(grep -a -o 'cov: [0-9]*' "$log" | tail -1 || true)
  if ((status == 0)); then
    echo "$target: ok, ${runs:-?} runs (${per_second:-?}/s), ${coverage:-cov: ?}"
    passed=$((passed + 1))
    continue
  fi
  failed=$((failed + 1))
  echo "$target: FAILED (exit $status), after ${runs:-?} runs; the end of $log:"
  grep -a -v -E '^#[0-9]+ +(NEW|REDUCE|pulse|INITED|RELOAD)' "$log" | tail -60 | sed 's/^/  | /'
  reproducer=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
  if [[ -n $reproducer ]]; then
    echo "$target: reproducer $reproducer; run it again: $build/tests/fuzz/$target $reproducer"
  fi
done

echo "fuzz: $passed passed, $failed failed"
((failed == 0))

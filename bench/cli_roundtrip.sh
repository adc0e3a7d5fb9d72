#!/usr/bin/env bash
# C1 and C1s of bench/README.md: the round trip of one `pulsing ask` command, from the shell to
# its answer: the process starting, its connection (with C1s the CURVE handshake and the ZAP
# check), resolving the name through the node service, the call, and the process ending. Two
# nodes on 127.0.0.1, one without a key (C1) and one with a cluster key (C1s); the commands
# alternate between them so that machine noise hits both alike.
#
#   bench/cli_roundtrip.sh [COUNT]     COUNT commands to each node (default 200)
#
# Prints one JSON line per workload (value: the median in ms; p90_ms), then C1s / C1.
set -euo pipefail
cd "$(dirname "$0")/.."

count=${1:-200}
build=build-bench
./scripts/install-deps.sh
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPULSING_BUILD_BENCH=ON \
  -DPULSING_BUILD_TESTS=OFF -DPULSING_BUILD_EXAMPLES=OFF >&2
cmake --build "$build" --parallel "$(nproc)" --target pulsing_cli >&2
pulsing=$build/cli/pulsing

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

"$pulsing" keygen "$work/cluster.key" >/dev/null
# start NAME ARGS...: a node on a free port; prints its address once it is ready.
start() {
  local name=$1; shift
  "$pulsing" node --listen 127.0.0.1:0 --admin off --name "$name" --services svc=counter "$@" \
    >"$work/$name.out" 2>"$work/$name.log" &
  pids+=($!)
  for _ in $(seq 100); do
    if read -r word endpoint _ <"$work/$name.out" 2>/dev/null && [[ $word == ready ]]; then
      echo "${endpoint#tcp://}"
      return
    fi
    sleep 0.1
  done
  echo "cli_roundtrip: $name did not start" >&2
  exit 1
}
plain=$(start plain)
keyed=$(start keyed --cluster-key-file "$work/cluster.key")

# One command's wall time in ms.
timed() {
  local t0 t1
  t0=$(date +%s%N)
  "$@" >/dev/null
  t1=$(date +%s%N)
  echo $(((t1 - t0) / 1000))
}
: >"$work/c1" && : >"$work/c1s"
for ((i = 0; i < count; i++)); do
  timed "$pulsing" ask svc get --node "$plain" >>"$work/c1"
  timed "$pulsing" ask svc get --node "$keyed" --key-file "$work/cluster.key" >>"$work/c1s"
done

# summary WORKLOAD FILE: median and p90 of the µs in FILE, as ms.
summary() {
  sort -n "$2" | awk -v w="$1" -v n="$count" '
    { v[NR] = $1 }
    END {
      printf "{\"workload\": \"%s\", \"system\": \"pulsing\", \"value\": %.2f, \"unit\": \"ms\", \"count\": %d, \"p90_ms\": %.2f}\n",
             w, v[int((NR + 1) / 2)] / 1000, n, v[int(NR * 0.9 + 0.5)] / 1000
    }'
}
c1=$(summary C1 "$work/c1")
c1s=$(summary C1s "$work/c1s")
echo "$c1"
echo "$c1s"
awk -v a="$(sed 's/.*"value": \([^,]*\).*/\1/' <<<"$c1s")" -v b="$(sed 's/.*"value": \([^,]*\).*/\1/' <<<"$c1")" \
  'BEGIN { printf "{\"workload\": \"C1s\", \"system\": \"ratio\", \"vs\": \"C1\", \"value\": %.3f, \"unit\": \"x\"}\n", a / b }'

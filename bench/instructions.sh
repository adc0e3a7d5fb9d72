#!/usr/bin/env bash
# Counts the instructions a remote workload costs per message, client and server apart, under
# valgrind's callgrind: the same figure every run, whatever else the machine is doing, where
# timings on a shared 2-core VM move by 20-40%. User-space instructions only (the kernel's work
# is not counted), so compare systems with it, and read throughput from bench/run.sh.
#
#   bench/instructions.sh [--scale F] [--top N] WORKLOAD [PROGRAM...]
#
# WORKLOAD is W5, W6 or W7; PROGRAM is one of build-bench/bench's remote programs (default:
# pulsing_remote raw_zmq_remote). --scale defaults to 0.1 (valgrind runs programs ~50x slower);
# --top N also lists each process's N most expensive functions. Prints, per program and process:
#   <program> <workload> client|server instructions/op <N>
# Needs a Release build in build-bench (bench/run.sh makes one); installs valgrind if missing.
set -euo pipefail
cd "$(dirname "$0")/.."

scale=0.1
top=0
usage() {
  echo "usage: bench/instructions.sh [--scale F] [--top N] W5|W6|W7 [PROGRAM...]" >&2
  exit 2
}
while (($#)); do
  case $1 in
    --scale) (($# >= 2)) || usage; scale=$2; shift 2 ;;
    --top) (($# >= 2)) || usage; top=$2; shift 2 ;;
    -h | --help) usage ;;
    -*) usage ;;
    *) break ;;
  esac
done
(($# >= 1)) || usage
workload=$1
shift
[[ $workload == W5 || $workload == W6 || $workload == W7 ]] || usage
programs=("$@")
((${#programs[@]})) || programs=(pulsing_remote raw_zmq_remote)

./scripts/ensure-packages.sh valgrind

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for program in "${programs[@]}"; do
  bin=build-bench/bench/$program
  [[ -x $bin ]] || { echo "instructions.sh: no $bin (run bench/run.sh first)" >&2; exit 1; }
  # The client starts its server as a child (bench/remote_util.hpp): --trace-children follows it.
  result=$(valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$out/$program.%p" \
    "$bin" --workload "$workload" --scale "$scale" 2>/dev/null)
  count=$(sed -n 's/.*"count":\([0-9]*\).*/\1/p' <<<"$result")
  [[ -n $count ]] || { echo "instructions.sh: $program printed no count: $result" >&2; exit 1; }
  for file in "$out/$program".*; do
    role=client
    grep -q -- '--serve' <(head -20 "$file") && role=server
    total=$(callgrind_annotate "$file" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')
    echo "$program $workload $role instructions/op $((total / count))"
    if ((top > 0)); then
      callgrind_annotate "$file" 2>/dev/null | grep -E '^ *[0-9,]+ \(' | sed -n "2,$((top + 1))p" |
        sed -E 's/^ *([0-9,]+) +\( *[0-9.]+%\) +/\1 /' |
        awk -v c="$count" '{ n = $1; gsub(",", "", n); $1 = ""; printf "  %8.0f %s\n", n / c, substr($0, 2, 140) }'
    fi
  done
done

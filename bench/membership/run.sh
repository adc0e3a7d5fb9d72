#!/usr/bin/env bash
# Runs the membership workloads of bench/README.md side by side: M1–M4 and the idle cost with real
# node processes for pulsing (gossip_node) and hashicorp/memberlist 0.2.2 (memberlist_node),
# workload by workload so that machine noise hits both alike, then S1 on the simulator.
#
#   bench/membership/run.sh [--quick] [--keys] [WORKLOAD...]   default: M1-16 M1-48 M2 M3 M4 cost S1
#
# Stdout carries one JSON line per workload and system (harness.py's and sim_scale's); progress
# goes to stderr. --quick: 2 runs per workload, M4 for 20 s, S1 at 1,000 nodes only. --keys: gossip
# encrypted on both sides (pulsing's sealed datagrams, memberlist's keyring), lines marked "keys".
# Installs what it needs: the project's dependencies, iptables (M4 drops 10% of UDP inside a
# network namespace of its own; cost counts bytes there), Go and Debian's memberlist.
set -euo pipefail
cd "$(dirname "$0")/../.."

build=build-bench
quick=()
keys=()
workloads=()
while (($#)); do
  case $1 in
    --quick) quick=(--quick); shift ;;
    --keys) keys=(--keys); shift ;;
    M1-16 | M1-48 | M2 | M3 | M4 | cost | S1) workloads+=("$1"); shift ;;
    *) echo "usage: bench/membership/run.sh [--quick] [--keys] [M1-16|M1-48|M2|M3|M4|cost|S1]..." >&2; exit 2 ;;
  esac
done
((${#workloads[@]})) || workloads=(M1-16 M1-48 M2 M3 M4 cost S1)

./scripts/install-deps.sh
./scripts/ensure-packages.sh iptables
echo "membership/run.sh: building Release in $build" >&2
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPULSING_BUILD_BENCH=ON \
  -DPULSING_BUILD_TESTS=OFF -DPULSING_BUILD_EXAMPLES=OFF >&2
cmake --build "$build" --parallel "$(nproc)" --target gossip_node sim_scale >&2
bench/membership/build_memberlist.sh "$build/membership/memberlist_node"

for w in "${workloads[@]}"; do
  if [[ $w == S1 ]]; then
    sizes=(1000 10000)
    ((${#quick[@]})) && sizes=(1000)
    for n in "${sizes[@]}"; do
      echo "membership/run.sh: S1 at $n nodes" >&2
      "$build/bench/membership/sim_scale" --nodes "$n"
    done
    continue
  fi
  for sys in pulsing memberlist; do
    prog=$build/bench/membership/gossip_node
    [[ $sys == memberlist ]] && prog=$build/membership/memberlist_node
    python3 bench/membership/harness.py --system "$sys" --bin "$prog" --workloads "$w" "${quick[@]}" "${keys[@]}"
  done
done

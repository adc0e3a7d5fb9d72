#!/usr/bin/env bash
# The chaos suite (tests/chaos/README.md): real nodes in network namespaces of their own, faults
# on a schedule drawn from a seed, a workload throughout, and a checker of the invariants.
#   tests/chaos/run.sh [--long] [--seed N] [--scenario NAME]...
# The short schedule (the default) takes about three minutes; --long holds every fault longer and
# adds the minority kill, the asymmetric partition, 30% loss and a rolling restart. Runs as root:
# the whole suite runs inside a network namespace of its own (unshare -n), so that nothing it
# sends can leave the machine. PULSING_BUILD_DIR: the build to use (default: build).
set -euo pipefail
cd "$(dirname "$0")/../.."
build=${PULSING_BUILD_DIR:-build}
./scripts/ensure-packages.sh iptables iproute2 util-linux
if [[ ! -f $build/CMakeCache.txt ]]; then
  cmake -S . -B "$build" -G Ninja >/dev/null
fi
cmake --build "$build" --target pulsing_cli chaos_worker >/dev/null
run_dir=$(mktemp -d /tmp/pulsing-chaos.XXXXXX)
echo "chaos: logs in $run_dir" >&2
status=0
timeout 1200 unshare -n -- /usr/bin/python3 tests/chaos/chaos.py --cli "$build/cli/pulsing" \
  --worker "$build/tests/chaos/chaos_worker" --run-dir "$run_dir" "$@" || status=$?
/usr/bin/python3 tests/chaos/checker.py "$run_dir" || status=1
exit $status

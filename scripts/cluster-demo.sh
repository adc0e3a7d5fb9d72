#!/usr/bin/env bash
# cluster-demo.sh PULSING: the README's demo, given the `pulsing` binary. Three node processes on
# 127.0.0.1 form a cluster; "service" (a calculator) and "tokens" run on the first; the client
# commands resolve and call them from the others (ask, tell, stream); then the first node is
# killed and the others are seen noticing: it is marked dead and its names are gone. Every node
# is stopped on exit, also when a step fails.
set -euo pipefail
pulsing=${1:?usage: cluster-demo.sh PATH_TO_PULSING}
work=$(mktemp -d /tmp/pulsing-demo.XXXXXX)
pids=()

cleanup() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

step() { printf '\n== %s\n' "$*"; }
show() { printf '$ pulsing %s\n' "$*"; "$pulsing" "$@"; }

# start_node N ARGS...: starts node N on a free port, with the demo's cluster key; sets
# address[N] once it printed "ready".
declare -A address
start_node() {
  local n=$1; shift
  "$pulsing" node --listen 127.0.0.1:0 --name "node$n" --workers 2 --cluster-key-file "$work/cluster.key" "$@" \
    >"$work/node$n.out" 2>"$work/node$n.log" &
  pids+=($!)
  for _ in $(seq 100); do  # up to 10 s
    if read -r word endpoint _ <"$work/node$n.out" 2>/dev/null && [[ $word == ready ]]; then
      address[$n]=${endpoint#tcp://}
      printf 'node%s ready at %s (admin %s)\n' "$n" "${address[$n]}" "$(cut -d' ' -f4 "$work/node$n.out")"
      return
    fi
    kill -0 "${pids[-1]}" 2>/dev/null || { cat "$work/node$n.log" >&2; exit 1; }
    sleep 0.1
  done
  echo "node$n did not start within 10 s" >&2
  exit 1
}

# wait_state NODE MEMBER STATE: until NODE sees MEMBER in STATE (at most 30 s).
wait_state() {
  for _ in $(seq 300); do
    "$pulsing" members --node "${address[$1]}" --json | grep -q "\"name\":\"$2\"[^}]*\"state\":\"$3\"" && return
    sleep 0.1
  done
  echo "node$1 did not see $2 $3 within 30 s" >&2
  exit 1
}

step "A cluster key: only nodes that hold it can join, and only its holders can call (gossip is sealed, calls are encrypted)"
show keygen "$work/cluster.key"
# The commands below call with it too (as `--key-file` would): a node with a key admits no one
# without one.
export PULSING_CLUSTER_KEY_FILE="$work/cluster.key"

step "Three nodes on 127.0.0.1: node1 hosts 'service' (a calculator) and 'tokens' (a token stream)"
start_node 1 --services service=calculator,tokens
start_node 2 --seeds "${address[1]}"
start_node 3 --seeds "${address[1]}"

step "node2 waits until it sees all three alive (SWIM gossip over UDP)"
show members --node "${address[2]}" --expect 3 --wait 20s

step "Resolve 'service' from node2: the registry says where it runs"
show resolve service --node "${address[2]}"

step "Call it from node2 and node3: ask, tell, ask again"
show ask service add 5 --node "${address[2]}"
show tell service add 10 --node "${address[3]}"
for _ in $(seq 100); do  # the tell is on its way: ask until it has been handled
  [[ $("$pulsing" ask service get --node "${address[3]}") == 15 ]] && break
  sleep 0.1
done
show ask service get --node "${address[3]}"

step "Stream tokens from node3, printed as they arrive"
show stream tokens generate '"tell me about actors"' 10 --node "${address[3]}"

step "The actors on node1"
show actors --node "${address[1]}"

step "Kill node1 (SIGKILL): the others mark it dead, and its names are gone"
kill -KILL "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
wait_state 2 node1 dead
wait_state 3 node1 dead
show members --node "${address[2]}"
printf '$ pulsing resolve service --node %s\n' "${address[3]}"
if "$pulsing" resolve service --node "${address[3]}"; then
  echo "'service' still resolves after its node died" >&2
  exit 1
fi

step "Stop node3 with SIGTERM: it leaves gracefully, and node2 sees it 'left', not dead"
kill -TERM "${pids[2]}"
wait "${pids[2]}" || true
wait_state 2 node3 left
show members --node "${address[2]}"

printf '\nThe demo is over: every node it started is stopped. `pulsing --help` lists the commands.\n'

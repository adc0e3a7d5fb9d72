#!/usr/bin/env bash
# tour.sh BIN_DIR: runs every example in BIN_DIR (the build's examples/ folder) in the order of
# the user guide, with a heading for each. Stops at the first example that fails.
set -euo pipefail
bin=${1:?usage: tour.sh BIN_DIR}

tour=(
  "calculator|Quick start: spawn, ask, tell, resolve by name, call by name"
  "session_manager|A stateful actor: sessions as a PULSING_FIELDS struct, std::optional results"
  "worker_pool|A worker pool: round robin over references, a reentrant pool"
  "pipeline|A pipeline: stages chained by references"
  "token_generator|Streaming: an LLM-like generator co_yields tokens"
  "reliable_worker|Supervision: a crash, a restart after backoff, the name still works"
  "error_handling|Errors by category: business, system, timeout, runtime"
  "resilient_actor|A resilient actor: expected failures as answers, the rest crash and restart"
  "cluster|A cluster: resolve from any node, a pool over three nodes, a reference that follows a name"
  "placement|Placement: kinds, a pool spawned across nodes, least loaded, by key, by kind name"
)

for entry in "${tour[@]}"; do
  name=${entry%%|*}
  printf '\n== %s — %s\n   (examples/%s.cpp)\n\n' "$name" "${entry#*|}" "$name"
  "$bin/$name"
done
printf '\nThe tour is over: every example ran and checked its own results. Read docs/guide.md next.\n'

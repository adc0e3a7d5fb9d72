#!/usr/bin/env bash
# check_output.sh PROGRAM EXPECTED
# Runs PROGRAM and shows its output. Fails unless it exits 0 and each non-empty line of EXPECTED
# occurs, as text, within a line of its standard output, in the order given (other lines may
# come between: logs, and parts that differ from run to run).
set -uo pipefail
program=$1
expected=$2

output=$("$program")
status=$?
printf '%s\n' "$output"
if ((status != 0)); then
  echo "check_output: $(basename "$program") exited with status $status" >&2
  exit 1
fi

mapfile -t got <<<"$output"
i=0
while IFS= read -r want || [[ -n $want ]]; do
  [[ -z $want ]] && continue
  while ((i < ${#got[@]})) && [[ ${got[i]} != *"$want"* ]]; do ((i++)); done
  if ((i == ${#got[@]})); then
    echo "check_output: $(basename "$program") did not print (in this order): $want" >&2
    exit 1
  fi
  ((i++))
done <"$expected"

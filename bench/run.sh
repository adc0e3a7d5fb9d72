#!/usr/bin/env bash
# Runs the benchmarks of bench/README.md side by side and prints one JSON line per workload and
# system (medians of 3 runs), then pulsing's ratio to each other system that ran.
#   bench/run.sh [--scale F] [WORKLOAD...]     default: every workload in the table below
# --scale multiplies each workload's counts (e.g. 0.1 for a quick look); figures are only
# comparable at the default 1. Stdout carries only the JSON lines; progress goes to stderr.
set -euo pipefail
cd "$(dirname "$0")/.."

runs=3
scale=1
build="build-bench"
bin=$build/bench

# Which program runs each workload for each system, in output order. Every program takes
# `--workload W --scale F` and prints one flat JSON line. A program missing from the build is
# skipped, so systems appear as their programs are written.
table='
W1       pulsing  pulsing_local
W1       caf      caf_local
W2       pulsing  pulsing_local
W2       caf      caf_local
W3       pulsing  pulsing_local
W3       caf      caf_local
W4       pulsing  pulsing_local
W4       caf      caf_local
W4-idle  pulsing  pulsing_local
W4-idle  caf      caf_local
W5       pulsing  pulsing_remote
W5       raw-zmq  raw_zmq_remote
W5       caf      caf_remote
W6       pulsing  pulsing_remote
W6       raw-zmq  raw_zmq_remote
W6       caf      caf_remote
W7       pulsing  pulsing_remote
W7       raw-zmq  raw_zmq_remote
W7       caf      caf_remote
W5s      pulsing  pulsing_remote
W5s      raw-zmq  raw_zmq_remote
W6s      pulsing  pulsing_remote
W6s      raw-zmq  raw_zmq_remote
W7s      pulsing  pulsing_remote
W7s      raw-zmq  raw_zmq_remote
R1       pulsing  pulsing_names
R1-cached pulsing pulsing_names
R1-rate  pulsing  pulsing_names
R2       pulsing  pulsing_names
R2-memory pulsing pulsing_names
R3       pulsing  pulsing_names
R4       pulsing  pulsing_names
N1       pulsing  pulsing_overload
N2       pulsing  pulsing_overload
N3       pulsing  pulsing_overload
N4       pulsing  pulsing_overload
P1       pulsing  pulsing_placement
P2       pulsing  pulsing_placement
P3       pulsing  pulsing_placement
'

usage() {
  echo "usage: bench/run.sh [--scale F] [WORKLOAD...]" >&2
  echo "workloads: $(awk 'NF && !seen[$1]++ { printf "%s ", $1 }' <<<"$table")" >&2
  exit 2
}

workloads=()
while (($#)); do
  case $1 in
    --scale) (($# >= 2)) || usage; scale=$2; shift 2 ;;
    -h | --help) usage ;;
    -*) usage ;;
    *) workloads+=("$1"); shift ;;
  esac
done
if ((${#workloads[@]} == 0)); then
  mapfile -t workloads < <(awk 'NF && !seen[$1]++ { print $1 }' <<<"$table")
fi
for w in "${workloads[@]}"; do
  awk -v w="$w" '$1 == w { found = 1 } END { exit !found }' <<<"$table" || usage
done

./scripts/install-deps.sh
echo "run.sh: building Release in $build" >&2
cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DPULSING_BUILD_BENCH=ON \
  -DPULSING_BUILD_TESTS=OFF -DPULSING_BUILD_EXAMPLES=OFF >&2
cmake --build "$build" --parallel "$(nproc)" >&2

# Summarises the JSON lines of one workload and system (flat objects of strings and numbers):
# the median value, every run's value, and the median of each other numeric field.
summarise() {
  awk '
    function median(list,   a, n, i, j, t) {
      n = split(list, a, " ")
      for (i = 2; i <= n; i++)  # insertion sort, numerically, keeping the printed form
        for (j = i; j > 1 && a[j - 1] + 0 > a[j] + 0; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
      return n % 2 ? a[(n + 1) / 2] : sprintf("%.1f", (a[n / 2] + a[n / 2 + 1]) / 2)
    }
    {
      line = $0
      while (match(line, /"[^"]+":("[^"]*"|[^,}]+)/)) {
        pair = substr(line, RSTART, RLENGTH)
        line = substr(line, RSTART + RLENGTH)
        key = pair; sub(/^"/, "", key); sub(/":.*/, "", key)
        val = pair; sub(/^"[^"]+":/, "", val)
        if (key in vals) vals[key] = vals[key] " " val
        else { keys[++nkeys] = key; vals[key] = val }
      }
    }
    END {
      split(vals["workload"], w, " "); split(vals["system"], s, " "); split(vals["unit"], u, " ")
      runs = vals["value"]; gsub(/ /, ", ", runs)
      printf "{\"workload\": %s, \"system\": %s, \"value\": %s, \"unit\": %s, \"runs\": [%s]",
             w[1], s[1], median(vals["value"]), u[1], runs
      for (k = 1; k <= nkeys; k++)
        if (vals[keys[k]] !~ /"/ && keys[k] != "value")
          printf ", \"%s\": %s", keys[k], median(vals[keys[k]])
      print "}"
    }'
}

# field_of KEY: the number a summary line holds under KEY (nothing if it has none).
field_of() { sed -n "s/.*\"$1\": *\([^,}]*\).*/\1/p"; }

# ratio WORKLOAD VS METRIC PULSING OTHER: one line, pulsing's figure divided by the other
# system's. METRIC is empty for `value`, else the field compared (e.g. p99_us).
ratio() {
  awk -v w="$1" -v vs="$2" -v m="$3" -v p="$4" -v o="$5" 'BEGIN {
    if (o + 0 == 0) exit
    metric = m == "" ? "" : sprintf(", \"metric\": \"%s\"", m)
    printf "{\"workload\": \"%s\", \"system\": \"ratio\", \"vs\": \"%s\"%s, \"value\": %.3f, \"unit\": \"x\"}\n",
           w, vs, metric, p / o
  }'
}

status=0
declare -A plain_medians=() plain_p99s=()  # pulsing's, per workload: what W5s–W7s cost over W5–W7
for w in "${workloads[@]}"; do
  # The systems of this workload whose program is built.
  systems=() programs=()
  while read -r tw ts tp; do
    [[ $tw == "$w" ]] || continue
    if [[ -x $bin/$tp ]]; then
      systems+=("$ts") programs+=("$tp")
    else
      echo "run.sh: $w: no $tp in $bin, skipping $ts" >&2
    fi
  done <<<"$table"

  # Interleaved (A1 B1 A2 B2 ...) so that machine noise hits every system alike; a fresh
  # process per run, so that peak RSS is per run.
  declare -A lines=() failed=()
  for ((r = 1; r <= runs; r++)); do
    for i in "${!systems[@]}"; do
      sys=${systems[i]}
      [[ -z ${failed[$sys]:-} ]] || continue
      echo "run.sh: $w $sys run $r/$runs" >&2
      if out=$(timeout 600 "$bin/${programs[i]}" --workload "$w" --scale "$scale") &&
        [[ $out == *'"value":'* ]]; then
        lines[$sys]+="$out"$'\n'
      else
        echo "run.sh: $w: ${programs[i]} failed (output: ${out:-none}); dropping $sys" >&2
        failed[$sys]=1
        status=1
      fi
    done
  done

  declare -A medians=() p99s=()
  for sys in "${systems[@]}"; do
    [[ -z ${failed[$sys]:-} ]] || continue
    summary=$(printf '%s' "${lines[$sys]}" | summarise)
    echo "$summary"
    medians[$sys]=$(field_of value <<<"$summary")
    p99s[$sys]=$(field_of p99_us <<<"$summary")
  done
  # pulsing / each other system that ran, in table order; and of p99 where both report one
  # (W6). For latencies (unit us) < 1 means pulsing is faster.
  if [[ -n ${medians[pulsing]:-} ]]; then
    for sys in "${systems[@]}"; do
      [[ $sys != pulsing && -n ${medians[$sys]:-} ]] || continue
      ratio "$w" "$sys" "" "${medians[pulsing]}" "${medians[$sys]}"
      if [[ -n ${p99s[pulsing]:-} && -n ${p99s[$sys]:-} ]]; then
        ratio "$w" "$sys" p99_us "${p99s[pulsing]}" "${p99s[$sys]}"
      fi
    done
  fi
  # The cost of security itself: pulsing with keys (W5s–W7s) against pulsing without (W5–W7),
  # when both ran in this run.
  if [[ -n ${medians[pulsing]:-} ]]; then
    plain_medians[$w]=${medians[pulsing]} plain_p99s[$w]=${p99s[pulsing]:-}
    if [[ $w == W[5-7]s && -n ${plain_medians[${w%s}]:-} ]]; then
      ratio "$w" "pulsing-plain" "" "${medians[pulsing]}" "${plain_medians[${w%s}]}"
      if [[ -n ${p99s[pulsing]:-} && -n ${plain_p99s[${w%s}]:-} ]]; then
        ratio "$w" "pulsing-plain" p99_us "${p99s[pulsing]}" "${plain_p99s[${w%s}]}"
      fi
    fi
  fi
  unset lines failed medians p99s
done
exit "$status"

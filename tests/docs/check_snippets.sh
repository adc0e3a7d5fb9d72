#!/usr/bin/env bash
# check_snippets.sh GUIDE ROOT
# Keeps the user guide's code true: every ```cpp block in GUIDE must be preceded by a marker
#   <!-- snippet: examples/calculator.cpp#quick-start -->
# and equal, byte for byte once common indentation is stripped, the region of that file (under
# ROOT) between the lines `// [guide:quick-start]` and `// [/guide:quick-start]` (marker lines
# of other regions inside it left out). A marker without `#region` stands for the whole file
# (the expected output of an example, say), and may precede a block of any language.
# Every region marked in ROOT/examples/*.cpp must be shown in the guide, so that no marker
# outlives its use. Prints each problem and fails if any.
set -uo pipefail
guide=$1
root=$2
problems=0

problem() {
  echo "check_snippets: $*" >&2
  problems=$((problems + 1))
}

# Prints stdin with the indentation common to its non-blank lines removed.
dedent() {
  awk '{ lines[NR] = $0
         if ($0 ~ /[^ ]/) { match($0, /^ */); if (min == "" || RLENGTH < min) min = RLENGTH } }
       END { for (i = 1; i <= NR; i++) print (lines[i] ~ /[^ ]/ ? substr(lines[i], min + 1) : "") }'
}

# region FILE NAME: prints the region's lines; fails (printing why) unless marked exactly once.
region() {
  local file=$1 name=$2
  awk -v name="$name" '
    { trimmed = $0; sub(/^[ \t]+/, "", trimmed); sub(/[ \t]+$/, "", trimmed) }
    trimmed == "// [guide:" name "]" { starts++; inside = 1; next }
    trimmed == "// [/guide:" name "]" { ends++; inside = 0; next }
    trimmed ~ /^\/\/ \[\/?guide:[A-Za-z0-9_-]+\]$/ { next }
    inside { print }
    END {
      if (starts != 1 || ends != 1) {
        printf "region \"%s\" is marked %d time(s) with a start and %d with an end, not once\n",
               name, starts, ends > "/dev/stderr"
        exit 1
      }
    }' "$file"
}

marker_re='^<!-- snippet: ([^# ]+)(#([A-Za-z0-9_-]+))? -->$'
mapfile -t lines <"$guide"
declare -A shown=()
n=${#lines[@]}
for ((i = 0; i < n; i++)); do
  line=${lines[i]}
  if [[ $line =~ $marker_re ]]; then
    path=${BASH_REMATCH[1]} name=${BASH_REMATCH[3]} at="$guide:$((i + 1))"
    what=$path${name:+#$name}
    shown["$what"]=1
    if [[ ${lines[i + 1]:-} != '```'?* ]]; then
      problem "$at: snippet marker for $what is not followed by a fenced block"
      continue
    fi
    block=()
    for ((j = i + 2; j < n; j++)); do
      [[ ${lines[j]} == '```' ]] && break
      block+=("${lines[j]}")
    done
    i=$j
    if [[ ! -f $root/$path ]]; then
      problem "$at: guide block $what: no such file $root/$path"
      continue
    fi
    if [[ -z $name ]]; then
      expected=$(<"$root/$path")
    elif ! expected=$(region "$root/$path" "$name" 2>&1); then
      problem "$at: guide block $what: $expected"
      continue
    fi
    expected=$(dedent <<<"$expected")
    actual=$(printf '%s\n' "${block[@]}" | dedent)
    if [[ $actual != "$expected" ]]; then
      problem "$at: guide block $what differs from the example (- example, + guide):"
      diff -u <(printf '%s\n' "$expected") <(printf '%s\n' "$actual") | tail -n +3 >&2
    fi
  elif [[ $line == '```cpp' ]]; then
    problem "$guide:$((i + 1)): a \`\`\`cpp block without a snippet marker (take it from an example)"
  fi
done

for file in "$root"/examples/*.cpp; do
  rel=${file#"$root"/}
  while read -r name; do
    [[ -n ${shown["$rel#$name"]:-} ]] || problem "$rel: region $name is marked but not shown in $guide"
  done < <(sed -n 's|^[[:space:]]*// \[guide:\([A-Za-z0-9_-]*\)\][[:space:]]*$|\1|p' "$file")
done

if ((problems > 0)); then
  echo "check_snippets: $problems problem(s); update the guide from the examples" >&2
  exit 1
fi
echo "check_snippets: ${#shown[@]} guide blocks match their examples"

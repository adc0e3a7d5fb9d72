#!/usr/bin/env bash
# The real docker-compose cluster (issue 6): builds a Debian base image with
# debootstrap (no image registry is reachable), the project's image from it, brings up
# docker/docker-compose.yml on a network with no way out, and checks what an operator would:
# 3/3 members alive on every node, "service" resolved and called from every node, the client
# container's run, a killed node seen dead and its names gone everywhere, and its rejoin.
# Tears everything down on exit, also on failure.
#
#   tests/docker/run.sh                 as root
#   PULSING_DOCKER_KEEP=1               keep the images (base and project) for the next run
#   PULSING_DOCKER_JOBS=N               compiler processes in the image build (default: nproc)
#
# Every command reaches the containers through `docker exec`: nothing here connects to a
# container's address from the machine's own network namespace, and no port is published.
set -euo pipefail
cd "$(dirname "$0")/../.."

started=$SECONDS
phase() { printf '== docker: %s  [%ds]\n' "$*" $((SECONDS - started)); }
fail() {
  echo "tests/docker: FAIL: $*" >&2
  exit 1
}

if [[ $(id -u) -ne 0 ]]; then
  echo "tests/docker: run as root (debootstrap, and possibly starting dockerd)" >&2
  exit 1
fi

keep=${PULSING_DOCKER_KEEP:-}
jobs=${PULSING_DOCKER_JOBS:-$(nproc)}
base_image=pulsing-test-base:bookworm
project=pulsingtest$$
export PULSING_TEST_IMAGE=pulsing-test:local
builder_image=pulsing-test-builder:local
work=$(mktemp -d /var/tmp/pulsing-docker.XXXXXX)
dockerd_pid=
compose_cmd=()
cluster_up=

# --- teardown -----------------------------------------------------------------------------
# Unmounts whatever debootstrap left mounted (a failed run can leave proc, sys or a bind of
# /dev inside its target) before deleting, and deletes without crossing into other filesystems.
remove_tree() {
  local dir=$1 mnt
  [[ -d $dir ]] || return 0
  while read -r mnt; do umount -l "$mnt" || true; done < <(awk -v d="$dir/" 'index($2, d) == 1 { print $2 }' /proc/mounts | sort -r)
  rm -rf --one-file-system "$dir"
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  if [[ -n $cluster_up ]]; then
    if ((rc != 0)); then
      echo "-- the nodes' last log lines"
      compose logs --no-color --tail=30 2>&1 | sed 's/^/   /'
    fi
    compose down -v --remove-orphans -t 5 >/dev/null 2>&1
  fi
  if [[ -z $keep ]]; then
    docker image rm -f "$PULSING_TEST_IMAGE" "$builder_image" "$base_image" >/dev/null 2>&1
  fi
  remove_tree "$work"
  if [[ -n $dockerd_pid ]]; then
    kill "$dockerd_pid" 2>/dev/null
    wait "$dockerd_pid" 2>/dev/null
  fi
  if ((rc == 0)); then phase "passed"; else phase "FAILED (exit $rc)"; fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- helpers ------------------------------------------------------------------------------
# wait_until SECONDS WHAT COMMAND...: runs COMMAND once a second until it succeeds. On timeout
# prints WHAT and what COMMAND last saw (it leaves that in $seen) and fails.
seen=
wait_until() {
  local limit=$1 what=$2 deadline=$((SECONDS + $1))
  shift 2
  until "$@"; do
    if ((SECONDS >= deadline)); then
      echo "timed out after ${limit}s waiting until $what; last seen:" >&2
      printf '%s\n' "$seen" | sed 's/^/   /' >&2
      return 1
    fi
    sleep 1
  done
}

compose() {
  "${compose_cmd[@]}" -p "$project" -f docker/docker-compose.yml -f tests/docker/compose.test.yml "$@"
}

# in NODE COMMAND...: runs a pulsing client command inside the node's container, against that
# node itself.
declare -A cid
in_node() {
  local node=$1
  shift
  docker exec "${cid[$node]}" "$@"
}

# members_json NODE: the member list as NODE sees it (JSON), or fails.
members_json() { in_node "$1" pulsing members --json --node 127.0.0.1:7000 2>&1; }

# member_states JSON: one "address state" line per member.
member_states() {
  python3 -c 'import json, sys
for m in json.loads(sys.argv[1]):
    print(m["address"], m["state"])' "$1"
}

# alive_count NODE N: NODE sees exactly N members alive.
alive_count() {
  local out
  out=$(members_json "$1") || { seen="$1: pulsing members failed: $out"; return 1; }
  seen="$1 sees:"$'\n'$(member_states "$out" | sed "s/^/  /")
  [[ $(member_states "$out" | awk '$2 == "alive"' | wc -l) -eq $2 ]]
}

# member_is NODE ADDRESS STATE: NODE sees the member at ADDRESS in STATE (and none alive there).
member_is() {
  local out states
  out=$(members_json "$1") || { seen="$1: pulsing members failed: $out"; return 1; }
  states=$(member_states "$out")
  seen="$1 sees:"$'\n'$states
  awk -v a="$2" -v s="$3" '$1 ~ a { n++; if ($2 == s) ok++; else if ($2 == "alive") bad++ }
                           END { exit !(ok > 0 && bad == 0) }' <<<"$states"
}

# resolves NODE NAME: NAME resolves through NODE.
resolves() {
  local out
  out=$(in_node "$1" pulsing resolve "$2" --node 127.0.0.1:7000 2>&1) && return 0
  seen="$1: resolve $2: $out"
  return 1
}

# gone NODE NAME: NODE answers that NAME is not found (exit 3), not merely that it failed.
gone() {
  local out rc=0
  out=$(in_node "$1" pulsing resolve "$2" --node 127.0.0.1:7000 2>&1) || rc=$?
  seen="$1: resolve $2: exit $rc: $out"
  ((rc == 3))
}

# ask_from NODE EXPECTED ARGS...: `pulsing ask ARGS...` through NODE prints EXPECTED.
ask_from() {
  local node=$1 expected=$2 out
  shift 2
  out=$(in_node "$node" pulsing ask "$@" --node 127.0.0.1:7000 2>&1) || fail "$node: pulsing ask $*: $out"
  [[ $out == "$expected" ]] || fail "$node: pulsing ask $* printed '$out', expected '$expected'"
  echo "   $node: ask $* -> $out"
}

exited() {
  local state
  state=$(docker inspect -f '{{.State.Status}} {{.State.ExitCode}}' "$1")
  seen="client container: $state"
  [[ $state == exited* ]]
}

# apt_mirror: the URI of the first enabled "deb" source of this machine serving bookworm main,
# read from its apt sources (one-line .list files and deb822 .sources files).
apt_mirror() {
  local f
  {
    for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
      [[ -r $f ]] || continue
      # deb [options] URI SUITE COMPONENT...
      awk '$1 == "deb" {
             i = 2; if ($i ~ /^\[/) { while (i < NF && $i !~ /\]$/) i++; i++ }
             if ($(i+1) == "bookworm") for (j = i + 2; j <= NF; j++) if ($j == "main") { print $i; exit }
           }' "$f"
    done
    for f in /etc/apt/sources.list.d/*.sources; do
      [[ -r $f ]] || continue
      # Stanzas separated by blank lines; field names are case-insensitive; a line starting
      # with white space continues a field (a Signed-By key block) and is skipped.
      awk 'function flush() {
             if (types ~ /(^| )deb( |$)/ && suites ~ /(^| )bookworm( |$)/ &&
                 comps ~ /(^| )main( |$)/ && enabled != "no" && uris != "") {
               split(uris, u, " "); print u[1]; done = 1; exit
             }
             types = suites = comps = uris = ""; enabled = "yes"
           }
           BEGIN { enabled = "yes" }
           /^[ \t]*#/ { next }
           /^[ \t]*$/ { flush(); next }
           /^[ \t]/ { next }
           { key = tolower($1); sub(/:$/, "", key); $1 = ""; sub(/^[ \t]+/, "")
             if (key == "types") types = $0; else if (key == "suites") suites = $0
             else if (key == "components") comps = $0; else if (key == "uris") uris = $0
             else if (key == "enabled") enabled = tolower($0) }
           END { if (!done) flush() }' "$f"
    done
  } | head -n1
}

# --- tools and engine ---------------------------------------------------------------------
phase "tools and engine"
need=()
command -v docker >/dev/null || need+=(docker.io)
if ! docker info >/dev/null 2>&1 && ! command -v dockerd >/dev/null; then need+=(docker.io); fi
command -v debootstrap >/dev/null || need+=(debootstrap)
command -v python3 >/dev/null || need+=(python3)
if ! docker compose version >/dev/null 2>&1 && ! command -v docker-compose >/dev/null; then
  need+=(docker-compose)
fi
# Only what is missing: a machine with another docker build must not get docker.io over it.
if ((${#need[@]} > 0)); then
  mapfile -t need < <(printf '%s\n' "${need[@]}" | sort -u)
  ./scripts/install-deps.sh "${need[@]}"
fi

if docker compose version >/dev/null 2>&1; then
  compose_cmd=(docker compose)
else
  compose_cmd=(docker-compose)
fi

if ! docker info >/dev/null 2>&1; then
  echo "   no engine answers: starting dockerd (log: $work/dockerd.log)"
  dockerd >"$work/dockerd.log" 2>&1 &
  dockerd_pid=$!
  engine_answers() {
    seen=$(tail -n 5 "$work/dockerd.log")
    kill -0 "$dockerd_pid" 2>/dev/null || fail "dockerd exited: $seen"
    docker info >/dev/null 2>&1
  }
  wait_until 60 "the docker engine answers" engine_answers
fi
echo "   engine $(docker version -f '{{.Server.Version}}'), compose: ${compose_cmd[*]} ($("${compose_cmd[@]}" version --short 2>/dev/null || echo '?'))"

# --- base image ---------------------------------------------------------------------------
if [[ -n $keep ]] && docker image inspect "$base_image" >/dev/null 2>&1; then
  phase "base image $base_image (kept from an earlier run)"
else
  mirror=$(apt_mirror)
  [[ -n $mirror ]] || fail "no 'bookworm main' deb source in /etc/apt/sources.list{,.d/*.list,.d/*.sources}"
  phase "base image: debootstrap --variant=minbase bookworm from the machine's apt mirror"
  include=()
  [[ $mirror == https:* ]] && include=(--include=ca-certificates)  # so apt in the image can verify it
  rootfs=$work/rootfs
  debootstrap --variant=minbase "${include[@]}" bookworm "$rootfs" "$mirror" >"$work/debootstrap.log" 2>&1 ||
    { tail -n 20 "$work/debootstrap.log" >&2; fail "debootstrap failed"; }
  # Downloaded packages and indexes are dead weight (the image's builds fetch fresh indexes);
  # docker provides resolv.conf and the host name.
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/*
  rm -f "$rootfs"/etc/resolv.conf "$rootfs"/etc/hostname
  tar -C "$rootfs" -c . | docker import - "$base_image" >/dev/null
  remove_tree "$rootfs"
  echo "   $base_image: $(docker image inspect -f '{{.Size}}' "$base_image" | awk '{printf "%d MB", $1 / 1e6}')"
fi

# --- project image ------------------------------------------------------------------------
phase "project image (docker/Dockerfile FROM $base_image, $jobs jobs)"
# Both builds below read one snapshot of the working tree, so that edits made meanwhile cannot
# make them differ (.dockerignore in it still filters what is sent).
mkdir "$work/src"
tar -C . --exclude='./build*' --exclude=./.git -c . | tar -C "$work/src" -x
build() {
  docker build -f "$work/src/docker/Dockerfile" --build-arg BASE_IMAGE="$base_image" \
    --build-arg JOBS="$jobs" "$@" "$work/src" >"$work/build.log" 2>&1 ||
    { tail -n 40 "$work/build.log" >&2; fail "docker build $* failed (log above)"; }
}
# The builder stage gets a tag of its own, so that teardown removes it (the legacy builder
# leaves it behind untagged) and a kept one serves as the next run's cache.
# A kept run replaces the images of the one before: those are removed once untagged.
old_images=$(docker image inspect -f '{{.Id}}' "$builder_image" "$PULSING_TEST_IMAGE" 2>/dev/null || true)
t=$SECONDS
build --target builder -t "$builder_image"
echo "   builder stage: $((SECONDS - t))s$(grep -q 'Linking CXX executable cli/pulsing' "$work/build.log" || echo ' (cached)')"
t=$SECONDS
build -t "$PULSING_TEST_IMAGE"
echo "   runtime stage: $((SECONDS - t))s; $PULSING_TEST_IMAGE:" \
  "$(docker image inspect -f '{{.Size}}' "$PULSING_TEST_IMAGE" | awk '{printf "%d MB", $1 / 1e6}')"
for id in $old_images; do
  [[ -n $(docker image inspect -f '{{.RepoTags}}' "$id" 2>/dev/null | tr -d '[]') ]] ||
    docker image rm "$id" >/dev/null 2>&1 || true
done
user=$(docker image inspect -f '{{.Config.User}}' "$PULSING_TEST_IMAGE")
[[ -n $user && $user != root && $user != 0 ]] || fail "the image runs as '${user:-root}', not as a non-root user"

# --- the cluster --------------------------------------------------------------------------
phase "cluster up (compose project $project, internal network)"
cluster_up=1
compose up -d --no-build 2>&1 | sed 's/^/   /'
for node in node1 node2 node3 client; do
  cid[$node]=$(compose ps -a -q "$node")
  [[ -n ${cid[$node]} ]] || fail "no container for $node"
done

phase "3/3 members alive on every node"
for node in node1 node2 node3; do
  wait_until 60 "$node sees 3 members alive" alive_count "$node" 3
done
echo "   node1 sees:"
member_states "$(members_json node1)" | sed 's/^/     /'

phase "the keygen service made the cluster key, and every node seals its gossip with it"
keygen=$(compose ps -a -q keygen)
[[ $(docker inspect -f '{{.State.ExitCode}}' "$keygen") == 0 ]] || fail "the keygen service failed"
key_id=
for node in node1 node2 node3; do
  line=$(docker logs "${cid[$node]}" 2>&1 | grep -o 'gossip sealed with cluster key [0-9a-f]*' || true)
  [[ -n $line ]] || fail "$node did not say that it seals its gossip"
  [[ -z $key_id || $key_id == "${line##* }" ]] || fail "$node uses key ${line##* }, another node $key_id"
  key_id=${line##* }
done
echo "   node1, node2, node3: gossip sealed with cluster key $key_id"

# healthy NODE: the image's HEALTHCHECK (pulsing health, GET /health) passes in NODE.
healthy() {
  seen="$1: $(docker inspect -f '{{.State.Health.Status}}' "${cid[$1]}")"
  [[ $seen == *": healthy" ]]
}
for node in node1 node2 node3; do
  wait_until 60 "docker reports $node healthy" healthy "$node"
done
echo "   docker: node1, node2, node3 healthy"

phase "the client container resolves \"service\" through node2, calls it and exits 0"
wait_until 90 "the client container exits" exited "${cid[client]}"
client_log=$(docker logs "${cid[client]}" 2>&1)
sed 's/^/   client| /' <<<"$client_log"
code=$(docker inspect -f '{{.State.ExitCode}}' "${cid[client]}")
((code == 0)) || fail "the client container exited $code"
grep -q -- '-> 15$' <<<"$client_log" || fail "the client's second add did not answer 15"

phase "\"service\" resolves and answers from every node"
total=15 # the client's two adds
for node in node1 node2 node3; do
  wait_until 30 "\"service\" resolves through $node" resolves "$node" service
  total=$((total + 1))
  ask_from "$node" "$total" service add 1
done
ask_from node2 '"hi"' echo echo '"hi"'

phase "docker kill node1 (it hosts \"service\"): dead and its names gone everywhere"
# The times shown are for the reader (to the second), not assertions.
t=$SECONDS
docker kill "${cid[node1]}" >/dev/null
for node in node2 node3; do
  wait_until 60 "$node sees node1 dead" member_is "$node" '^node1:' dead
  echo "   $node: node1 dead ($((SECONDS - t))s after the kill)"
  wait_until 60 "\"service\" is gone as $node sees it" gone "$node" service
  echo "   $node: \"service\" not found ($((SECONDS - t))s)"
done

phase "docker start node1: it rejoins, 3/3 alive, its names back"
t=$SECONDS
docker start "${cid[node1]}" >/dev/null
for node in node1 node2 node3; do
  wait_until 60 "$node sees 3 members alive" alive_count "$node" 3
  wait_until 30 "\"service\" resolves through $node" resolves "$node" service
  echo "   $node: 3 alive, \"service\" resolves ($((SECONDS - t))s after the start)"
done
# A fresh calculator: the restarted node built its services anew.
ask_from node3 1 service add 1
ask_from node2 2 service add 1

phase "docker stop node3 (SIGTERM): it leaves, the others see \"left\", not \"dead\""
docker stop -t 30 "${cid[node3]}" >/dev/null
code=$(docker inspect -f '{{.State.ExitCode}}' "${cid[node3]}")
((code == 0)) || fail "node3 exited $code after SIGTERM, not 0"
for node in node1 node2; do
  wait_until 30 "$node sees node3 left" member_is "$node" '^node3:' left
  echo "   $node: node3 left"
done

#!/usr/bin/env bash
# Builds bench/membership/memberlist_node against Debian's memberlist 0.2.2.
#
#   bench/membership/build_memberlist.sh [OUTPUT]   (default: build-bench/membership/memberlist_node)
#
# Installs golang-go and golang-github-hashicorp-memberlist-dev (which pulls in
# the golang-*-dev packages memberlist imports) plus golang-golang-x-sys-dev
# when any is missing, then builds in GOPATH mode: Debian's Go sources live
# under /usr/share/gocode, and our program sits in a temporary GOPATH entry.
# Nothing is written inside the source tree except OUTPUT.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
out="${1:-build-bench/membership/memberlist_node}"
case "$out" in /*) ;; *) out="$repo/$out" ;; esac

"$repo/scripts/ensure-packages.sh" golang-go golang-github-hashicorp-memberlist-dev golang-golang-x-sys-dev

GO=go
command -v go >/dev/null 2>&1 || GO=/usr/lib/go/bin/go

tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/src/pulsingbench"
cp -r "$here/memberlist_node" "$tmp/src/pulsingbench/memberlist_node"
mkdir -p "$(dirname "$out")"

cd "$tmp/src/pulsingbench/memberlist_node"
GO111MODULE=off GOPATH="$tmp:/usr/share/gocode" GOFLAGS= \
    GOCACHE="${GOCACHE:-$(dirname "$out")/go-cache}" \
    "$GO" build -o "$out" .
echo "build_memberlist: built $out" >&2

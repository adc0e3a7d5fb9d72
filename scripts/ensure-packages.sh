#!/usr/bin/env bash
# Installs those of the Debian packages named that are not installed yet (apt-get, as root or
# through sudo): what the benchmark scripts need beyond scripts/install-deps.sh.
#   scripts/ensure-packages.sh PACKAGE...
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
((${#missing[@]})) || exit 0
echo "ensure-packages: installing ${missing[*]}" >&2
SUDO=""
[[ $(id -u) == 0 ]] || SUDO=sudo
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >&2

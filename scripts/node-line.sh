#!/usr/bin/env bash
# node-line.sh VERSION [ARCH]: prints the bin directory of Node.js VERSION for
# linux-ARCH (x64, the default, or arm64), fetched once from the npm registry's
# `node-linux-ARCH` package (the only registry CI can reach; nodejs.org is not)
# into ~/.cache/shitu-node/node-VERSION (node-arm64-VERSION for arm64). An arm64
# binary is checked through qemu-user on an x86-64 machine.
set -euo pipefail
v=$1
arch=${2:-x64}
case "$arch" in
  x64) tag=""; run=() ;;
  arm64) tag="arm64-"; run=(); [ "$(uname -m)" = aarch64 ] || run=(qemu-aarch64-static) ;;
  *) echo "node-line.sh: ARCH must be x64 or arm64, not $arch" >&2; exit 2 ;;
esac
cache=${XDG_CACHE_HOME:-$HOME/.cache}/shitu-node
dir="$cache/node-$tag$v"
if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.node-$tag$v.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  tgz=$(cd "$tmp" && npm pack "node-linux-$arch@$v" --loglevel=error | tail -1)
  tar -C "$tmp" -xzf "$tmp/$tgz"
  rm -rf "$dir" && mv "$tmp/package" "$dir"
fi
"${run[@]}" "$dir/bin/node" --version >/dev/null
echo "$dir/bin"

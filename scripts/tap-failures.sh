#!/usr/bin/env bash
# Prints every failed assertion of the last tap run, with its diagnostics, from
# the results tap keeps under .tap/test-results/. CI shows only the tail of a
# long log: without this summary at the end, a single failure among 4,000
# assertions is printed far above what anyone gets to read.
set -uo pipefail
cd "$(dirname "$0")/.."
found=0
# Results sit under the test files' folders (test/server/…): ** at any depth.
shopt -s globstar nullglob
for f in .tap/test-results/**/*.tap; do
  [ -f "$f" ] || continue
  grep -q '^ *not ok ' "$f" || continue
  found=1
  echo "[failures] ${f#.tap/test-results/}"
  # A failure line and its YAML block (the indented lines between "---" and
  # "..."); a failed subtest's parents fail too and are listed after it.
  awk '
    /^ *not ok / {
      print "[failures]   " $0
      yaml = 1; next
    }
    yaml && /^ *---$/ { inblock = 1 }
    yaml && inblock { print "[failures]     " $0 }
    yaml && inblock && /^ *\.\.\.$/ { inblock = 0; yaml = 0 }
    yaml && !inblock && !/^ *---$/ { yaml = 0 }
  ' "$f" | head -n 200
done
[ "$found" = 1 ] || echo "[failures] none recorded under .tap/test-results"

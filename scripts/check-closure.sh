#!/usr/bin/env bash
# Checks that a directory of shared objects is self-contained: `ldd` of every
# ELF file in it resolves each dependency either to a file in that directory or
# to the glibc / libstdc++ / libgcc_s baseline that every Linux system has.
#   check-closure.sh DIR        prints the closure; exits 1 naming any other library
set -euo pipefail
dir=$(cd "$1" && pwd -P)
BASELINE='^(linux-vdso\.so\.1|ld-linux-x86-64\.so\.2|/lib64/ld-linux-x86-64\.so\.2|libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libstdc\+\+\.so\.6|libgcc_s\.so\.1)$'
bad=0
for f in "$dir"/*; do
  head -c 4 "$f" | grep -q $'\x7fELF' || continue
  while read -r name arrow target _; do
    [ -z "$name" ] && continue
    if [ "$arrow" != "=>" ]; then target=$name; fi      # vdso / the loader itself
    if [[ "$name" =~ $BASELINE ]]; then
      echo "$(basename "$f"): $name (baseline)"
    elif [ "$target" = "not" ]; then
      echo "$(basename "$f"): $name NOT FOUND"; bad=1
    elif [ "$(dirname "$(readlink -f "$target")")" = "$dir" ]; then
      echo "$(basename "$f"): $name => beside it"
    else
      echo "$(basename "$f"): $name => $target OUTSIDE the package"; bad=1
    fi
  done < <(ldd "$f" | sed 's/^\s*//; s/ (0x[0-9a-f]*)$//')
done
exit $bad

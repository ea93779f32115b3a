#!/usr/bin/env bash
# The dynamic closure of a directory of shared objects (`ldd` of every ELF file
# in it): each dependency must resolve either to a file in that directory or to
# the glibc / libstdc++ / libgcc_s baseline that every Linux system has.
#   check-closure.sh DIR            prints the closure; exits 1 naming any other library
#   check-closure.sh --bundle DIR   first copies every other library into DIR (under
#                                   its SONAME, RUNPATH set to $ORIGIN), as auditwheel does
# Works on a directory of another architecture too (the cross-built linux-arm64
# prebuild on an x86-64 machine): its files are listed by that architecture's
# own loader (ld.so --list is what ldd runs) through qemu-user, against the
# multiarch libraries installed beside the host's (lib*:arm64).
set -euo pipefail
bundle=0
if [ "${1:-}" = "--bundle" ]; then bundle=1; shift; fi
dir=$(cd "$1" && pwd -P)
BASELINE='^(linux-vdso\.so\.1|ld-linux-x86-64\.so\.2|/lib64/ld-linux-x86-64\.so\.2|ld-linux-aarch64\.so\.1|/lib/ld-linux-aarch64\.so\.1|libc\.so\.6|libm\.so\.6|libdl\.so\.2|libpthread\.so\.0|librt\.so\.1|libstdc\+\+\.so\.6|libgcc_s\.so\.1)$'

is_elf() { head -c 4 "$1" | grep -q $'\x7fELF'; }
# e_machine, bytes 18-19 of the ELF header (little-endian): 183 is AArch64.
is_aarch64() { [ "$(od -An -tu2 -j18 -N2 "$1" | tr -d ' ')" = 183 ]; }
list() {
  if is_aarch64 "$1" && [ "$(uname -m)" != aarch64 ]; then
    qemu-aarch64-static /lib/ld-linux-aarch64.so.1 --list "$1"
  else
    ldd "$1"
  fi
}
# qemu-user's vDSO has no name: its line is just an address, dropped here.
deps() { list "$1" | sed 's/^\s*//; s/ (0x[0-9a-f]*)$//' | grep -v '^(0x[0-9a-f]*)$' || true; }

if [ $bundle = 1 ]; then
  # ldd lists the whole closure of each file, so one pass over the originals suffices.
  for f in "$dir"/*; do
    is_elf "$f" || continue
    while read -r name arrow target _; do
      [ "$arrow" = "=>" ] || continue
      [[ "$name" =~ $BASELINE ]] && continue
      [ "$target" = "not" ] && { echo "check-closure: $(basename "$f") needs $name, not found on this system" >&2; exit 1; }
      [ "$(dirname "$(readlink -f "$target")")" = "$dir" ] && continue
      [ -e "$dir/$name" ] && continue
      cp "$(readlink -f "$target")" "$dir/$name"
      chmod u+w "$dir/$name"
      patchelf --set-rpath '$ORIGIN' "$dir/$name"
    done < <(deps "$f")
  done
fi

bad=0
for f in "$dir"/*; do
  is_elf "$f" || continue
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
  done < <(deps "$f")
done
exit $bad

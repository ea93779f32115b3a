#!/usr/bin/env bash
# Lets this x86-64 kernel run arm64 programs: binfmt_misc mounted and
# qemu-user-static's qemu-aarch64 entry enabled (its F flag opens the emulator
# at registration, so it also runs programs inside a chroot that has no qemu).
# Root only; changes nothing when already set up. Exits 1 with the reason when
# the kernel or the sandbox refuses.
set -euo pipefail
entry=/proc/sys/fs/binfmt_misc/qemu-aarch64
if [ ! -e /proc/sys/fs/binfmt_misc/register ]; then
  mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>/dev/null ||
    { echo "binfmt-arm64: cannot mount binfmt_misc (no CONFIG_BINFMT_MISC, or not allowed here)" >&2; exit 1; }
fi
if [ ! -e "$entry" ]; then
  update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || update-binfmts --import qemu-aarch64 >/dev/null 2>&1 || true
fi
grep -qx enabled "$entry" 2>/dev/null || { echo "binfmt-arm64: qemu-aarch64 could not be registered with binfmt_misc" >&2; exit 1; }
grep -q '^flags: .*F' "$entry" || { echo "binfmt-arm64: qemu-aarch64 is registered without the F flag: chroots cannot use it" >&2; exit 1; }

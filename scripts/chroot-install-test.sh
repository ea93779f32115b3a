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
#   sudo scripts/chroot-install-test.sh path/to/shitu-node-X.tgz
# Root is needed (debootstrap, chroot, mounts). /proc and /dev are mounted in a
# private mount namespace (unshare -m): they vanish with it, whatever happens.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
tgz=$(readlink -f "$1")
[ "$(id -u)" = 0 ] || { echo "chroot-install-test: run as root" >&2; exit 1; }
command -v debootstrap >/dev/null || {
  apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends debootstrap >/dev/null; }
shared=$(node -e "console.log(require('./dist/lib/util/shared-dir').findSharedDir() || '')")
[ -n "$shared" ] || { echo "chroot-install-test: shared models and photos not found (SHITU_SHARED_DIR)" >&2; exit 1; }

# The bare system, bootstrapped once per machine and kept as a tarball.
cache=${XDG_CACHE_HOME:-$HOME/.cache}/shitu-node
base="$cache/bookworm-minbase.tar"
mirror=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
mkdir -p "$cache"
if [ ! -f "$base" ]; then
  echo "[chroot] debootstrap --variant=minbase bookworm"
  boot=$(mktemp -d)
  debootstrap --variant=minbase bookworm "$boot" "${mirror:-http://deb.debian.org/debian}" >"$cache/debootstrap.log" 2>&1 ||
    { tail -20 "$cache/debootstrap.log"; rm -rf "$boot"; exit 1; }
  tar -C "$boot" -cf "$base.tmp" . && mv "$base.tmp" "$base"
  rm -rf "$boot"
fi

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
cp /usr/bin/node "$sys/usr/bin/node"
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
set +e
unshare -m bash -c '
  set -e
  mount --make-rprivate /
  mount -t proc proc "$1/proc"
  mount --rbind /dev "$1/dev"
  chroot "$1" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin \
    NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt SHITU_SHARED_DIR=/shared npm_config_update_notifier=false \
    /bin/bash /check/inside-chroot.sh "/pkg/$2" "${@:3}"
' _ "$sys" "$(basename "$tgz")" "${extra[@]}"
rc=$?
set -e
[ $rc = 0 ] && echo "[chroot] all checks passed" || echo "[chroot] FAILED (exit $rc)"
exit $rc

#!/usr/bin/env bash
# Idempotent: PostgreSQL 15 (Debian's postgresql-15 + postgresql-server-dev-15)
# when missing, and pgvector 0.8.0 built from Debian trixie's source package
# (bookworm has none) against it with PGXS, when `vector` is not installed yet.
# The source is fetched with a private deb-src list: the system's apt
# configuration is left as it is. Used by scripts/setup.sh (CI) and by the
# PostgreSQL tests' helper.
set -euo pipefail

PGVECTOR_VERSION=0.8.0
PG_MAJOR=15
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi

missing=()
for p in postgresql-$PG_MAJOR postgresql-server-dev-$PG_MAJOR dpkg-dev; do
  # This machine's architecture (or arch: all): an arm64 -dev package installed
  # for the cross build must not count as the native one.
  dpkg-query -W -f='${Status} ${Architecture}\n' "$p" 2>/dev/null | grep -Eq "^install ok installed ($(dpkg --print-architecture)|all)$" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[postgres] installing: ${missing[*]}"
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PG_CONFIG=/usr/lib/postgresql/$PG_MAJOR/bin/pg_config
ext_dir="$($PG_CONFIG --sharedir)/extension"
if [ -f "$ext_dir/vector--$PGVECTOR_VERSION.sql" ] && [ -f "$($PG_CONFIG --pkglibdir)/vector.so" ]; then
  exit 0
fi

echo "[postgres] building pgvector $PGVECTOR_VERSION from Debian trixie's source package"
work=$(mktemp -d /tmp/shitu-pgvector.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/apt/lists/partial"
uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$uri" ] || uri=http://deb.debian.org/debian
cat > "$work/apt/trixie-src.sources" <<SRC
Types: deb-src
URIs: $uri
Suites: trixie
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
APT_OPTS=(-o APT::Sandbox::User=root -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/apt" -o "Dir::State::Lists=$work/apt/lists" -o DPkg::Lock::Timeout=600)
apt-get "${APT_OPTS[@]}" update -qq
(cd "$work" && apt-get "${APT_OPTS[@]}" source --download-only -qq pgvector >/dev/null)
tarball=$(ls "$work"/pgvector_"$PGVECTOR_VERSION".orig.tar.* | head -1)
mkdir -p "$work/src"
tar -xf "$tarball" -C "$work/src" --strip-components=1
# OPTFLAGS: no -march=native, so the build runs on any x86-64 machine.
make -C "$work/src" -s PG_CONFIG=$PG_CONFIG OPTFLAGS="" -j2 >/dev/null
$SUDO make -C "$work/src" -s PG_CONFIG=$PG_CONFIG install >/dev/null
echo "[postgres] pgvector $PGVECTOR_VERSION installed"

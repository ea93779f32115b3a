#!/usr/bin/env bash
# Idempotent set-up used by both README commands: system packages (apt) when
# missing, npm ci when the lockfile changed, the native build, the TypeScript build.
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  cmake g++ make pkg-config patchelf
  libfaiss-dev libopenblas0-pthread
  libopencv-core-dev libopencv-imgproc-dev libopencv-imgcodecs-dev libjpeg-dev
  libfreetype-dev fonts-noto-cjk
)
# Only the tests need these; `npm run demo` does not.
if [ "${npm_lifecycle_event:-}" != demo ]; then
  APT_PACKAGES+=(
    chromium  # the browser test of the web app (test/web/page.test.ts)
    python3-yaml python3-numpy  # tests: PaddleX's own YAML (PyYAML) and pickles (numpy)
  )
fi

missing=()
for p in "${APT_PACKAGES[@]}"; do
  # This machine's architecture (or arch: all): an arm64 -dev package installed
  # for the cross build must not count as the native one.
  dpkg-query -W -f='${Status} ${Architecture}\n' "$p" 2>/dev/null | grep -Eq "^install ok installed ($(dpkg --print-architecture)|all)$" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[setup] installing system packages: ${missing[*]}"
  SUDO=""
  if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends -o DPkg::Lock::Timeout=600 "${missing[@]}" >/dev/null
fi

# PostgreSQL 15 + pgvector 0.8.0 for the PostgreSQL index store's tests and
# bench (when missing); `npm run demo` does not need them.
if [ "${npm_lifecycle_event:-}" != demo ]; then bash scripts/install-postgres.sh; fi

# npm ci only when package-lock.json changed since the last install.
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -d node_modules ] || [ "$(cat node_modules/.shitu-lock-hash 2>/dev/null)" != "$lock_hash" ]; then
  echo "[setup] npm ci"
  # onnxruntime-node (a benchmark peer) would download CUDA providers from nuget.org at install.
  ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund --loglevel=error
  echo "$lock_hash" > node_modules/.shitu-lock-hash
fi

echo "[setup] native build (cmake-js)"
npx cmake-js compile --out build >/tmp/shitu-native-build.log 2>&1 || {
  tail -60 /tmp/shitu-native-build.log; echo "[setup] native build failed (full log: /tmp/shitu-native-build.log)"; exit 1; }

echo "[setup] TypeScript build"
npx tsc -p tsconfig.json
node scripts/write-esm-entry.js

echo "[setup] web app build"
node scripts/build-web.js

#!/bin/bash
# Runs inside the bare Debian chroot of scripts/chroot-install-test.sh:
#   inside-chroot.sh /pkg/shitu-node-X.tgz [/opt/node-vN/bin/node ...]
# Shared stand-ins in /shared, these checks in /check.
set -euo pipefail
tgz=$1
shift
images=/shared/data/images
plat=$(node -p 'process.platform + "-" + process.arch')
step() { echo "[chroot] $*"; }

step "bare system: $(. /etc/os-release; echo "$PRETTY_NAME"), glibc $(ldd --version | head -1 | awk '{print $NF}')," \
  "compiler: $(command -v c++ g++ cc gcc 2>/dev/null | head -1 || true)$(command -v c++ g++ cc gcc >/dev/null 2>&1 || echo none)," \
  "node $(node --version), npm $(npm --version)"

mkdir -p /app && cd /app
npm init -y >/dev/null
start=$(date +%s.%N)
npm install --no-audit --no-fund --loglevel=warn "$tgz" 2>&1 | tee /tmp/install.log
end=$(date +%s.%N)
step "install time: $(awk -v a="$start" -v b="$end" 'BEGIN {printf "%.1f", b - a}') s"
step "installed size: node_modules $(du -sh node_modules | cut -f1) ($(du -sb node_modules | cut -f1) bytes)"
pkgdir=node_modules/shitu-node
if grep -q EBADENGINE /tmp/install.log; then echo "the install warned of an engine mismatch"; exit 1; fi
if [ -e "$pkgdir/build" ]; then echo "install compiled something ($pkgdir/build exists)"; exit 1; fi

cp /check/smoke.cjs /check/smoke.mjs /check/workers.cjs /check/throughput.cjs /app/   # 'shitu-node' resolves from the app
step "require:"; node /app/smoke.cjs "$images"
step "import:"; node /app/smoke.mjs "$images"

for other in "$@"; do
  step "$("$other" --version): require and import:"
  "$other" /app/smoke.cjs "$images"
  "$other" /app/smoke.mjs "$images"
done

step "CLI:"
npx shitu --version
npx shitu build-index --config "$pkgdir/models/standin.yaml" --gallery "$images" \
  --labels "$pkgdir/examples/gallery_labels.txt" --out /tmp/index >/dev/null
npx shitu predict --config "$pkgdir/models/standin.yaml" --index /tmp/index --save-img /tmp/out \
  "$images/drink_test_images/100.jpeg" >/tmp/predict.json
head -c 400 /tmp/predict.json; echo
grep -q '"labels"' /tmp/predict.json || { echo "shitu predict printed no labels"; exit 1; }
ls /tmp/out/100_res.jpeg >/dev/null

step "worker_threads:"
# Kept in /check: the arm64 run's boxes are compared with x64's outside the chroot.
node /app/workers.cjs "$pkgdir/models/standin.yaml" "$images" "$pkgdir/examples/gallery_labels.txt" >/check/workers.json
head -c 300 /check/workers.json; echo

step "throughput ($plat${SHITU_EMULATION:+, EMULATED by $SHITU_EMULATION}):"
node /app/throughput.cjs "$pkgdir/models/standin.yaml" "$images" "$pkgdir/examples/gallery_labels.txt" 10

step "ldd closure of $pkgdir/prebuilds/$plat:"
bash /check/check-closure.sh "$pkgdir/prebuilds/$plat"
step "shipped: $(cd "$pkgdir/prebuilds/$plat" && ls -s --block-size=K | tr '\n' ' ')"

step "from source, prerequisites missing:"
mkdir -p /app2 && cd /app2 && npm init -y >/dev/null
if npm install --no-audit --no-fund --build-from-source "$tgz" >/tmp/source.log 2>&1; then
  echo "a from-source install without a compiler succeeded?"; exit 1
fi
line=$(grep -o 'shitu-node: cannot build from source.*' /tmp/source.log | head -1)
echo "$line"
[[ "$line" == *"run: sudo apt-get install -y cmake g++ make patchelf"* ]] || { cat /tmp/source.log; exit 1; }
if grep -q "CMake Error" /tmp/source.log; then echo "raw CMake error shown"; exit 1; fi

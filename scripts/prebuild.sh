#!/usr/bin/env bash
# `npm run prebuild`: the self-contained linux-x64 (glibc) binary shipped in the
# tarball under prebuilds/linux-x64/:
#   shitu.node            OpenCV (core, imgproc, imgcodecs: JPEG PNG WebP TIFF BMP),
#                         FAISS, OpenBLAS (+ its Fortran runtime), FreeType and the
#                         image codecs linked in statically, their symbols hidden
#   libonnxruntime.so.1   ONNX Runtime (SONAME renamed, dlopened by absolute path)
#   libonnxruntime_providers_shared.so   lets GPU providers be added beside it
#   lib*.so.N             what is not linked in: GCC's OpenMP and Fortran runtimes
#                         (FAISS, OpenBLAS's LAPACK) and the image codec libraries,
#                         whose Debian archives are not position-independent
#                         (see README "Install"); copied with RUNPATH=$ORIGIN
#   manifest.json         the oldest glibc it needs, read by scripts/install.js
# Everything else it loads is the glibc / libstdc++ / libgcc_s baseline: checked
# with ldd at the end (scripts/check-closure.sh). Installs missing build packages
# with apt (as root or through sudo); the static OpenCV is built once and cached
# (scripts/build-opencv.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

APT_PACKAGES=(
  cmake g++ make patchelf xz-utils
  libfaiss-dev libopenblas-dev libgfortran-12-dev libfreetype-dev libbrotli-dev
  libjpeg62-turbo-dev libpng-dev libwebp-dev libtiff-dev zlib1g-dev
)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  # This machine's architecture (or arch: all): an arm64 -dev package installed
  # for the cross build must not count as the native one.
  dpkg-query -W -f='${Status} ${Architecture}\n' "$p" 2>/dev/null | grep -Eq "^install ok installed ($(dpkg --print-architecture)|all)$" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[prebuild] installing build packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

opencv=$(bash scripts/build-opencv.sh | tail -1)

echo "[prebuild] static addon build (cmake-js, build-prebuild/)"
log=build-prebuild.log
nice -n 10 npx cmake-js compile --out build-prebuild --CDSHITU_STATIC=ON --CDSHITU_OPENCV_DIR="$opencv" >"$log" 2>&1 || {
  tail -60 "$log"; echo "[prebuild] build failed (full log: $log)"; exit 1; }

out=prebuilds/linux-x64
rm -rf "$out"
mkdir -p "$out"
cp build-prebuild/Release/shitu.node build-prebuild/Release/libonnxruntime.so.1 "$out/"
[ -f build-prebuild/Release/libonnxruntime_providers_shared.so ] && cp build-prebuild/Release/libonnxruntime_providers_shared.so "$out/"
# The shared libraries it still needs (see CMakeLists.txt: codecs, GCC runtimes) go beside it.
bash scripts/check-closure.sh --bundle "$out" >/dev/null

# The oldest glibc that all shipped files accept: the highest GLIBC_x.y they ask for.
glibc=$(for f in "$out"/*; do objdump -T "$f" 2>/dev/null; done | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
glibcxx=$(for f in "$out"/*; do objdump -T "$f" 2>/dev/null; done | grep -o 'GLIBCXX_[0-9][0-9.]*' | sed 's/GLIBCXX_//' | sort -V | tail -1)
node -e "
const fs = require('fs');
const files = fs.readdirSync('$out').sort();
fs.writeFileSync('$out/manifest.json', JSON.stringify({ platform: 'linux-x64', libc: 'glibc', glibc: '$glibc', glibcxx: '$glibcxx',
  opencv: '$(basename "$opencv")', files: Object.fromEntries(files.map((f) => [f, fs.statSync('$out/' + f).size])) }, null, 2) + '\n');"

echo "[prebuild] dynamic closure (ldd):"
bash scripts/check-closure.sh "$out"
echo "[prebuild] $out: $(du -sh "$out" | cut -f1), needs glibc >= $glibc and libstdc++ with GLIBCXX_$glibcxx"

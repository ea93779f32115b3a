#!/usr/bin/env bash
# `npm run prebuild [-- --arch arm64]`: the self-contained linux-x64 (glibc)
# binary shipped in the tarball under prebuilds/linux-x64/, or with --arch arm64
# its linux-arm64 sibling, cross-compiled here (see "arm64" below):
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
#
# arm64: the same sources and the same link recipe, cross-compiled on x86-64
# Debian with crossbuild-essential-arm64 (scripts/cross/aarch64-linux-gnu.cmake)
# against Debian's arm64 packages installed through multiarch beside the x86-64
# ones (libfaiss-dev:arm64 and the rest: the same versions, so both coexist).
# OpenBLAS is Debian's DYNAMIC_ARCH build, which picks its kernels (Cortex-A53/
# A57/A72, Neoverse N1, ThunderX ...) at run time as on x86-64. ONNX Runtime
# for arm64 is the library inside the npm package onnxruntime-node (the
# asus4 package carries none), at the version of the x64 one: ORT 1.29.0 with
# our API-29 headers. The closure check runs the arm64 loader through qemu-user.
set -euo pipefail
cd "$(dirname "$0")/.."

ARCH=x64
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) ARCH=$2; shift 2 ;;
    --arch=*) ARCH=${1#--arch=}; shift ;;
    *) echo "prebuild.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done
case "$ARCH" in x64|arm64) ;; *) echo "prebuild.sh: --arch must be x64 or arm64, not $ARCH" >&2; exit 2 ;; esac

APT_PACKAGES=(
  cmake g++ make patchelf xz-utils
  libfaiss-dev libopenblas-dev libgfortran-12-dev libfreetype-dev libbrotli-dev
  libjpeg62-turbo-dev libpng-dev libwebp-dev libtiff-dev zlib1g-dev
)
if [ "$ARCH" = arm64 ]; then
  # The cross compiler and the arm64 archives; Fortran's runtime from the cross
  # package, which puts libgfortran.so where the cross linker looks.
  APT_PACKAGES=(
    cmake make patchelf xz-utils crossbuild-essential-arm64 qemu-user-static libgfortran-12-dev-arm64-cross
    libfaiss-dev:arm64 libopenblas-dev:arm64 libfreetype-dev:arm64 libbrotli-dev:arm64
    libjpeg62-turbo-dev:arm64 libpng-dev:arm64 libwebp-dev:arm64 libtiff-dev:arm64 zlib1g-dev:arm64
  )
fi
missing=()
for p in "${APT_PACKAGES[@]}"; do
  # This machine's architecture (or arch: all): an arm64 -dev package installed
  # for the cross build must not count as the native one.
  dpkg-query -W -f='${Status} ${Architecture}\n' "$p" 2>/dev/null | grep -Eq "^install ok installed ($(dpkg --print-architecture)|all)$" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "[prebuild] installing build packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" != 0 ] && SUDO="sudo"
  if [ "$ARCH" = arm64 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
    $SUDO dpkg --add-architecture arm64
  fi
  $SUDO apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

opencv=$(bash scripts/build-opencv.sh --arch "$ARCH" | tail -1)

cmake_args=(--CDSHITU_STATIC=ON --CDSHITU_OPENCV_DIR="$opencv")
build=build-prebuild
objdump=objdump
ort_env=()
if [ "$ARCH" = arm64 ]; then
  build=build-prebuild-arm64
  objdump=aarch64-linux-gnu-objdump
  cmake_args+=(--CDCMAKE_TOOLCHAIN_FILE="$PWD/scripts/cross/aarch64-linux-gnu.cmake")
  ort_env=(ONNXRUNTIME_DIR="$(bash scripts/cross/onnxruntime-arm64.sh | tail -1)")
fi

echo "[prebuild] static addon build (cmake-js, $build/)"
log=$build.log
env "${ort_env[@]}" nice -n 10 npx cmake-js compile --out "$build" "${cmake_args[@]}" >"$log" 2>&1 || {
  tail -60 "$log"; echo "[prebuild] build failed (full log: $log)"; exit 1; }

out=prebuilds/linux-$ARCH
rm -rf "$out"
mkdir -p "$out"
cp "$build"/Release/shitu.node "$build"/Release/libonnxruntime.so.1 "$out/"
[ -f "$build"/Release/libonnxruntime_providers_shared.so ] && cp "$build"/Release/libonnxruntime_providers_shared.so "$out/"
# The shared libraries it still needs (see CMakeLists.txt: codecs, GCC runtimes) go beside it.
bash scripts/check-closure.sh --bundle "$out" >/dev/null

# The oldest glibc that all shipped files accept: the highest GLIBC_x.y they ask for.
glibc=$(for f in "$out"/*; do $objdump -T "$f" 2>/dev/null; done | grep -o 'GLIBC_[0-9][0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
glibcxx=$(for f in "$out"/*; do $objdump -T "$f" 2>/dev/null; done | grep -o 'GLIBCXX_[0-9][0-9.]*' | sed 's/GLIBCXX_//' | sort -V | tail -1)
node -e "
const fs = require('fs');
const files = fs.readdirSync('$out').sort();
fs.writeFileSync('$out/manifest.json', JSON.stringify({ platform: 'linux-$ARCH', libc: 'glibc', glibc: '$glibc', glibcxx: '$glibcxx',
  opencv: '$(basename "$opencv")', files: Object.fromEntries(files.map((f) => [f, fs.statSync('$out/' + f).size])) }, null, 2) + '\n');"

echo "[prebuild] dynamic closure (ldd):"
bash scripts/check-closure.sh "$out"
echo "[prebuild] $out: $(du -sh "$out" | cut -f1), needs glibc >= $glibc and libstdc++ with GLIBCXX_$glibcxx"

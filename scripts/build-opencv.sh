#!/usr/bin/env bash
# Builds the static OpenCV that the prebuilt addon links: Debian's own source
# package (the only OpenCV source reachable here besides npm), reduced to core,
# imgproc and imgcodecs with JPEG, PNG, WebP, TIFF and BMP. Debian ships no static
# OpenCV, and its shared one pulls in 142 libraries (GDAL, poppler, MariaDB ...).
#
# The result is cached outside the clone, keyed by the OpenCV version and a hash
# of the configuration below, so a rerun is instant and a fresh machine builds it
# once:  ${XDG_CACHE_HOME:-~/.cache}/shitu-node/opencv-<version>-<hash>/
# Prints that directory (the CMake install prefix) as its last line.
#
#   build-opencv.sh [--arch x64|arm64]    (default x64: the host build)
# arm64 is cross-compiled with scripts/cross/aarch64-linux-gnu.cmake against
# Debian's arm64 image libraries (multiarch); its cache directory is named
# opencv-<version>-arm64-<hash> so it never collides with the x64 one.
#
# The system's apt configuration is left alone: the deb-src entry lives in a
# private directory passed to apt with -o options. Needs root for nothing except
# installing missing build packages (done by scripts/prebuild.sh).
set -euo pipefail
cd "$(dirname "$0")/.."

OPENCV_DEB_VERSION=4.6.0+dfsg-12          # bookworm's opencv source package
OPENCV_VERSION=${OPENCV_DEB_VERSION%%+*}
JOBS=${SHITU_BUILD_JOBS:-2}
ARCH=x64
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) ARCH=$2; shift 2 ;;
    --arch=*) ARCH=${1#--arch=}; shift ;;
    *) echo "build-opencv.sh: unknown argument $1" >&2; exit 2 ;;
  esac
done

# Everything not needed is off: no tests/apps/docs, no GUI/video/dnn, no
# downloads (IPP, ADE ...: only npm and Debian are reachable), no OpenCL.
# Image libraries come from the system (Debian's dfsg tarball has no 3rdparty/);
# their static archives are linked into the addon by CMakeLists.txt.
# SIMD: SSE3 baseline plus an AVX2 dispatch (Debian's default also builds
# SSE4.x/AVX/AVX512 variants: a third more compile time for little gain here).
FLAGS=(
  -DCMAKE_BUILD_TYPE=Release
  -DBUILD_SHARED_LIBS=OFF
  -DCMAKE_POSITION_INDEPENDENT_CODE=ON
  -DBUILD_LIST=core,imgproc,imgcodecs
  -DBUILD_TESTS=OFF -DBUILD_PERF_TESTS=OFF -DBUILD_EXAMPLES=OFF -DBUILD_opencv_apps=OFF
  -DBUILD_DOCS=OFF -DBUILD_JAVA=OFF -DBUILD_opencv_python3=OFF -DBUILD_opencv_python2=OFF
  -DBUILD_ZLIB=OFF -DBUILD_JPEG=OFF -DBUILD_PNG=OFF -DBUILD_TIFF=OFF -DBUILD_WEBP=OFF
  -DBUILD_OPENJPEG=OFF -DBUILD_OPENEXR=OFF -DBUILD_ITT=OFF -DBUILD_IPP_IW=OFF -DBUILD_PROTOBUF=OFF
  -DWITH_JPEG=ON -DWITH_PNG=ON -DWITH_WEBP=ON -DWITH_TIFF=ON
  -DWITH_OPENJPEG=OFF -DWITH_JASPER=OFF -DWITH_OPENEXR=OFF -DWITH_SPNG=OFF -DWITH_AVIF=OFF
  -DWITH_IMGCODEC_HDR=OFF -DWITH_IMGCODEC_SUNRASTER=OFF -DWITH_IMGCODEC_PXM=OFF -DWITH_IMGCODEC_PFM=OFF
  -DWITH_GDAL=OFF -DWITH_GDCM=OFF
  -DWITH_IPP=OFF -DWITH_ITT=OFF -DWITH_OPENCL=OFF -DWITH_CUDA=OFF -DWITH_VA=OFF -DWITH_VA_INTEL=OFF
  -DWITH_FFMPEG=OFF -DWITH_GSTREAMER=OFF -DWITH_V4L=OFF -DWITH_1394=OFF -DWITH_GTK=OFF -DWITH_QT=OFF
  -DWITH_VTK=OFF -DWITH_EIGEN=OFF -DWITH_LAPACK=OFF -DWITH_PROTOBUF=OFF -DWITH_QUIRC=OFF -DWITH_ADE=OFF
  -DWITH_TBB=OFF -DWITH_OPENMP=OFF -DWITH_PTHREADS_PF=ON -DWITH_ONNX=OFF -DWITH_OPENVX=OFF
  -DCV_TRACE=OFF -DOPENCV_GENERATE_PKGCONFIG=OFF -DINSTALL_CREATE_DISTRIB=OFF
)
case "$ARCH" in
  x64) FLAGS+=(-DCPU_BASELINE=SSE3 -DCPU_DISPATCH=AVX2); tag="" ;;
  # NEON and FP16 conversions are part of ARMv8.0 (every arm64 CPU); OpenCV 4.6's
  # core/imgproc/imgcodecs have no kernels dispatched beyond that (DOTPROD is dnn's).
  # Carotene (the NEON HAL) lives in 3rdparty/, which Debian's dfsg tarball drops;
  # the universal intrinsics still compile to NEON without it.
  arm64) FLAGS+=(-DCPU_BASELINE=NEON,FP16 -DCPU_DISPATCH= -DWITH_CAROTENE=OFF
                 -DCMAKE_TOOLCHAIN_FILE="$PWD/scripts/cross/aarch64-linux-gnu.cmake"); tag="arm64-" ;;
  *) echo "build-opencv.sh: --arch must be x64 or arm64, not $ARCH" >&2; exit 2 ;;
esac

# The toolchain file's path is in FLAGS: hash its content instead, so the key
# does not depend on where the clone lives.
hash=$(printf '%s\n' "$OPENCV_DEB_VERSION" "${FLAGS[@]}" | sed "s|$PWD/||" |
  cat - $( [ "$ARCH" = arm64 ] && echo scripts/cross/aarch64-linux-gnu.cmake ) | sha256sum | cut -c1-12)
cache_root=${XDG_CACHE_HOME:-$HOME/.cache}/shitu-node
prefix="$cache_root/opencv-$OPENCV_VERSION-$tag$hash"
if [ -f "$prefix/.complete" ]; then
  echo "[opencv] cached: $prefix" >&2
  echo "$prefix"
  exit 0
fi

mkdir -p "$cache_root"
work=$(mktemp -d "$cache_root/opencv-build.XXXXXX")
trap 'rm -rf "$work"' EXIT

# The source tarball is kept in the cache too: the x64 and arm64 builds share it.
src="$cache_root/src/opencv_$OPENCV_VERSION+dfsg.orig.tar.xz"
if [ ! -f "$src" ]; then
  echo "[opencv] fetching Debian source opencv $OPENCV_DEB_VERSION" >&2
  mkdir -p "$work/apt/lists/partial" "$cache_root/src"
  uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
  cat >"$work/apt/shitu-src.sources" <<EOF
Types: deb-src
URIs: ${uri:-http://deb.debian.org/debian}
Suites: bookworm
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
  APT=(apt-get -q -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$work/apt"
       -o "Dir::State::Lists=$work/apt/lists" -o APT::Sandbox::User=root)
  "${APT[@]}" update >"$work/apt.log" 2>&1 || { cat "$work/apt.log" >&2; exit 1; }
  (cd "$work" && "${APT[@]}" source --download-only "opencv=$OPENCV_DEB_VERSION" >>"$work/apt.log" 2>&1) ||
    { cat "$work/apt.log" >&2; exit 1; }
  mv "$work/opencv_$OPENCV_VERSION+dfsg.orig.tar.xz" "$src.tmp" && mv "$src.tmp" "$src"
fi
# Only the main tarball: contrib is not used. Debian's patches touch nothing
# built here, so dpkg-source (and its dpkg-dev dependency) is not needed.
tar -xJf "$src" -C "$work"

echo "[opencv] configuring ($prefix)" >&2
stage="$prefix.tmp"
rm -rf "$stage"
cmake -S "$work/opencv-$OPENCV_VERSION" -B "$work/build" "${FLAGS[@]}" -DCMAKE_INSTALL_PREFIX="$stage" \
  >"$work/configure.log" 2>&1 || { tail -60 "$work/configure.log" >&2; exit 1; }
echo "[opencv] building with -j$JOBS (a few minutes, once per machine)" >&2
start=$(date +%s)
nice -n 10 cmake --build "$work/build" -j "$JOBS" >"$work/build.log" 2>&1 || { tail -60 "$work/build.log" >&2; exit 1; }
cmake --install "$work/build" >"$work/install.log" 2>&1 || { tail -30 "$work/install.log" >&2; exit 1; }
echo "[opencv] built in $(( $(date +%s) - start )) s" >&2
touch "$stage/.complete"
rm -rf "$prefix"
mv "$stage" "$prefix"
echo "$prefix"

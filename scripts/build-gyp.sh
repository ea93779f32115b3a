#!/usr/bin/env bash
# Builds binding.gyp with node-gyp in a scratch copy (node-gyp always writes
# ./build, which is cmake-js's), puts libonnxruntime.so.1 beside the addon as
# the rpath expects, and loads it to prove the two build descriptions agree.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -r binding.gyp native package.json "$work/"
ln -s "$root/node_modules" "$work/node_modules"
(cd "$work" && npx node-gyp rebuild -j 2 >"$work/gyp.log" 2>&1) || { tail -40 "$work/gyp.log"; exit 1; }
mkdir -p build-gyp/Release
cp "$work/build/Release/shitu.node" build-gyp/Release/
if [ -n "${ONNXRUNTIME_DIR:-}" ]; then ort=$(ls "$ONNXRUNTIME_DIR"/lib/libonnxruntime.so* | head -1); else ort=node_modules/com.github.asus4.onnxruntime/Plugins/Linux/x64/libonnxruntime.so; fi
cp "$ort" build-gyp/Release/libonnxruntime.so.1
# Same SONAME rename as CMakeLists.txt (see native/ort_loader.h).
patchelf --set-soname libonnxruntime-shitu.so.1 build-gyp/Release/libonnxruntime.so.1
SHITU_ADDON_PATH="$root/build-gyp/Release/shitu.node" node -e "
const n = require('./dist/lib/native/loader').native;
const want = ['decodeImage','loadModel','VectorIndex','createDetector','createFeatureExtractor','recognize','drawResults'];
const missing = want.filter(k => !(k in n));
if (missing.length) { console.error('node-gyp build lacks', missing); process.exit(1); }
const ix = new n.VectorIndex(4, 'Flat', 'IP');
ix.add(new Float32Array([1,0,0,0]), BigInt64Array.from([7n])).then(() => ix.search(new Float32Array([1,0,0,0]), 1)).then(r => {
  if (r.ids[0] !== 7n) { console.error('node-gyp build: wrong search result'); process.exit(1); }
  console.log('[build:gyp] node-gyp build loads and runs');
});"

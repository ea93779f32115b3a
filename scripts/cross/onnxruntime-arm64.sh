#!/usr/bin/env bash
# ONNX Runtime for the linux-arm64 prebuild, laid out as an ONNXRUNTIME_DIR
# (include/ + lib/) that CMakeLists.txt takes as it is. The asus4 package we
# build against ships no Linux arm64 library; the npm package onnxruntime-node
# does (bin/napi-v6/linux/arm64/libonnxruntime.so.1), so its release of the same
# ORT version as the x64 prebuild (1.29.0) is used, with the asus4 package's
# API-29 headers (headers of API N work with any library >= N).
# Fetched once with `npm pack` (the tarball checked against the integrity pinned
# here) into ${XDG_CACHE_HOME:-~/.cache}/shitu-node/; prints the directory.
set -euo pipefail
cd "$(dirname "$0")/../.."

ORT_NPM=onnxruntime-node@1.29.0
ORT_INTEGRITY=sha512-WjiVVB72riILz8HbYvxvmjKyE/WmkYoSfKY++axo5jAR609HQg8MwiG/HhShpTcJfmmAdzxxmB+MMST3A+SiPA==
cache=${XDG_CACHE_HOME:-$HOME/.cache}/shitu-node
dir="$cache/onnxruntime-linux-arm64-${ORT_NPM#*@}"
if [ ! -f "$dir/.complete" ]; then
  headers="$(node -p "require('path').dirname(require.resolve('com.github.asus4.onnxruntime/package.json'))")/Plugins/iOS~/onnxruntime.xcframework/ios-arm64/onnxruntime.framework/Headers"
  [ -f "$headers/onnxruntime_cxx_api.h" ] || { echo "onnxruntime-arm64: ORT headers not found at $headers" >&2; exit 1; }
  mkdir -p "$cache"
  tmp=$(mktemp -d "$cache/.ort-arm64.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  echo "[ort] fetching $ORT_NPM (its linux-arm64 library)" >&2
  tgz=$(cd "$tmp" && npm pack "$ORT_NPM" --loglevel=error | tail -1)
  got="sha512-$(openssl dgst -sha512 -binary "$tmp/$tgz" | base64 -w0)"
  [ "$got" = "$ORT_INTEGRITY" ] || { echo "onnxruntime-arm64: $tgz integrity $got, expected $ORT_INTEGRITY" >&2; exit 1; }
  tar -C "$tmp" -xzf "$tmp/$tgz" package/bin/napi-v6/linux/arm64/libonnxruntime.so.1
  mkdir -p "$tmp/out/lib"
  cp -r "$headers" "$tmp/out/include"
  cp "$tmp/package/bin/napi-v6/linux/arm64/libonnxruntime.so.1" "$tmp/out/lib/"
  touch "$tmp/out/.complete"
  rm -rf "$dir" && mv "$tmp/out" "$dir"
fi
echo "$dir"

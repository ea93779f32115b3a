#!/usr/bin/env bash
# Opt-in GPU support: ONNX Runtime's CUDA and TensorRT execution providers from
# the npm registry, at the same ORT version as the core library (1.29, package
# 0.4.9), copied beside the addon where ORT looks for them. They need CUDA 13,
# cuBLAS, cuRAND and cuDNN 9 (TensorRT 10 for useHpip) on the library path.
set -euo pipefail
cd "$(dirname "$0")/.."
pkg=com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
(cd "$dir" && npm pack --silent "$pkg" >/dev/null && tar xzf ./*.tgz)
src=$(dirname "$(find "$dir/package" -name 'libonnxruntime_providers_cuda.so' | head -1)")
[ -d "$src" ] || { echo "no CUDA provider in $pkg"; exit 1; }
for f in libonnxruntime_providers_cuda.so libonnxruntime_providers_tensorrt.so libonnxruntime_providers_shared.so; do
  [ -f "$src/$f" ] && cp "$src/$f" build/Release/
done
echo "GPU providers installed in build/Release. Missing system libraries, if any:"
ldd build/Release/libonnxruntime_providers_cuda.so | grep 'not found' || echo "  none"

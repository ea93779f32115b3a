{
  # node-gyp build of the same sources as CMakeLists.txt (the main build), for
  # tools that only speak node-gyp (electron-rebuild, prebuildify). The source
  # list is native/sources.txt, shared with CMake; scripts/build-gyp.sh builds
  # and loads it in CI so the two descriptions cannot drift.
  "variables": {
    "ort_dir%": "<!(node -p \"process.env.ONNXRUNTIME_DIR || ''\")",
    "ort_npm": "<!(node -p \"try { require('path').dirname(require.resolve('com.github.asus4.onnxruntime/package.json')) } catch { '' }\")"
  },
  "targets": [
    {
      "target_name": "shitu",
      "sources": ["<!@(grep -v '^#' native/sources.txt)"],
      "include_dirs": [
        "<!(node -p \"require('node-addon-api').include_dir\")",
        "<!(node -p \"process.env.ONNXRUNTIME_DIR ? process.env.ONNXRUNTIME_DIR + '/include' : '<(ort_npm)/Plugins/iOS~/onnxruntime.xcframework/ios-arm64/onnxruntime.framework/Headers'\")",
        "/usr/include/opencv4",
        "/usr/include/freetype2"
      ],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags_cc": ["-std=c++17", "-O2", "-fexceptions", "-frtti", "-fopenmp", "-fvisibility=hidden"],
      "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"],
      "libraries": [
        "-ldl",
        "/usr/lib/x86_64-linux-gnu/libfaiss.a",
        "-lopencv_core", "-lopencv_imgproc", "-lopencv_imgcodecs", "-ljpeg",
        "-lfreetype", "-lblas", "-llapack", "-fopenmp",
        "-Wl,-rpath,'$$ORIGIN'"
      ]
    }
  ]
}

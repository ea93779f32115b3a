// ONNX Runtime is loaded at run time from beside the addon (dlopen by absolute
// path, RTLD_LOCAL) instead of being linked. A process that already holds
// another libonnxruntime.so.1 (onnxruntime-node 1.30, say) would otherwise
// make the loader reuse that one by its SONAME, and one of the two addons fails.
// Every translation unit includes ORT through this header so that the C++ API
// is in manual-init mode everywhere.
#pragma once
#define ORT_API_MANUAL_INIT
#include <onnxruntime_cxx_api.h>
#undef ORT_API_MANUAL_INIT

#include <string>

namespace shitu {
// Loads the library once and initialises the C++ API; throws ShituError
// (ERR_MODEL_LOAD) naming the library and the reason when it cannot.
void EnsureOrtLoaded();
// The library file in use (after EnsureOrtLoaded).
const std::string& OrtLibraryPath();
}  // namespace shitu

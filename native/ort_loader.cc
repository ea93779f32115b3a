#include "ort_loader.h"

#include <dlfcn.h>

#include <mutex>

#include "errors.h"

namespace shitu {

static std::string g_path;
static std::string g_error;

static std::string AddonDirectory() {
  Dl_info info{};
  if (dladdr(reinterpret_cast<void*>(&AddonDirectory), &info) == 0 || !info.dli_fname) return ".";
  std::string p = info.dli_fname;
  auto slash = p.find_last_of('/');
  return slash == std::string::npos ? "." : p.substr(0, slash);
}

static void Load() {
  g_path = AddonDirectory() + "/libonnxruntime.so.1";
  void* lib = dlopen(g_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (!lib) {
    const char* e = dlerror();
    g_error = "cannot load ONNX Runtime from " + g_path + ": " + (e ? e : "unknown error");
    return;
  }
  using GetApiBase = const OrtApiBase* (*)();
  auto getBase = reinterpret_cast<GetApiBase>(dlsym(lib, "OrtGetApiBase"));
  if (!getBase) {
    g_error = g_path + " is not an ONNX Runtime library (no OrtGetApiBase)";
    return;
  }
  const OrtApiBase* base = getBase();
  const OrtApi* api = base->GetApi(ORT_API_VERSION);
  if (!api) {
    g_error = "ONNX Runtime " + std::string(base->GetVersionString()) + " at " + g_path +
              " is older than the API this addon was built for (" + std::to_string(ORT_API_VERSION) + ")";
    return;
  }
  Ort::InitApi(api);
}

void EnsureOrtLoaded() {
  static std::once_flag once;
  std::call_once(once, Load);
  if (!g_error.empty()) throw ShituError(kErrModelLoad, g_error);
}

const std::string& OrtLibraryPath() { return g_path; }

}  // namespace shitu

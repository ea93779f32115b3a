// trimMemory(): hands freed heap memory back to the OS (glibc malloc_trim).
// Decoded pictures and tensors are freed on worker threads, whose malloc arenas
// keep their high-water mark in RSS; long-running servers and the memory
// benchmark call this to see what is really live.
#include <malloc.h>

#include "bindings.h"

namespace shitu {

static Napi::Value TrimMemoryJs(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), malloc_trim(0) != 0);
}

void InitMemoryBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("trimMemory", Napi::Function::New(env, TrimMemoryJs, "trimMemory"));
}

}  // namespace shitu

// Entry point of the addon: each js_*.cc registers its functions and classes.
#include <napi.h>

#include "bindings.h"

namespace shitu {

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  InitImageBindings(env, exports);
  InitModelBindings(env, exports);
  InitVectorIndexBindings(env, exports);
  InitRecognizeBindings(env, exports);
  InitMemoryBindings(env, exports);
  InitDrawBindings(env, exports);
  InitPathExchangeBindings(env, exports);
  return exports;
}

}  // namespace shitu

static Napi::Object InitShitu(Napi::Env env, Napi::Object exports) { return shitu::Init(env, exports); }

NODE_API_MODULE(shitu, InitShitu)

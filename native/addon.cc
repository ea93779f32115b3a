// Entry point of the addon: each js_*.cc registers its functions and classes.
#include <napi.h>

#include "addon_data.h"
#include "bindings.h"

namespace shitu {

// Runs once per environment (main thread, each worker): every environment gets
// its own AddonData, deleted by node-addon-api when the environment goes away.
static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  env.SetInstanceData<AddonData>(new AddonData());
  InitImageBindings(env, exports);
  InitModelBindings(env, exports);
  InitVectorIndexBindings(env, exports);
  InitDetectorBindings(env, exports);
  InitFeatureExtractorBindings(env, exports);
  InitRecognizeBindings(env, exports);
  InitMemoryBindings(env, exports);
  InitDrawBindings(env, exports);
  InitPathExchangeBindings(env, exports);
  InitWorkerPoolBindings(env, exports);
  InitContractBindings(env, exports);
  return exports;
}

}  // namespace shitu

static Napi::Object InitShitu(Napi::Env env, Napi::Object exports) { return shitu::Init(env, exports); }

NODE_API_MODULE(shitu, InitShitu)

// contracts(): the lists native code defines, so that test/native/contracts.test.ts can
// compare them with their TypeScript twins and drift fails CI:
//   {errorCodes, indexTypes, imageFormats, defaultImageFormats, stageNames}
//   errorCodes: errors.h; indexTypes: the named types of vector_index.h;
//   imageFormats / defaultImageFormats: image_probe.h's table, by bit order;
//   stageNames: the timing keys of every detect, embed and recognize (stage_times.h).
#include "bindings.h"
#include "errors.h"
#include "image_probe.h"
#include "stage_times.h"
#include "vector_index.h"

namespace shitu {

namespace {

template <typename List>
Napi::Array ToArray(Napi::Env env, const List& list) {
  Napi::Array a = Napi::Array::New(env);
  for (const char* s : list) a.Set(a.Length(), s);
  return a;
}

Napi::Value ContractsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object o = Napi::Object::New(env);
  o.Set("errorCodes", ToArray(env, kErrorCodes));
  o.Set("indexTypes", ToArray(env, kIndexTypeNames));
  Napi::Array formats = Napi::Array::New(env), defaults = Napi::Array::New(env);
  for (uint32_t bit = 1; bit <= static_cast<uint32_t>(ImageFormat::Exr); bit <<= 1) {
    const char* name = FormatName(static_cast<ImageFormat>(bit));
    formats.Set(formats.Length(), name);
    if (kDefaultImageFormats & bit) defaults.Set(defaults.Length(), name);
  }
  o.Set("imageFormats", formats);
  o.Set("defaultImageFormats", defaults);
  Napi::Array stages = Napi::Array::New(env);
  ForEachStage(StageTimes{}, [&](const char* name, double) { stages.Set(stages.Length(), name); });
  o.Set("stageNames", stages);
  return o;
}

}  // namespace

void InitContractBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("contracts", Napi::Function::New(env, ContractsJs, "contracts"));
}

}  // namespace shitu

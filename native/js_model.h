// The JS `Model` class: one loaded ONNX Runtime session.
#pragma once
#include <napi.h>

#include <memory>

#include "errors.h"
#include "js_common.h"
#include "model_session.h"

namespace shitu {
std::shared_ptr<ModelSession> UnwrapModel(const Napi::Value& v);

// What is built from a Model (Detector, FeatureExtractor) checks the model's
// contract as it is made: contract errors are thrown synchronously here, as
// Errors with a code.
template <typename T, typename Make>
T Construct(Napi::Env env, Make make) {
  try {
    return make();
  } catch (const ShituError& e) {
    throw MakeError(env, e.code(), e.what());
  }
}
}  // namespace shitu

// The JS `Model` class: one loaded ONNX Runtime session.
#pragma once
#include <napi.h>

#include <memory>

#include "model_session.h"

namespace shitu {
std::shared_ptr<ModelSession> UnwrapModel(const Napi::Value& v);
}  // namespace shitu

// The JS Detector class (js_detector.cc), for the bindings that take one.
#pragma once
#include <napi.h>

#include <memory>

#include "detector.h"

namespace shitu {
// TypeError unless `v` is a Detector of this environment.
std::shared_ptr<Detector> UnwrapDetector(const Napi::Value& v);
}  // namespace shitu

// Model-card settings from JS objects into the plain structs the worker uses.
#pragma once
#include <napi.h>

#include "detector.h"
#include "feature_extractor.h"
#include "preprocess.h"

namespace shitu {
PreprocessSpec ParsePreprocessSpec(const Napi::Object& o);
DetectorSpec ParseDetectorSpec(const Napi::Object& o);
FeatureSpec ParseFeatureSpec(const Napi::Object& o);
}  // namespace shitu

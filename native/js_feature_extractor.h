// The JS FeatureExtractor class (js_feature_extractor.cc), for the bindings that take one.
#pragma once
#include <napi.h>

#include <memory>

#include "feature_batcher.h"
#include "feature_extractor.h"

namespace shitu {
// An extractor and the dynamic batcher every recognition with batching on shares.
struct ExtractorHandle {
  std::shared_ptr<FeatureExtractor> extractor;
  std::shared_ptr<FeatureBatcher> batcher;
};
// TypeError unless `v` is a FeatureExtractor of this environment.
ExtractorHandle UnwrapFeatureExtractor(const Napi::Value& v);
}  // namespace shitu

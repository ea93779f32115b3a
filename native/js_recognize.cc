// The one-call recognition, over a Detector (js_detector.cc), a FeatureExtractor
// (js_feature_extractor.cc) and, optionally, a VectorIndex:
//   recognize(detector, extractor, index|null, image, o) -> Promise<{width, height, boxes, dim, features?, image?, timings}>
// `cancel` (cancel.h: an Int32Array over a SharedArrayBuffer, non-zero = cancelled)
// is checked at each stage boundary.
#include <memory>

#include "bindings.h"
#include "js_common.h"
#include "js_detector.h"
#include "js_feature_extractor.h"
#include "js_image.h"
#include "js_results.h"
#include "js_search.h"
#include "recognizer.h"

namespace shitu {

// recognize(detector, extractor, index | null, image, {detThreshold, topk, keepImage, keepFeatures, reducedDecode,
//           batchMax, batchWaitMs, nprobe, efSearch, rerank, cancel})
static Napi::Value RecognizeJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto det = UnwrapDetector(info[0]);
  ExtractorHandle exw = UnwrapFeatureExtractor(info[1]);
  auto ex = exw.extractor;
  auto batcher = exw.batcher;
  std::vector<Napi::Value> keep;
  ImageSource src = ParseImageSource(info[3], keep, "argument 3");
  Napi::Object o = info[4].IsObject() ? info[4].As<Napi::Object>() : Napi::Object::New(env);
  src.limits = ParseDecodeLimits(o);
  RecognizeOptions ro;
  ro.detThreshold = static_cast<float>(GetNumber(o, "detThreshold", -1));
  ro.topk = GetInt(o, "topk", 5);
  ro.keepImage = GetBool(o, "keepImage", false);
  ro.keepFeatures = GetBool(o, "keepFeatures", false);
  ro.reducedDecode = GetBool(o, "reducedDecode", false);
  ro.batching.maxBatch = GetInt(o, "batchMax", 0);
  ro.batching.maxWaitMs = GetNumber(o, "batchWaitMs", 2);
  ro.cancel = ParseCancel(o, keep);
  std::shared_ptr<SearchFn> search;
  if (!info[2].IsNull() && !info[2].IsUndefined()) search = std::make_shared<SearchFn>(MakeSearchFn(info[2], o, ex->dim()));
  auto out = std::make_shared<RecognizeResult>();
  return PromiseWorker::Queue(
      env, [det, ex, batcher, search, src, ro, out] { *out = Recognize(src, *det, *ex, search.get(), ro, batcher.get()); },
      [out](Napi::Env env) -> Napi::Value {
        Napi::Object r = Napi::Object::New(env);
        r.Set("width", out->width);
        r.Set("height", out->height);
        Napi::Array boxes = Napi::Array::New(env, out->boxes.size());
        for (size_t i = 0; i < out->boxes.size(); ++i) {
          const BoxResult& b = out->boxes[i];
          Napi::Object o = DetectionToJs(env, b.det);
          Napi::Array ids = Napi::Array::New(env, b.ids.size()), scores = Napi::Array::New(env, b.ids.size());
          for (size_t j = 0; j < b.ids.size(); ++j) {
            ids.Set(j, static_cast<double>(b.ids[j]));
            scores.Set(j, b.scores[j]);
          }
          o.Set("ids", ids);
          o.Set("scores", scores);
          boxes.Set(i, o);
        }
        r.Set("boxes", boxes);
        r.Set("dim", out->dim);
        if (!out->features.empty()) {
          Napi::Float32Array fa = Napi::Float32Array::New(env, out->features.size());
          std::copy(out->features.begin(), out->features.end(), fa.Data());
          r.Set("features", fa);
        }
        if (!out->image.empty()) r.Set("image", ImageToJs(env, out->image));
        r.Set("timings", TimesToJs(env, out->times));
        return r;
      },
      keep);
}

void InitRecognizeBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("recognize", Napi::Function::New(env, RecognizeJs, "recognize"));
}

}  // namespace shitu

// JS class FeatureExtractor (createFeatureExtractor(model, spec), sync: checks the contract):
//   extractor.embed(images, {boxes?, collectErrors?, cancel?, maxPixels?, formats?})
//       -> Promise<{features, dim, count, errors, timings}>
//   extractor.resolved(), extractor.batchStats(), extractor.dim
// `cancel` (cancel.h) is checked at each stage boundary.
#include "js_feature_extractor.h"

#include <memory>

#include "addon_data.h"
#include "bindings.h"
#include "js_common.h"
#include "js_image.h"
#include "js_model.h"
#include "js_results.h"
#include "js_specs.h"
#include "recognizer.h"  // CropBox

namespace shitu {

// ---------------------------------------------------------------- FeatureExtractor
class ExtractorWrap : public Napi::ObjectWrap<ExtractorWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "FeatureExtractor", {
        InstanceMethod<&ExtractorWrap::Embed>("embed"),
        InstanceMethod<&ExtractorWrap::Resolved>("resolved"),
        InstanceMethod<&ExtractorWrap::BatchStats>("batchStats"),
        InstanceAccessor<&ExtractorWrap::Dim>("dim"),
    });
    GetAddonData(env).extractorCtor = Napi::Persistent(f);
    exports.Set("FeatureExtractor", f);
  }
  ExtractorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ExtractorWrap>(info) {}
  std::shared_ptr<FeatureExtractor> extractor;
  // Shared by every recognition with batching on that uses this extractor.
  std::shared_ptr<FeatureBatcher> batcher;

 private:
  // batchStats() -> {runs, requests, rows, maxRowsInRun}: what dynamic batching did so far.
  Napi::Value BatchStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    BatcherStats s = batcher->stats();
    Napi::Object o = Napi::Object::New(env);
    o.Set("runs", static_cast<double>(s.runs));
    o.Set("requests", static_cast<double>(s.requests));
    o.Set("rows", static_cast<double>(s.rows));
    o.Set("maxRowsInRun", static_cast<double>(s.maxRowsInRun));
    return o;
  }
  Napi::Value Dim(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), extractor->dim()); }
  Napi::Value Resolved(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const FeatureSpec& s = extractor->spec();
    Napi::Object o = Napi::Object::New(env);
    o.Set("inputName", s.inputName);
    o.Set("outputName", s.outputName);
    o.Set("maxBatch", s.maxBatch);
    o.Set("dim", extractor->dim());
    o.Set("preprocess", ResolvedPreprocess(env, s.pre));
    return o;
  }
  // embed(images[], {boxes?: (number[4] | null)[], collectErrors?: boolean})
  // Each image is embedded whole, or cropped to its box first. With
  // collectErrors, undecodable images give a zero row and an entry in `errors`
  // instead of failing the whole call.
  Napi::Value Embed(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsArray()) throw Napi::TypeError::New(env, "embed(images): images must be an array");
    Napi::Array arr = info[0].As<Napi::Array>();
    Napi::Object o = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    bool collect = GetBool(o, "collectErrors", false);
    Napi::Value boxesV = o.Get("boxes");
    std::vector<Napi::Value> keep;
    std::vector<ImageSource> srcs;
    std::vector<std::vector<float>> boxes;
    const DecodeLimits limits = ParseDecodeLimits(o);
    const CancelFlag cancel = ParseCancel(o, keep);
    for (uint32_t i = 0; i < arr.Length(); ++i) {
      srcs.push_back(ParseImageSource(arr.Get(i), keep, "#" + std::to_string(i)));
      srcs.back().limits = limits;
      std::vector<float> b;
      if (boxesV.IsArray()) {
        Napi::Value bv = boxesV.As<Napi::Array>().Get(i);
        if (bv.IsArray()) {
          Napi::Array ba = bv.As<Napi::Array>();
          for (uint32_t j = 0; j < ba.Length() && j < 4; ++j) b.push_back(ba.Get(j).ToNumber().FloatValue());
        }
      }
      boxes.push_back(b);
    }
    struct Err { int index; std::string code, message; };
    struct Out { std::vector<float> features; int dim = 0; std::vector<Err> errors; StageTimes t; };
    auto out = std::make_shared<Out>();
    auto ex = extractor;
    return PromiseWorker::Queue(
        env,
        [ex, srcs, boxes, collect, cancel, out] {
          Stopwatch sw;
          std::vector<cv::Mat> images, crops;
          std::vector<int> rowOf(srcs.size(), -1);
          for (size_t i = 0; i < srcs.size(); ++i) {
            cancel.ThrowIfCancelled("before decoding");
            try {
              images.push_back(DecodeImage(srcs[i]));
            } catch (const ShituError& e) {
              if (!collect) throw;
              out->errors.push_back({static_cast<int>(i), e.code(), e.what()});
              continue;
            }
            const cv::Mat& img = images.back();
            if (boxes[i].size() == 4) {
              Detection d;
              d.x1 = boxes[i][0]; d.y1 = boxes[i][1]; d.x2 = boxes[i][2]; d.y2 = boxes[i][3];
              crops.push_back(CropBox(img, d));
            } else {
              crops.push_back(img);
            }
            rowOf[i] = static_cast<int>(crops.size()) - 1;
          }
          out->t.decode = sw.Lap();
          cancel.ThrowIfCancelled("after decoding");
          std::vector<float> f = ex->Extract(crops, &out->t, cancel);
          out->dim = ex->dim();
          out->features.assign(srcs.size() * out->dim, 0.f);
          for (size_t i = 0; i < srcs.size(); ++i)
            if (rowOf[i] >= 0)
              std::copy_n(f.begin() + static_cast<size_t>(rowOf[i]) * out->dim, out->dim,
                          out->features.begin() + i * out->dim);
          out->t.total = out->t.decode + sw.Lap();
        },
        [out, n = srcs.size()](Napi::Env env) -> Napi::Value {
          Napi::Object r = Napi::Object::New(env);
          Napi::Float32Array fa = Napi::Float32Array::New(env, out->features.size());
          std::copy(out->features.begin(), out->features.end(), fa.Data());
          r.Set("features", fa);
          r.Set("dim", out->dim);
          r.Set("count", static_cast<double>(n));
          Napi::Array errs = Napi::Array::New(env, out->errors.size());
          for (size_t i = 0; i < out->errors.size(); ++i) {
            Napi::Object e = Napi::Object::New(env);
            e.Set("index", out->errors[i].index);
            e.Set("code", out->errors[i].code);
            e.Set("message", out->errors[i].message);
            errs.Set(i, e);
          }
          r.Set("errors", errs);
          r.Set("timings", TimesToJs(env, out->t));
          return r;
        },
        keep);
  }
};

ExtractorHandle UnwrapFeatureExtractor(const Napi::Value& v) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(GetAddonData(v.Env()).extractorCtor.Value()))
    throw Napi::TypeError::New(v.Env(), "expected a FeatureExtractor (from createFeatureExtractor)");
  ExtractorWrap* w = ExtractorWrap::Unwrap(v.As<Napi::Object>());
  return {w->extractor, w->batcher};
}

static Napi::Value CreateFeatureExtractorJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto model = UnwrapModel(info[0]);
  if (!info[1].IsObject()) throw Napi::TypeError::New(env, "createFeatureExtractor(model, spec): spec must be an object");
  FeatureSpec spec = ParseFeatureSpec(info[1].As<Napi::Object>());
  auto ex = Construct<std::shared_ptr<FeatureExtractor>>(env, [&] { return std::make_shared<FeatureExtractor>(model, spec); });
  Napi::Object obj = GetAddonData(env).extractorCtor.New({});
  ExtractorWrap::Unwrap(obj)->extractor = ex;
  ExtractorWrap::Unwrap(obj)->batcher = std::make_shared<FeatureBatcher>(ex);
  return obj;
}

void InitFeatureExtractorBindings(Napi::Env env, Napi::Object exports) {
  ExtractorWrap::Init(env, exports);
  exports.Set("createFeatureExtractor", Napi::Function::New(env, CreateFeatureExtractorJs, "createFeatureExtractor"));
}

}  // namespace shitu

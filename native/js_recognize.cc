// JS classes Detector and FeatureExtractor, and the one-call recognition:
//   createDetector(model, spec) / createFeatureExtractor(model, spec)  (sync, check the contract)
//   detector.detect(image, {threshold})                  -> Promise<{width, height, boxes, timings}>
//   extractor.embed(images, {boxes?, collectErrors?})    -> Promise<{features, dim, count, errors, timings}>
//   recognize(detector, extractor, index|null, image, o) -> Promise<{width, height, boxes, timings, image?}>
// detect, embed and recognize also take `cancel` (cancel.h: an Int32Array over a
// SharedArrayBuffer, non-zero = cancelled), checked at each stage boundary.
#include <memory>

#include "addon_data.h"
#include "bindings.h"
#include "js_common.h"
#include "js_image.h"
#include "js_model.h"
#include "js_search.h"
#include "js_specs.h"
#include "recognizer.h"

namespace shitu {

static Napi::Object TimesToJs(Napi::Env env, const StageTimes& t) {
  Napi::Object o = Napi::Object::New(env);
  ForEachStage(t, [&o](const char* name, double ms) { o.Set(name, ms); });
  return o;
}

static Napi::Object DetectionToJs(Napi::Env env, const Detection& d) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("classId", d.cls);
  o.Set("score", d.score);
  Napi::Array c = Napi::Array::New(env, 4);
  c.Set(0u, d.x1); c.Set(1u, d.y1); c.Set(2u, d.x2); c.Set(3u, d.y2);
  o.Set("coordinate", c);
  return o;
}

static Napi::Object ResolvedPreprocess(Napi::Env env, const PreprocessSpec& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("width", p.width);
  o.Set("height", p.height);
  o.Set("keepRatio", p.keepRatio);
  o.Set("channelOrder", p.rgb ? "rgb" : "bgr");
  return o;
}

// ---------------------------------------------------------------- Detector
class DetectorWrap : public Napi::ObjectWrap<DetectorWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "Detector", {
        InstanceMethod<&DetectorWrap::Detect>("detect"),
        InstanceMethod<&DetectorWrap::Resolved>("resolved"),
    });
    GetAddonData(env).detectorCtor = Napi::Persistent(f);
    exports.Set("Detector", f);
  }
  DetectorWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<DetectorWrap>(info) {}
  std::shared_ptr<Detector> detector;

 private:
  Napi::Value Resolved(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const DetectorSpec& s = detector->spec();
    Napi::Object o = Napi::Object::New(env);
    o.Set("contract", s.contract);
    o.Set("imageInput", s.imageInput);
    o.Set("scaleFactorInput", s.scaleFactorInput);
    o.Set("imShapeInput", s.imShapeInput);
    o.Set("boxesOutput", s.boxesOutput);
    o.Set("countOutput", s.countOutput);
    o.Set("preprocess", ResolvedPreprocess(env, s.pre));
    return o;
  }
  Napi::Value Detect(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<Napi::Value> keep;
    ImageSource src = ParseImageSource(info[0], keep, "argument 0");
    Napi::Object o = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
    src.limits = ParseDecodeLimits(o);
    float threshold = static_cast<float>(GetNumber(o, "threshold", -1));
    const CancelFlag cancel = ParseCancel(o, keep);
    struct Out { std::vector<Detection> dets; int w = 0, h = 0; StageTimes t; };
    auto out = std::make_shared<Out>();
    auto det = detector;
    return PromiseWorker::Queue(
        env,
        [det, src, threshold, cancel, out] {
          cancel.ThrowIfCancelled("before decoding");
          Stopwatch sw;
          cv::Mat img = DecodeImage(src);
          out->t.decode = sw.Lap();
          cancel.ThrowIfCancelled("after decoding");
          out->w = img.cols;
          out->h = img.rows;
          out->dets = det->Detect(img, threshold, &out->t);
          out->t.total = out->t.decode + sw.Lap();
        },
        [out](Napi::Env env) -> Napi::Value {
          Napi::Object r = Napi::Object::New(env);
          r.Set("width", out->w);
          r.Set("height", out->h);
          Napi::Array boxes = Napi::Array::New(env, out->dets.size());
          for (size_t i = 0; i < out->dets.size(); ++i) boxes.Set(i, DetectionToJs(env, out->dets[i]));
          r.Set("boxes", boxes);
          r.Set("timings", TimesToJs(env, out->t));
          return r;
        },
        keep);
  }
};

static std::shared_ptr<Detector> UnwrapDetector(const Napi::Value& v) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(GetAddonData(v.Env()).detectorCtor.Value()))
    throw Napi::TypeError::New(v.Env(), "expected a Detector (from createDetector)");
  return DetectorWrap::Unwrap(v.As<Napi::Object>())->detector;
}

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

static ExtractorWrap* UnwrapExtractorWrap(const Napi::Value& v) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(GetAddonData(v.Env()).extractorCtor.Value()))
    throw Napi::TypeError::New(v.Env(), "expected a FeatureExtractor (from createFeatureExtractor)");
  return ExtractorWrap::Unwrap(v.As<Napi::Object>());
}

// Contract errors are thrown synchronously here, as Errors with a code.
template <typename T, typename Make>
static T Construct(Napi::Env env, Make make) {
  try {
    return make();
  } catch (const ShituError& e) {
    throw MakeError(env, e.code(), e.what());
  }
}

static Napi::Value CreateDetectorJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto model = UnwrapModel(info[0]);
  if (!info[1].IsObject()) throw Napi::TypeError::New(env, "createDetector(model, spec): spec must be an object");
  DetectorSpec spec = ParseDetectorSpec(info[1].As<Napi::Object>());
  auto det = Construct<std::shared_ptr<Detector>>(env, [&] { return std::make_shared<Detector>(model, spec); });
  Napi::Object obj = GetAddonData(env).detectorCtor.New({});
  DetectorWrap::Unwrap(obj)->detector = det;
  return obj;
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

// recognize(detector, extractor, index | null, image, {detThreshold, topk, keepImage, keepFeatures, reducedDecode,
//           batchMax, batchWaitMs, nprobe, efSearch, rerank, cancel})
static Napi::Value RecognizeJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  auto det = UnwrapDetector(info[0]);
  ExtractorWrap* exw = UnwrapExtractorWrap(info[1]);
  auto ex = exw->extractor;
  auto batcher = exw->batcher;
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
  DetectorWrap::Init(env, exports);
  ExtractorWrap::Init(env, exports);
  exports.Set("createDetector", Napi::Function::New(env, CreateDetectorJs, "createDetector"));
  exports.Set("createFeatureExtractor", Napi::Function::New(env, CreateFeatureExtractorJs, "createFeatureExtractor"));
  exports.Set("recognize", Napi::Function::New(env, RecognizeJs, "recognize"));
}

}  // namespace shitu

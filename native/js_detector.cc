// JS class Detector (createDetector(model, spec), sync: checks the contract):
//   detector.detect(image, {threshold, cancel?, maxPixels?, formats?}) -> Promise<{width, height, boxes, timings}>
//   detector.resolved() -> the inputs, outputs and pre-processing it settled on
// `cancel` (cancel.h: an Int32Array over a SharedArrayBuffer, non-zero = cancelled)
// is checked at each stage boundary.
#include "js_detector.h"

#include <memory>

#include "addon_data.h"
#include "bindings.h"
#include "js_common.h"
#include "js_image.h"
#include "js_model.h"
#include "js_results.h"
#include "js_specs.h"

namespace shitu {

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

std::shared_ptr<Detector> UnwrapDetector(const Napi::Value& v) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(GetAddonData(v.Env()).detectorCtor.Value()))
    throw Napi::TypeError::New(v.Env(), "expected a Detector (from createDetector)");
  return DetectorWrap::Unwrap(v.As<Napi::Object>())->detector;
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

void InitDetectorBindings(Napi::Env env, Napi::Object exports) {
  DetectorWrap::Init(env, exports);
  exports.Set("createDetector", Napi::Function::New(env, CreateDetectorJs, "createDetector"));
}

}  // namespace shitu

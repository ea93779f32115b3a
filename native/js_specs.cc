#include "js_specs.h"

#include <opencv2/imgproc.hpp>

#include "js_common.h"

namespace shitu {

static int Interpolation(Napi::Env env, const std::string& s) {
  if (s == "nearest") return cv::INTER_NEAREST;
  if (s == "linear" || s == "bilinear") return cv::INTER_LINEAR;
  if (s == "cubic" || s == "bicubic") return cv::INTER_CUBIC;
  if (s == "area") return cv::INTER_AREA;
  if (s == "lanczos") return cv::INTER_LANCZOS4;
  throw Napi::RangeError::New(env, "unknown interpolation '" + s + "'");
}

static std::array<float, 3> Triple(const Napi::Object& o, const char* key, std::array<float, 3> def) {
  std::vector<float> v = GetFloatArray(o, key, {def[0], def[1], def[2]});
  if (v.size() != 3) throw Napi::RangeError::New(o.Env(), std::string("'") + key + "' must have 3 values");
  return {v[0], v[1], v[2]};
}

PreprocessSpec ParsePreprocessSpec(const Napi::Object& o) {
  PreprocessSpec p;
  p.width = GetInt(o, "width", 0);
  p.height = GetInt(o, "height", 0);
  p.keepRatio = GetBool(o, "keepRatio", false);
  p.interpolation = Interpolation(o.Env(), GetString(o, "interpolation", "linear"));
  p.scale = static_cast<float>(GetNumber(o, "scale", 1.0 / 255.0));
  p.mean = Triple(o, "mean", p.mean);
  p.std = Triple(o, "std", p.std);
  for (float s : p.std) if (s == 0) throw Napi::RangeError::New(o.Env(), "'std' values must not be 0");
  std::string order = GetString(o, "channelOrder", "rgb");
  if (order != "rgb" && order != "bgr") throw Napi::RangeError::New(o.Env(), "channelOrder must be 'rgb' or 'bgr'");
  p.rgb = order == "rgb";
  return p;
}

DetectorSpec ParseDetectorSpec(const Napi::Object& o) {
  DetectorSpec d;
  Napi::Value pre = o.Get("preprocess");
  if (pre.IsObject()) d.pre = ParsePreprocessSpec(pre.As<Napi::Object>());
  d.contract = GetString(o, "contract", "auto");
  d.imageInput = GetString(o, "imageInput", "");
  d.scaleFactorInput = GetString(o, "scaleFactorInput", "");
  d.imShapeInput = GetString(o, "imShapeInput", "");
  d.boxesOutput = GetString(o, "boxesOutput", "");
  d.countOutput = GetString(o, "countOutput", "");
  d.scoreOutputs = GetStringArray(o, "scoreOutputs");
  d.distOutputs = GetStringArray(o, "distOutputs");
  d.strides = GetIntArray(o, "strides", d.strides);
  d.regMax = GetInt(o, "regMax", d.regMax);
  d.nmsIou = static_cast<float>(GetNumber(o, "nmsIou", d.nmsIou));
  d.maxDetections = GetInt(o, "maxDetections", d.maxDetections);
  d.threshold = static_cast<float>(GetNumber(o, "threshold", d.threshold));
  d.wholeImageFallback = GetBool(o, "wholeImageFallback", d.wholeImageFallback);
  return d;
}

FeatureSpec ParseFeatureSpec(const Napi::Object& o) {
  FeatureSpec f;
  Napi::Value pre = o.Get("preprocess");
  if (pre.IsObject()) f.pre = ParsePreprocessSpec(pre.As<Napi::Object>());
  f.inputName = GetString(o, "inputName", "");
  f.outputName = GetString(o, "outputName", "");
  f.maxBatch = GetInt(o, "maxBatch", f.maxBatch);
  f.normalize = GetBool(o, "normalize", true);
  return f;
}

}  // namespace shitu

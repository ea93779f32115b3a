#include "js_image.h"

#include <opencv2/imgcodecs.hpp>

#include <memory>

#include "bindings.h"
#include "image_probe.h"
#include "js_common.h"

namespace shitu {

ImageSource ParseImageSource(const Napi::Value& v, std::vector<Napi::Value>& keep, const std::string& label) {
  Napi::Env env = v.Env();
  ImageSource s;
  s.label = label;
  if (v.IsString()) {
    s.kind = ImageSource::Kind::Path;
    s.path = v.As<Napi::String>().Utf8Value();
    s.label = "'" + s.path + "'";
    return s;
  }
  if (v.IsBuffer() || v.IsTypedArray()) {
    Napi::TypedArray ta = v.As<Napi::TypedArray>();
    s.kind = ImageSource::Kind::Bytes;
    s.data = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    s.length = ta.ByteLength();
    keep.push_back(v);
    return s;
  }
  if (v.IsObject()) {
    Napi::Object o = v.As<Napi::Object>();
    Napi::Value data = o.Get("data");
    if (!data.IsTypedArray()) throw Napi::TypeError::New(env, "raw image " + label + ": 'data' must be a Buffer or Uint8Array");
    Napi::TypedArray ta = data.As<Napi::TypedArray>();
    s.kind = ImageSource::Kind::Raw;
    s.data = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
    s.length = ta.ByteLength();
    s.width = GetInt(o, "width", 0);
    s.height = GetInt(o, "height", 0);
    s.channels = GetInt(o, "channels", 3);
    s.rawIsBgr = GetString(o, "channelOrder", "rgb") == "bgr";
    keep.push_back(data);
    return s;
  }
  throw Napi::TypeError::New(env, "image " + label + " must be a path, a Buffer or raw pixels {data, width, height, channels}");
}

DecodeLimits ParseDecodeLimits(const Napi::Object& o) {
  DecodeLimits l;
  Napi::Env env = o.Env();
  double maxPixels = GetNumber(o, "maxPixels", 0);
  if (!(maxPixels >= 0) || maxPixels > 9007199254740991.0) throw Napi::RangeError::New(env, "maxPixels must be a non-negative number");
  l.maxPixels = static_cast<uint64_t>(maxPixels);
  Napi::Value f = o.Get("formats");
  if (!f.IsUndefined() && !f.IsNull()) {
    l.formats = 0;
    for (const std::string& name : GetStringArray(o, "formats")) {
      ImageFormat fmt = FormatFromName(name);
      if (fmt == ImageFormat::Unknown) throw Napi::RangeError::New(env, "unknown image format '" + name + "'");
      l.formats |= static_cast<uint32_t>(fmt);
    }
  }
  return l;
}

Napi::Object ImageToJs(Napi::Env env, const cv::Mat& bgr) {
  Napi::Object o = Napi::Object::New(env);
  auto* keep = new cv::Mat(bgr.isContinuous() ? bgr : bgr.clone());  // shares the pixels, freed by the finalizer
  const size_t bytes = keep->total() * keep->elemSize();
  o.Set("data", Napi::Buffer<uint8_t>::NewOrCopy(env, keep->data, bytes, [](Napi::Env, uint8_t*, cv::Mat* m) { delete m; }, keep));
  const cv::Mat& c = *keep;
  o.Set("width", c.cols);
  o.Set("height", c.rows);
  o.Set("channels", c.channels());
  o.Set("channelOrder", "bgr");
  return o;
}

// decodeImage(src, {maxPixels?, formats?}): Promise<{data, width, height, channels: 3, channelOrder: 'bgr'}>
static Napi::Value DecodeImageJs(const Napi::CallbackInfo& info) {
  std::vector<Napi::Value> keep;
  ImageSource src = ParseImageSource(info[0], keep, "argument 0");
  if (info[1].IsObject()) src.limits = ParseDecodeLimits(info[1].As<Napi::Object>());
  auto out = std::make_shared<cv::Mat>();
  return PromiseWorker::Queue(
      info.Env(), [src, out] { *out = DecodeImage(src); },
      [out](Napi::Env env) -> Napi::Value { return ImageToJs(env, *out); }, keep);
}

// encodeImage(raw, ext ".jpg" | ".png" | ..., quality?, {maxPixels?, formats?}): Promise<Buffer>
static Napi::Value EncodeImageJs(const Napi::CallbackInfo& info) {
  std::vector<Napi::Value> keep;
  ImageSource src = ParseImageSource(info[0], keep, "argument 0");
  if (info[3].IsObject()) src.limits = ParseDecodeLimits(info[3].As<Napi::Object>());
  std::string ext = info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : ".jpg";
  int quality = info[2].IsNumber() ? info[2].As<Napi::Number>().Int32Value() : 95;
  auto out = std::make_shared<std::vector<uint8_t>>();
  return PromiseWorker::Queue(
      info.Env(),
      [src, ext, quality, out] {
        cv::Mat img = DecodeImage(src);
        std::vector<int> params;
        if (ext == ".jpg" || ext == ".jpeg") params = {cv::IMWRITE_JPEG_QUALITY, quality};
        if (!cv::imencode(ext, img, *out, params)) throw ShituError(kErrImageDecode, "cannot encode image as " + ext);
      },
      [out](Napi::Env env) -> Napi::Value { return Napi::Buffer<uint8_t>::Copy(env, out->data(), out->size()); }, keep);
}

// probeImage(bytes) -> {format, width, height, pages} read from the container
// header only (nothing is decoded, so it is cheap enough to run on the event
// loop); format "unknown" when no known magic matches. Throws ERR_IMAGE_DECODE
// for a malformed header. Callers use it to budget pixels before decoding.
static Napi::Value ProbeImageJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !(info[0].IsBuffer() || info[0].IsTypedArray())) throw Napi::TypeError::New(env, "probeImage(bytes): bytes must be a Buffer or Uint8Array");
  Napi::TypedArray ta = info[0].As<Napi::TypedArray>();
  const uint8_t* data = static_cast<const uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  Napi::Object o = Napi::Object::New(env);
  ImageFormat f = SniffFormat(data, ta.ByteLength());
  if (f == ImageFormat::Unknown) {
    o.Set("format", "unknown");
    return o;
  }
  try {
    ImageHeader h = ProbeImage(data, ta.ByteLength(), "probeImage");
    o.Set("format", FormatName(h.format));
    o.Set("width", static_cast<double>(h.width));
    o.Set("height", static_cast<double>(h.height));
    o.Set("pages", h.pages);
  } catch (const ShituError& e) {
    Napi::Error err = Napi::Error::New(env, e.what());
    err.Set("code", e.code());
    throw err;
  }
  return o;
}

void InitImageBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("probeImage", Napi::Function::New(env, ProbeImageJs, "probeImage"));
  exports.Set("decodeImage", Napi::Function::New(env, DecodeImageJs, "decodeImage"));
  exports.Set("encodeImage", Napi::Function::New(env, EncodeImageJs, "encodeImage"));
}

}  // namespace shitu

// drawResults(image, items, options?) -> Promise<Buffer | {data, width, height, channels, channelOrder, fontPath}>
//   image:   a path, encoded bytes or raw pixels (see js_image.h)
//   items:   [{coordinate: [x1, y1, x2, y2], text?: string, colorIndex?: integer >= 0}]
//            (colorIndex defaults to the item's position in the array)
//   options: {format?: '.jpg' | '.jpeg' | '.png' | '.webp' | '.bmp' (default '.jpg'),
//             quality?: 0..100 (JPEG/WebP, default 95), raw?: boolean, fontPath?: string}
// The encoded Buffer carries a non-enumerable `fontPath`: the font drawn with, ""
// when none was found and text fell back to ASCII-only cv::putText.
// Decoding, drawing and encoding all run on the worker thread.
#include <opencv2/imgcodecs.hpp>

#include <algorithm>
#include <cmath>
#include <memory>
#include <string>

#include "bindings.h"
#include "draw.h"
#include "js_common.h"
#include "js_image.h"

namespace shitu {

static std::vector<DrawItem> ParseItems(const Napi::Value& v) {
  Napi::Env env = v.Env();
  if (!v.IsArray()) throw Napi::TypeError::New(env, "drawResults: items must be an array");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<DrawItem> items(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    const std::string where = "drawResults: items[" + std::to_string(i) + "]";
    Napi::Value e = a.Get(i);
    if (!e.IsObject() || e.IsArray()) throw Napi::TypeError::New(env, where + " must be an object");
    Napi::Object o = e.As<Napi::Object>();
    Napi::Value c = o.Get("coordinate");
    bool ok = c.IsArray() && c.As<Napi::Array>().Length() == 4;
    double xy[4] = {0, 0, 0, 0};
    for (uint32_t k = 0; ok && k < 4; ++k) {
      Napi::Value n = c.As<Napi::Array>().Get(k);
      ok = n.IsNumber() && std::isfinite(xy[k] = n.As<Napi::Number>().DoubleValue());
    }
    if (!ok) throw Napi::TypeError::New(env, where + ".coordinate must be [x1, y1, x2, y2], four finite numbers");
    if (xy[2] < xy[0] || xy[3] < xy[1])
      throw Napi::TypeError::New(env, where + ".coordinate must have x1 <= x2 and y1 <= y2");
    DrawItem& it = items[i];
    it.x1 = static_cast<float>(xy[0]);
    it.y1 = static_cast<float>(xy[1]);
    it.x2 = static_cast<float>(xy[2]);
    it.y2 = static_cast<float>(xy[3]);
    Napi::Value text = o.Get("text");
    if (!text.IsUndefined() && !text.IsNull()) {
      if (!text.IsString()) throw Napi::TypeError::New(env, where + ".text must be a string");
      it.text = text.As<Napi::String>().Utf8Value();
    }
    Napi::Value ci = o.Get("colorIndex");
    if (ci.IsUndefined() || ci.IsNull()) {
      it.colorIndex = static_cast<int>(i % kPaletteSize);
    } else {
      double d = ci.IsNumber() ? ci.As<Napi::Number>().DoubleValue() : -1;
      if (!(d >= 0 && d <= 2147483647.0 && std::floor(d) == d))
        throw Napi::TypeError::New(env, where + ".colorIndex must be an integer >= 0");
      it.colorIndex = static_cast<int>(d);
    }
  }
  return items;
}

struct DrawRequest {
  DrawOptions draw;
  std::string format = ".jpg";
  int quality = 95;
  bool raw = false;
};

static DrawRequest ParseOptions(const Napi::Value& v) {
  Napi::Env env = v.Env();
  DrawRequest r;
  if (v.IsUndefined() || v.IsNull()) return r;
  if (!v.IsObject() || v.IsArray()) throw Napi::TypeError::New(env, "drawResults: options must be an object");
  Napi::Object o = v.As<Napi::Object>();
  r.format = GetString(o, "format", r.format);
  if (r.format != ".jpg" && r.format != ".jpeg" && r.format != ".png" && r.format != ".webp" && r.format != ".bmp")
    throw Napi::TypeError::New(env, "drawResults: format must be one of '.jpg', '.jpeg', '.png', '.webp', '.bmp'");
  double q = GetNumber(o, "quality", r.quality);
  if (!(q >= 0 && q <= 100)) throw Napi::RangeError::New(env, "drawResults: quality must be between 0 and 100");
  r.quality = static_cast<int>(q);
  r.raw = GetBool(o, "raw", false);
  r.draw.fontPath = GetString(o, "fontPath", "");
  return r;
}

struct DrawResult {
  cv::Mat pixels;               // raw: the drawn picture
  std::vector<uint8_t> encoded;  // otherwise: its encoding
  std::string fontPath;
};

static Napi::Value DrawResultsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::vector<Napi::Value> keep;
  ImageSource src = ParseImageSource(info[0], keep, "argument 0");
  if (info[2].IsObject() && !info[2].IsArray()) src.limits = ParseDecodeLimits(info[2].As<Napi::Object>());
  std::vector<DrawItem> items = ParseItems(info[1]);
  DrawRequest req = ParseOptions(info[2]);
  auto out = std::make_shared<DrawResult>();
  return PromiseWorker::Queue(
      env,
      [src, items = std::move(items), req, out] {
        cv::Mat img = DecodeImage(src);
        cv::Mat drawn;
        try {
          drawn = DrawResults(img, items, req.draw, &out->fontPath);
        } catch (const cv::Exception& e) {
          throw ShituError(kErrDraw, std::string("drawing failed: ") + e.what());
        }
        if (req.raw) {
          out->pixels = drawn;
          return;
        }
        std::vector<int> params;
        if (req.format == ".jpg" || req.format == ".jpeg") params = {cv::IMWRITE_JPEG_QUALITY, req.quality};
        // OpenCV treats WebP quality above 100 as lossless; 1..100 is lossy.
        if (req.format == ".webp") params = {cv::IMWRITE_WEBP_QUALITY, std::max(1, req.quality)};
        bool ok = false;
        try {
          ok = cv::imencode(req.format, drawn, out->encoded, params);
        } catch (const cv::Exception& e) {
          throw ShituError(kErrDraw, "cannot encode the picture as " + req.format + ": " + e.what());
        }
        if (!ok) throw ShituError(kErrDraw, "cannot encode the picture as " + req.format);
      },
      [out, raw = req.raw](Napi::Env env) -> Napi::Value {
        if (raw) {
          Napi::Object o = ImageToJs(env, out->pixels);
          o.Set("fontPath", out->fontPath);
          return o;
        }
        Napi::Buffer<uint8_t> b = Napi::Buffer<uint8_t>::Copy(env, out->encoded.data(), out->encoded.size());
        b.DefineProperty(Napi::PropertyDescriptor::Value("fontPath", Napi::String::New(env, out->fontPath)));
        return b;
      },
      keep);
}

void InitDrawBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("drawResults", Napi::Function::New(env, DrawResultsJs, "drawResults"));
}

}  // namespace shitu

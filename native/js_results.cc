#include "js_results.h"

namespace shitu {

Napi::Object TimesToJs(Napi::Env env, const StageTimes& t) {
  Napi::Object o = Napi::Object::New(env);
  ForEachStage(t, [&o](const char* name, double ms) { o.Set(name, ms); });
  return o;
}

Napi::Object DetectionToJs(Napi::Env env, const Detection& d) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("classId", d.cls);
  o.Set("score", d.score);
  Napi::Array c = Napi::Array::New(env, 4);
  c.Set(0u, d.x1); c.Set(1u, d.y1); c.Set(2u, d.x2); c.Set(3u, d.y2);
  o.Set("coordinate", c);
  return o;
}

Napi::Object ResolvedPreprocess(Napi::Env env, const PreprocessSpec& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("width", p.width);
  o.Set("height", p.height);
  o.Set("keepRatio", p.keepRatio);
  o.Set("channelOrder", p.rgb ? "rgb" : "bgr");
  return o;
}

}  // namespace shitu

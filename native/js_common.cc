#include "js_common.h"

#include <exception>
#include <memory>

#include "addon_data.h"

namespace shitu {

Napi::Error MakeError(Napi::Env env, const std::string& code, const std::string& message) {
  Napi::Error err = Napi::Error::New(env, message);
  err.Value().Set("code", Napi::String::New(env, code));
  return err;
}

static Napi::Value Field(const Napi::Object& o, const char* key) { return o.Get(key); }

double GetNumber(const Napi::Object& o, const char* key, double fallback) {
  Napi::Value v = Field(o, key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("option '") + key + "' must be a number");
  return v.As<Napi::Number>().DoubleValue();
}

int GetInt(const Napi::Object& o, const char* key, int fallback) {
  return static_cast<int>(GetNumber(o, key, fallback));
}

bool GetBool(const Napi::Object& o, const char* key, bool fallback) {
  Napi::Value v = Field(o, key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsBoolean()) throw Napi::TypeError::New(o.Env(), std::string("option '") + key + "' must be a boolean");
  return v.As<Napi::Boolean>().Value();
}

std::string GetString(const Napi::Object& o, const char* key, const std::string& fallback) {
  Napi::Value v = Field(o, key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsString()) throw Napi::TypeError::New(o.Env(), std::string("option '") + key + "' must be a string");
  return v.As<Napi::String>().Utf8Value();
}

std::vector<float> GetFloatArray(const Napi::Object& o, const char* key, std::vector<float> fallback) {
  Napi::Value v = Field(o, key);
  if (v.IsUndefined() || v.IsNull()) return fallback;
  if (!v.IsArray()) throw Napi::TypeError::New(o.Env(), std::string("option '") + key + "' must be an array of numbers");
  Napi::Array a = v.As<Napi::Array>();
  std::vector<float> out(a.Length());
  for (uint32_t i = 0; i < a.Length(); ++i) {
    Napi::Value e = a.Get(i);
    if (!e.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string("option '") + key + "' must be an array of numbers");
    out[i] = e.As<Napi::Number>().FloatValue();
  }
  return out;
}

std::vector<int> GetIntArray(const Napi::Object& o, const char* key, std::vector<int> fallback) {
  std::vector<float> def(fallback.begin(), fallback.end());
  std::vector<float> f = GetFloatArray(o, key, def);
  return std::vector<int>(f.begin(), f.end());
}

std::vector<std::string> GetStringArray(const Napi::Object& o, const char* key) {
  Napi::Value v = Field(o, key);
  std::vector<std::string> out;
  if (v.IsUndefined() || v.IsNull()) return out;
  if (!v.IsArray()) throw Napi::TypeError::New(o.Env(), std::string("option '") + key + "' must be an array of strings");
  Napi::Array a = v.As<Napi::Array>();
  for (uint32_t i = 0; i < a.Length(); ++i) out.push_back(a.Get(i).ToString().Utf8Value());
  return out;
}

CancelFlag ParseCancel(const Napi::Object& o, std::vector<Napi::Value>& keep) {
  Napi::Value v = o.Get("cancel");
  if (v.IsUndefined() || v.IsNull()) return CancelFlag();
  const char* what = "option 'cancel' must be an Int32Array over a SharedArrayBuffer";
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_int32_array)
    throw Napi::TypeError::New(o.Env(), what);
  Napi::Int32Array a = v.As<Napi::Int32Array>();
  if (a.ElementLength() < 1) throw Napi::TypeError::New(o.Env(), what);
  // A plain ArrayBuffer can be detached (transferred) while the job reads it;
  // a SharedArrayBuffer never is.
  bool plain = true;
  if (napi_is_arraybuffer(o.Env(), a.ArrayBuffer(), &plain) != napi_ok || plain)
    throw Napi::TypeError::New(o.Env(), what);
  keep.push_back(v);
  return CancelFlag(a.Data());
}

PromiseWorker::PromiseWorker(Napi::Env env, Work work, Done done, std::vector<Napi::Value> keep)
    : deferred_(Napi::Promise::Deferred::New(env)), work_(std::move(work)), done_(std::move(done)) {
  for (auto& v : keep) keep_.push_back(Napi::Persistent(v));
}

Napi::Promise PromiseWorker::Queue(Napi::Env env, Work work, Done done, std::vector<Napi::Value> keep) {
  std::unique_ptr<PromiseWorker> w(new PromiseWorker(env, std::move(work), std::move(done), std::move(keep)));
  Napi::Promise p = w->deferred_.Promise();
  GetAddonData(env).pool.Queue(env, std::move(w));
  return p;
}

void PromiseWorker::Execute() {
  try {
    work_();
    return;
  } catch (const ShituError& e) {
    code_ = e.code();
    message_ = e.what();
  } catch (const std::bad_alloc&) {
    code_ = kErrOutOfMemory;
    message_ = "out of memory";
  } catch (const std::exception& e) {
    code_ = kErrInternal;
    message_ = e.what();
  } catch (...) {
    code_ = kErrInternal;
    message_ = "unknown native error";
  }
  failed_ = true;
}

// May run while its environment is being torn down (a worker_threads Worker
// terminated with native work in flight): then every N-API call fails and
// node-addon-api throws Napi::Error. Nobody is left to receive the promise, so
// that failure is swallowed instead of reaching std::terminate.
void PromiseWorker::Complete(Napi::Env env) {
  try {
    if (failed_) {
      deferred_.Reject(MakeError(env, code_, message_).Value());
      return;
    }
    try {
      deferred_.Resolve(done_(env));
    } catch (const Napi::Error& e) {
      deferred_.Reject(e.Value());
    } catch (const ShituError& e) {
      deferred_.Reject(MakeError(env, e.code(), e.what()).Value());
    } catch (const std::exception& e) {
      deferred_.Reject(MakeError(env, kErrInternal, e.what()).Value());
    }
  } catch (const Napi::Error&) {
  }
}

}  // namespace shitu

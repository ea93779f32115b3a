#include "js_model.h"

#include "addon_data.h"
#include "bindings.h"
#include "js_common.h"

namespace shitu {

class ModelWrap : public Napi::ObjectWrap<ModelWrap> {
 public:
  static void Init(Napi::Env env, Napi::Object exports) {
    Napi::Function f = DefineClass(env, "Model", {
        InstanceMethod<&ModelWrap::Inputs>("inputs"),
        InstanceMethod<&ModelWrap::Outputs>("outputs"),
        InstanceMethod<&ModelWrap::Run>("run"),
        InstanceAccessor<&ModelWrap::Path>("path"),
        InstanceAccessor<&ModelWrap::Device>("device"),
        InstanceAccessor<&ModelWrap::Stripped>("strippedInputs"),
    });
    GetAddonData(env).modelCtor = Napi::Persistent(f);
    exports.Set("Model", f);
  }
  ModelWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ModelWrap>(info) {}
  std::shared_ptr<ModelSession> session;

 private:
  static Napi::Array Describe(Napi::Env env, const std::vector<TensorInfo>& ts) {
    Napi::Array a = Napi::Array::New(env, ts.size());
    for (size_t i = 0; i < ts.size(); ++i) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("name", ts[i].name);
      o.Set("type", ts[i].type);
      Napi::Array shape = Napi::Array::New(env, ts[i].shape.size());
      for (size_t j = 0; j < ts[i].shape.size(); ++j) shape.Set(j, static_cast<double>(ts[i].shape[j]));
      o.Set("shape", shape);
      a.Set(i, o);
    }
    return a;
  }
  Napi::Value Inputs(const Napi::CallbackInfo& info) { return Describe(info.Env(), session->inputs()); }
  Napi::Value Outputs(const Napi::CallbackInfo& info) { return Describe(info.Env(), session->outputs()); }
  Napi::Value Path(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), session->path()); }
  Napi::Value Device(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), session->device()); }
  Napi::Value Stripped(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), session->strippedInputs()); }

  // run({name: {data: Float32Array, dims: number[]}}): Promise<{name: {data: Float32Array, dims}}>
  // The raw ONNX Runtime call, for benchmarks and custom models (float32 tensors).
  Napi::Value Run(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsObject()) throw Napi::TypeError::New(env, "run(feeds): feeds must be an object");
    Napi::Object feeds = info[0].As<Napi::Object>();
    struct Feed { std::string name; const float* data; size_t n; std::vector<int64_t> dims; };
    auto in = std::make_shared<std::vector<Feed>>();
    std::vector<Napi::Value> keep;
    Napi::Array keys = feeds.GetPropertyNames();
    for (uint32_t i = 0; i < keys.Length(); ++i) {
      std::string name = keys.Get(i).ToString().Utf8Value();
      Napi::Object t = feeds.Get(name).As<Napi::Object>();
      Napi::Value data = t.Get("data");
      if (!data.IsTypedArray() || data.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
        throw Napi::TypeError::New(env, "feed '" + name + "' data must be a Float32Array");
      Napi::Float32Array fa = data.As<Napi::Float32Array>();
      Feed f{name, fa.Data(), fa.ElementLength(), {}};
      for (int d : GetIntArray(t, "dims", {})) f.dims.push_back(d);
      in->push_back(std::move(f));
      keep.push_back(data);
    }
    auto s = session;
    struct Out { std::string name; std::vector<float> data; std::vector<int64_t> dims; };
    auto out = std::make_shared<std::vector<Out>>();
    return PromiseWorker::Queue(
        env,
        [s, in, out] {
          std::vector<const char*> names;
          std::vector<Ort::Value> values;
          for (auto& f : *in) {
            names.push_back(f.name.c_str());
            values.push_back(Ort::Value::CreateTensor<float>(CpuMemoryInfo(), const_cast<float*>(f.data), f.n,
                                                             f.dims.data(), f.dims.size()));
          }
          std::vector<const char*> outNames;
          for (auto& t : s->outputs()) outNames.push_back(t.name.c_str());
          auto res = s->Run(names, values, outNames);
          for (size_t i = 0; i < res.size(); ++i) {
            auto ti = res[i].GetTensorTypeAndShapeInfo();
            Out o{outNames[i], {}, ti.GetShape()};
            if (ti.GetElementType() == ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
              const float* p = res[i].GetTensorData<float>();
              o.data.assign(p, p + ti.GetElementCount());
            } else if (ti.GetElementType() == ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32) {
              const int32_t* p = res[i].GetTensorData<int32_t>();
              o.data.assign(p, p + ti.GetElementCount());
            } else if (ti.GetElementType() == ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64) {
              const int64_t* p = res[i].GetTensorData<int64_t>();
              o.data.assign(p, p + ti.GetElementCount());
            }
            out->push_back(std::move(o));
          }
        },
        [out](Napi::Env env) -> Napi::Value {
          Napi::Object r = Napi::Object::New(env);
          for (auto& o : *out) {
            Napi::Object t = Napi::Object::New(env);
            Napi::Float32Array a = Napi::Float32Array::New(env, o.data.size());
            std::copy(o.data.begin(), o.data.end(), a.Data());
            Napi::Array dims = Napi::Array::New(env, o.dims.size());
            for (size_t j = 0; j < o.dims.size(); ++j) dims.Set(j, static_cast<double>(o.dims[j]));
            t.Set("data", a);
            t.Set("dims", dims);
            r.Set(o.name, t);
          }
          return r;
        },
        keep);
  }
};

std::shared_ptr<ModelSession> UnwrapModel(const Napi::Value& v) {
  if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(GetAddonData(v.Env()).modelCtor.Value()))
    throw Napi::TypeError::New(v.Env(), "expected a Model (from loadModel)");
  return ModelWrap::Unwrap(v.As<Napi::Object>())->session;
}

// loadModel(path: string, options, bytes?: Buffer): Promise<Model>
static Napi::Value LoadModelJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString()) throw Napi::TypeError::New(env, "loadModel(path, options): path must be a string");
  std::string path = info[0].As<Napi::String>().Utf8Value();
  Napi::Object o = info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  SessionOptions so;
  so.intraOpThreads = GetInt(o, "intraOpThreads", 0);
  so.interOpThreads = GetInt(o, "interOpThreads", 1);
  so.graphOptimization = GetString(o, "graphOptimization", "all");
  so.device = GetString(o, "device", "cpu");
  so.tensorrt = GetBool(o, "tensorrt", false);
  so.tensorrtCacheDir = GetString(o, "tensorrtCacheDir", "");
  so.tensorrtFp16 = GetBool(o, "tensorrtFp16", true);
  so.stripInitializerInputs = GetBool(o, "stripInitializerInputs", true);
  so.spinning = GetBool(o, "spinning", false);
  so.sharedThreadPool = GetBool(o, "sharedThreadPool", false);
  std::string bytes;
  if (info[2].IsBuffer()) {
    auto b = info[2].As<Napi::Buffer<char>>();
    bytes.assign(b.Data(), b.Length());
  }
  auto result = std::make_shared<std::shared_ptr<ModelSession>>();
  return PromiseWorker::Queue(
      env, [path, so, bytes, result]() mutable { *result = ModelSession::Load(path, std::move(bytes), so); },
      [result](Napi::Env env) -> Napi::Value {
        Napi::Object obj = GetAddonData(env).modelCtor.New({});
        ModelWrap::Unwrap(obj)->session = *result;
        return obj;
      });
}

void InitModelBindings(Napi::Env env, Napi::Object exports) {
  ModelWrap::Init(env, exports);
  exports.Set("loadModel", Napi::Function::New(env, LoadModelJs, "loadModel"));
}

}  // namespace shitu

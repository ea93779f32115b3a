#include "model_session.h"

#include <dlfcn.h>
#include <sched.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>
#include <thread>

#include "errors.h"
#include "onnx_model_bytes.h"

namespace shitu {

int SharedThreadPoolSize() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) return std::max(1, CPU_COUNT(&set));
  return std::max(1u, std::thread::hardware_concurrency());
}

static Ort::Env MakeEnv() {
  // The global pools exist from the start (ORT fixes them when the environment
  // is created); a session uses them only with DisablePerSessionThreads().
  Ort::ThreadingOptions to;
  to.SetGlobalIntraOpNumThreads(SharedThreadPoolSize());
  to.SetGlobalInterOpNumThreads(1);
  to.SetGlobalSpinControl(0);  // as the per-session pools: see SessionOptions::spinning
  // Errors only: ORT's per-initializer warnings are handled by stripping inputs.
  return Ort::Env(to, ORT_LOGGING_LEVEL_ERROR, "shitu");
}

Ort::Env& GlobalOrtEnv() {
  EnsureOrtLoaded();
  static Ort::Env env = MakeEnv();
  return env;
}

const Ort::MemoryInfo& CpuMemoryInfo() {
  EnsureOrtLoaded();
  static Ort::MemoryInfo info = Ort::MemoryInfo::CreateCpu(OrtArenaAllocator, OrtMemTypeDefault);
  return info;
}

static std::string ElementTypeName(ONNXTensorElementDataType t) {
  switch (t) {
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT: return "float32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT16: return "float16";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_DOUBLE: return "float64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT32: return "int32";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT64: return "int64";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_UINT8: return "uint8";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_INT8: return "int8";
    case ONNX_TENSOR_ELEMENT_DATA_TYPE_BOOL: return "bool";
    default: return "other";
  }
}

static std::vector<TensorInfo> Describe(Ort::Session& s, bool inputs) {
  Ort::AllocatorWithDefaultOptions alloc;
  size_t n = inputs ? s.GetInputCount() : s.GetOutputCount();
  std::vector<TensorInfo> out;
  for (size_t i = 0; i < n; ++i) {
    TensorInfo ti;
    ti.name = (inputs ? s.GetInputNameAllocated(i, alloc) : s.GetOutputNameAllocated(i, alloc)).get();
    Ort::TypeInfo type = inputs ? s.GetInputTypeInfo(i) : s.GetOutputTypeInfo(i);
    if (type.GetONNXType() == ONNX_TYPE_TENSOR) {
      auto tensor = type.GetTensorTypeAndShapeInfo();
      ti.type = ElementTypeName(tensor.GetElementType());
      ti.shape = tensor.GetShape();
    } else {
      ti.type = "non-tensor";
    }
    out.push_back(std::move(ti));
  }
  return out;
}

static GraphOptimizationLevel OptLevel(const std::string& s) {
  if (s == "disable") return ORT_DISABLE_ALL;
  if (s == "basic") return ORT_ENABLE_BASIC;
  if (s == "extended") return ORT_ENABLE_EXTENDED;
  return ORT_ENABLE_ALL;
}

// ORT only logs why a provider library failed to load and throws a generic
// message; loading it here first names the missing file (the provider itself,
// or one of its CUDA / cuDNN / TensorRT dependencies).
static void CheckProviderLibrary(const std::string& file, const SessionOptions& o) {
  const std::string& ort = OrtLibraryPath();
  const std::string p = ort.substr(0, ort.find_last_of('/') + 1) + file;
  if (access(p.c_str(), R_OK) != 0)
    throw ShituError(kErrDevice, "cannot use device '" + o.device + "': " + p +
                                     " is not installed (npm run gpu:install puts ONNX Runtime's CUDA and "
                                     "TensorRT providers beside the addon)");
  if (!dlopen(p.c_str(), RTLD_NOW | RTLD_LOCAL)) {
    const char* e = dlerror();
    throw ShituError(kErrDevice, "cannot use device '" + o.device + "': " + file + " cannot be loaded: " +
                                     (e ? e : "unknown error") +
                                     " (it needs CUDA 13, cuBLAS, cuRAND and cuDNN 9 on the library path" +
                                     (o.tensorrt ? ", and TensorRT 10" : "") + ")");
  }
}

static void AddGpuProviders(Ort::SessionOptions& so, const SessionOptions& o, int deviceId,
                            const std::string& path) {
  CheckProviderLibrary("libonnxruntime_providers_cuda.so", o);
  if (o.tensorrt) CheckProviderLibrary("libonnxruntime_providers_tensorrt.so", o);
  try {
    if (o.tensorrt) {
      const OrtApi& api = Ort::GetApi();
      OrtTensorRTProviderOptionsV2* trt = nullptr;
      Ort::ThrowOnError(api.CreateTensorRTProviderOptions(&trt));
      std::unique_ptr<OrtTensorRTProviderOptionsV2, decltype(api.ReleaseTensorRTProviderOptions)>
          guard(trt, api.ReleaseTensorRTProviderOptions);
      std::string id = std::to_string(deviceId);
      std::vector<const char*> keys{"device_id", "trt_fp16_enable"};
      std::vector<const char*> vals{id.c_str(), o.tensorrtFp16 ? "1" : "0"};
      if (!o.tensorrtCacheDir.empty()) {
        keys.push_back("trt_engine_cache_enable");
        vals.push_back("1");
        keys.push_back("trt_engine_cache_path");
        vals.push_back(o.tensorrtCacheDir.c_str());
      }
      Ort::ThrowOnError(api.UpdateTensorRTProviderOptions(trt, keys.data(), vals.data(), keys.size()));
      so.AppendExecutionProvider_TensorRT_V2(*trt);
    }
    OrtCUDAProviderOptions cuda{};
    cuda.device_id = deviceId;
    so.AppendExecutionProvider_CUDA(cuda);
  } catch (const Ort::Exception& e) {
    throw ShituError(kErrDevice, "cannot use device '" + o.device + "' for model '" + path +
                                     "': the GPU execution provider could not be loaded (" + e.what() +
                                     "). GPU support needs the ONNX Runtime GPU provider libraries "
                                     "beside the addon, the CUDA runtime, cuBLAS and cuDNN, and an NVIDIA driver.");
  }
}

std::shared_ptr<ModelSession> ModelSession::Load(const std::string& path, std::string bytes,
                                                 const SessionOptions& o) {
  if (bytes.empty()) {
    std::ifstream f(path, std::ios::binary);
    if (!f) throw ShituError(kErrModelLoad, "cannot read model '" + path + "': " + std::strerror(errno));
    std::ostringstream ss;
    ss << f.rdbuf();
    bytes = ss.str();
    if (bytes.empty()) throw ShituError(kErrModelLoad, "model '" + path + "' is empty");
  }
  // The environment (and its logger) must exist before providers are appended:
  // otherwise a missing CUDA library is reported as "no DefaultLogger".
  GlobalOrtEnv();
  auto m = std::shared_ptr<ModelSession>(new ModelSession());
  m->path_ = path;
  m->device_ = o.device;
  if (o.stripInitializerInputs) {
    // In place: copying a model of tens of MB costs more than parsing it.
    StrippedModel s;
    try {
      s = StripInitializerInputs(std::move(bytes));
    } catch (const ShituError& e) {
      throw ShituError(kErrModelLoad, "cannot load model '" + path + "': " + e.what());
    }
    m->strippedInputs_ = s.removedInputs;
    bytes = std::move(s.bytes);
  }

  Ort::SessionOptions so;
  if (o.sharedThreadPool) {
    so.DisablePerSessionThreads();
  } else {
    if (o.intraOpThreads > 0) so.SetIntraOpNumThreads(o.intraOpThreads);
    so.SetInterOpNumThreads(o.interOpThreads > 0 ? o.interOpThreads : 1);
  }
  so.SetGraphOptimizationLevel(OptLevel(o.graphOptimization));
  so.SetLogSeverityLevel(ORT_LOGGING_LEVEL_ERROR);
  so.AddConfigEntry("session.intra_op.allow_spinning", o.spinning ? "1" : "0");
  so.AddConfigEntry("session.inter_op.allow_spinning", o.spinning ? "1" : "0");

  if (o.device.rfind("gpu", 0) == 0) {
    int id = 0;
    auto colon = o.device.find(':');
    if (colon != std::string::npos) id = std::stoi(o.device.substr(colon + 1));
    AddGpuProviders(so, o, id, path);
  } else if (o.device != "cpu") {
    throw ShituError(kErrDevice, "unknown device '" + o.device + "' (expected \"cpu\" or \"gpu:N\")");
  }

  try {
    m->session_ = std::make_unique<Ort::Session>(GlobalOrtEnv(), bytes.data(), bytes.size(), so);
  } catch (const Ort::Exception& e) {
    std::string msg = e.what();
    bool deviceProblem = o.device != "cpu" &&
                         (msg.find("CUDA") != std::string::npos || msg.find("cuda") != std::string::npos ||
                          msg.find("TensorRT") != std::string::npos || msg.find(".so") != std::string::npos);
    throw ShituError(deviceProblem ? kErrDevice : kErrModelLoad, "cannot load model '" + path + "': " + msg);
  }
  m->inputs_ = Describe(*m->session_, true);
  m->outputs_ = Describe(*m->session_, false);
  return m;
}

const TensorInfo* ModelSession::FindInput(const std::string& name) const {
  for (auto& t : inputs_) if (t.name == name) return &t;
  return nullptr;
}

const TensorInfo* ModelSession::FindOutput(const std::string& name) const {
  for (auto& t : outputs_) if (t.name == name) return &t;
  return nullptr;
}

std::vector<Ort::Value> ModelSession::Run(const std::vector<const char*>& inputNames,
                                          std::vector<Ort::Value>& inputs,
                                          const std::vector<const char*>& outputNames) {
  try {
    return session_->Run(Ort::RunOptions{nullptr}, inputNames.data(), inputs.data(), inputs.size(),
                         outputNames.data(), outputNames.size());
  } catch (const Ort::Exception& e) {
    throw ShituError(kErrInference, "inference failed in model '" + path_ + "': " + e.what());
  }
}

}  // namespace shitu

// One ONNX Runtime session per model file, shared by every worker thread
// (Ort::Session::Run is thread-safe). Knows its inputs/outputs so the
// detector and feature extractor can check the model's contract.
#pragma once
#include "ort_loader.h"

#include <memory>
#include <string>
#include <vector>

namespace shitu {

struct SessionOptions {
  int intraOpThreads = 0;            // 0 = ONNX Runtime's default (one per core)
  int interOpThreads = 1;
  std::string graphOptimization = "all";  // "disable" | "basic" | "extended" | "all"
  std::string device = "cpu";        // "cpu" | "gpu:N"
  bool tensorrt = false;             // with gpu: TensorRT first, CUDA for the rest
  std::string tensorrtCacheDir;
  bool tensorrtFp16 = true;
  bool stripInitializerInputs = true;  // see onnx_model_bytes.h
  // ORT's pool threads busy-wait after each Run by default. A recognition runs
  // two sessions back to back (and servers run several at once), so spinning
  // pools steal each other's cores: off unless asked for.
  bool spinning = false;
  // Run on the process-wide intra-op pool (one thread per core the process may
  // use, not spinning) instead of a pool of this session's own: the detector's
  // and the feature model's sessions (and every pipeline's) then share one set
  // of threads instead of each keeping intraOpThreads of its own on the same
  // cores. intraOpThreads is ignored then.
  bool sharedThreadPool = false;
};

// Threads in the process-wide pool (the cores this process may run on).
int SharedThreadPoolSize();

struct TensorInfo {
  std::string name;
  std::string type;               // "float32", "int32", ...
  std::vector<int64_t> shape;     // -1 for a symbolic dimension
};

class ModelSession {
 public:
  // `path` names the model in errors; `bytes` may be empty, then `path` is read.
  static std::shared_ptr<ModelSession> Load(const std::string& path, std::string bytes,
                                            const SessionOptions& options);

  const std::vector<TensorInfo>& inputs() const { return inputs_; }
  const std::vector<TensorInfo>& outputs() const { return outputs_; }
  const TensorInfo* FindInput(const std::string& name) const;
  const TensorInfo* FindOutput(const std::string& name) const;
  const std::string& path() const { return path_; }
  const std::string& device() const { return device_; }
  int strippedInputs() const { return strippedInputs_; }

  std::vector<Ort::Value> Run(const std::vector<const char*>& inputNames,
                              std::vector<Ort::Value>& inputs,
                              const std::vector<const char*>& outputNames);

 private:
  std::unique_ptr<Ort::Session> session_;
  std::vector<TensorInfo> inputs_, outputs_;
  std::string path_, device_;
  int strippedInputs_ = 0;
};

Ort::Env& GlobalOrtEnv();
const Ort::MemoryInfo& CpuMemoryInfo();

}  // namespace shitu

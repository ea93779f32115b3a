// Helpers shared by the N-API binding files (js_*.cc): reading option objects on
// the JS thread into plain structs, and a job for the addon's worker pool that
// turns native exceptions into rejected promises whose Error carries `code`.
#pragma once
#include <napi.h>

#include <functional>
#include <string>
#include <vector>

#include "cancel.h"
#include "errors.h"
#include "worker_pool.h"

namespace shitu {

// Error with .code set; thrown on the JS thread.
Napi::Error MakeError(Napi::Env env, const std::string& code, const std::string& message);

// Option readers (throw TypeError on a wrong type; the TS layer has already
// validated, these are the last guard).
double GetNumber(const Napi::Object& o, const char* key, double fallback);
int GetInt(const Napi::Object& o, const char* key, int fallback);
bool GetBool(const Napi::Object& o, const char* key, bool fallback);
std::string GetString(const Napi::Object& o, const char* key, const std::string& fallback);
std::vector<float> GetFloatArray(const Napi::Object& o, const char* key, std::vector<float> fallback);
std::vector<std::string> GetStringArray(const Napi::Object& o, const char* key);
std::vector<int> GetIntArray(const Napi::Object& o, const char* key, std::vector<int> fallback);

// options.cancel (cancel.h): absent or null gives no flag; otherwise it must be
// an Int32Array of at least one element over a SharedArrayBuffer (TypeError
// otherwise), which is appended to `keep` so it lives as long as the job.
CancelFlag ParseCancel(const Napi::Object& o, std::vector<Napi::Value>& keep);

// A promise-returning job on the addon's own threads (worker_pool.h), never on
// libuv's thread pool. `work` runs on a pool thread and may throw ShituError or
// std::exception; `done` builds the resolved value on the JS thread. Buffers
// handed to the worker must be kept alive through `keep`.
class PromiseWorker : public PoolJob {
 public:
  using Work = std::function<void()>;
  using Done = std::function<Napi::Value(Napi::Env)>;
  static Napi::Promise Queue(Napi::Env env, Work work, Done done,
                             std::vector<Napi::Value> keep = {});

  void Execute() override;
  void Complete(Napi::Env env) override;

 private:
  PromiseWorker(Napi::Env env, Work work, Done done, std::vector<Napi::Value> keep);
  Napi::Promise::Deferred deferred_;
  Work work_;
  Done done_;
  std::vector<Napi::Reference<Napi::Value>> keep_;
  bool failed_ = false;
  std::string code_;
  std::string message_;
};

}  // namespace shitu

// The worker pool's JS face (worker_pool.h):
//   reserveWorkers(n: number): number   grow this environment's pool to n threads
//                                        (at most maxWorkers); returns its size
//   stopWorkers(): void   stop this environment's pool now: running jobs stop at
//       their next stage boundary, the threads are joined, later jobs are
//       refused (ERR_ABORTED). The loader calls it on process 'exit': a
//       process.exit() with recognitions running otherwise reaches the C
//       library's exit(), whose static destructors (ONNX Runtime's environment,
//       FAISS, OpenCV) ran under the still-working threads: SIGSEGV.
//   workerPoolStats(): {threads, size, busy, queued, maxWorkers}
//       threads: running (0 until the first job), size: what it has or will start
//       with, busy: threads running a job, queued: jobs waiting for a thread
#include <cmath>

#include "addon_data.h"
#include "bindings.h"

namespace shitu {

static Napi::Value ReserveWorkersJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "reserveWorkers(n): n must be a number");
  const double n = info[0].As<Napi::Number>().DoubleValue();
  if (!std::isfinite(n) || std::floor(n) != n || n < 1)
    throw Napi::RangeError::New(env, "reserveWorkers(n): n must be a positive integer");
  const int want = n > kMaxWorkerThreads ? kMaxWorkerThreads : static_cast<int>(n);
  return Napi::Number::New(env, GetAddonData(env).pool.Reserve(want));
}

static Napi::Value WorkerPoolStatsJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  WorkerPoolStats s = GetAddonData(env).pool.Stats();
  Napi::Object o = Napi::Object::New(env);
  o.Set("threads", s.threads);
  o.Set("size", s.size);
  o.Set("busy", s.busy);
  o.Set("queued", static_cast<double>(s.queued));
  o.Set("maxWorkers", kMaxWorkerThreads);
  return o;
}

static Napi::Value StopWorkersJs(const Napi::CallbackInfo& info) {
  GetAddonData(info.Env()).pool.Stop();
  return info.Env().Undefined();
}

void InitWorkerPoolBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("stopWorkers", Napi::Function::New(env, StopWorkersJs, "stopWorkers"));
  exports.Set("reserveWorkers", Napi::Function::New(env, ReserveWorkersJs, "reserveWorkers"));
  exports.Set("workerPoolStats", Napi::Function::New(env, WorkerPoolStatsJs, "workerPoolStats"));
}

}  // namespace shitu

// The addon's own worker threads. Every async binding
// (recognize, detect, embed, decode/probe, draw, model load, index
// build/add/remove/search/save/load...) runs its heavy work here, through
// PromiseWorker::Queue (js_common.h), never on libuv's thread pool: that pool
// (4 threads by default) belongs to the host application, whose fs, dns.lookup,
// crypto and zlib calls would otherwise queue behind our recognitions (measured
// before: a 3 KB fs.readFile waited p99 ~3 s beside 16 recognitions).
//
// Design:
// - One pool per JS environment (the main thread and each worker_threads
//   Worker), kept in AddonData. Its completions must reach that environment's
//   JS thread, through its own thread-safe function; a process-wide pool would
//   need one per environment anyway and would outlive a terminated Worker. The
//   heavy state (ONNX Runtime sessions, indexes) is shared by pointer and safe
//   from any thread, so per-environment threads cost only their stacks.
// - Started lazily on the first job, so loading the addon (the CLI's --help, a
//   Worker that never recognises) starts no thread.
// - Size: min(cores, 4) by default (cores: the CPUs this process may run on),
//   as libuv's default; grown, never shrunk, by reserveWorkers(n) to n threads
//   (at most kMaxWorkerThreads). createPipeline reserves its `concurrency`, so
//   the recognitions a pipeline lets run at once all find a thread. Each job is
//   CPU-bound (ONNX Runtime has its own intra-op threads per session), so more
//   threads than jobs in flight would only add stacks.
// - Jobs wait in one FIFO queue. A finished job is handed to the JS thread
//   through a napi_threadsafe_function that is referenced only while jobs are
//   pending: an idle pool never keeps the process (or a Worker) alive, a busy
//   one does, as libuv's async work did.
// - Teardown: an environment cleanup hook (and the thread-safe function's
//   finalizer, whichever comes first) sets the stop flag, which also cancels
//   running jobs at their next stage boundary (cancel.h), joins the threads and
//   frees the jobs that never completed; their promises are left unsettled,
//   since nobody remains to observe them.
#pragma once
#include <napi.h>

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <unordered_set>
#include <vector>

namespace shitu {

// The most threads reserveWorkers() grows a pool to (one environment's).
inline constexpr int kMaxWorkerThreads = 16;
// The default size's cap (libuv's default pool size).
inline constexpr int kDefaultWorkerThreads = 4;

// One unit of work. Execute runs on a pool thread and must not throw or touch
// JS values; Complete and the destructor run on the JS thread.
class PoolJob {
 public:
  virtual ~PoolJob() = default;
  virtual void Execute() = 0;
  virtual void Complete(Napi::Env env) = 0;
};

struct WorkerPoolStats {
  int threads = 0;  // running (0 before the first job)
  int size = 0;     // what the pool has or will start with
  int busy = 0;     // threads executing a job
  size_t queued = 0;
};

class WorkerPool {
 public:
  WorkerPool();
  ~WorkerPool();
  WorkerPool(const WorkerPool&) = delete;
  WorkerPool& operator=(const WorkerPool&) = delete;

  // JS thread. Takes ownership; starts the pool on first use. Throws
  // Napi::Error (ERR_ABORTED) once the environment is shutting down.
  void Queue(Napi::Env env, std::unique_ptr<PoolJob> job);
  // JS thread. Grows to min(n, kMaxWorkerThreads) threads; returns the size.
  int Reserve(int n);
  WorkerPoolStats Stats() const;
  // JS thread. Stops for good: running jobs at their next stage boundary, the
  // threads joined, jobs not completed freed (their promises never settle). The
  // environment's teardown calls it, and process 'exit' (js_worker_pool.cc).
  void Stop();

 private:
  struct Link;  // what the thread-safe function's callbacks reach (worker_pool.cc)
  void Start(Napi::Env env);
  void SpawnLocked(int target);
  void ThreadMain();
  void Deliver(Napi::Env env, PoolJob* job);
  static void CleanupHook(void* self);
  static void CallJs(napi_env env, napi_value, void* context, void* data);
  static void Finalize(napi_env env, void* data, void* hint);

  napi_env env_ = nullptr;
  napi_threadsafe_function tsfn_ = nullptr;
  std::shared_ptr<Link> link_;
  bool started_ = false;
  bool stopped_ = false;
  size_t pending_ = 0;                 // JS thread: queued, running or awaiting delivery
  std::unordered_set<PoolJob*> live_;  // JS thread: owned until delivered or stopped
  int size_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<PoolJob*> queue_;
  std::vector<std::thread> threads_;
  int busy_ = 0;
  std::atomic<bool> stopping_{false};
};

}  // namespace shitu

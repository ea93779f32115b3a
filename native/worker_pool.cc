#include "worker_pool.h"

#include <pthread.h>
#include <sched.h>

#include <algorithm>
#include <system_error>

#include "cancel.h"
#include "errors.h"
#include "js_common.h"

namespace shitu {

// What the thread-safe function's callbacks reach. Shared by the pool and the
// thread-safe function (which may be finalised before or after the pool is
// stopped, depending on the order of the environment's cleanup hooks); only
// touched on the JS thread.
struct WorkerPool::Link {
  WorkerPool* pool = nullptr;  // null once the pool has stopped
  bool tsfnAlive = true;       // false once the thread-safe function is released or finalised
};

namespace {

// The CPUs this process may run on (as libuv's uv_available_parallelism), at least 1.
int AvailableCores() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    const int n = CPU_COUNT(&set);
    if (n > 0) return n;
  }
  const unsigned hc = std::thread::hardware_concurrency();
  return hc > 0 ? static_cast<int>(hc) : 1;
}

}  // namespace

WorkerPool::WorkerPool() : size_(std::min(AvailableCores(), kDefaultWorkerThreads)) {}

WorkerPool::~WorkerPool() { Stop(); }

void WorkerPool::Start(Napi::Env env) {
  env_ = env;
  link_ = std::make_shared<Link>();
  link_->pool = this;
  // Registered before the thread-safe function exists, so it runs after that
  // function's own cleanup hook has closed it (hooks run in reverse order).
  if (napi_add_env_cleanup_hook(env_, CleanupHook, this) != napi_ok)
    throw MakeError(env, kErrInternal, "cannot register the worker pool's cleanup hook");
  auto* ctx = new std::shared_ptr<Link>(link_);
  napi_value name;
  napi_create_string_utf8(env_, "shitu", NAPI_AUTO_LENGTH, &name);
  if (napi_create_threadsafe_function(env_, nullptr, nullptr, name, 0, 1, ctx, Finalize, ctx, CallJs, &tsfn_) != napi_ok) {
    delete ctx;
    napi_remove_env_cleanup_hook(env_, CleanupHook, this);
    throw MakeError(env, kErrInternal, "cannot create the worker pool's thread-safe function");
  }
  napi_unref_threadsafe_function(env_, tsfn_);  // referenced only while jobs are pending
  started_ = true;
  std::lock_guard<std::mutex> lock(mu_);
  SpawnLocked(size_);
  if (threads_.empty()) throw MakeError(env, kErrInternal, "cannot start any worker thread");
}

void WorkerPool::SpawnLocked(int target) {
  while (static_cast<int>(threads_.size()) < target) {
    try {
      threads_.emplace_back(&WorkerPool::ThreadMain, this);
    } catch (const std::system_error&) {
      break;  // the system refuses more threads: keep those we have
    }
  }
}

void WorkerPool::Queue(Napi::Env env, std::unique_ptr<PoolJob> job) {
  if (stopped_) throw MakeError(env, kErrAborted, "the addon's environment is shutting down");
  if (!started_) Start(env);
  PoolJob* raw = job.release();
  live_.insert(raw);
  if (pending_++ == 0) napi_ref_threadsafe_function(env_, tsfn_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(raw);
  }
  cv_.notify_one();
}

int WorkerPool::Reserve(int n) {
  size_ = std::max(size_, std::min(n, kMaxWorkerThreads));
  if (started_ && !stopped_) {
    std::lock_guard<std::mutex> lock(mu_);
    SpawnLocked(size_);
  }
  return size_;
}

WorkerPoolStats WorkerPool::Stats() const {
  std::lock_guard<std::mutex> lock(mu_);
  WorkerPoolStats s;
  s.threads = static_cast<int>(threads_.size());
  s.size = size_;
  s.busy = busy_;
  s.queued = queue_.size();
  return s;
}

void WorkerPool::ThreadMain() {
  pthread_setname_np(pthread_self(), "shitu-worker");
  tPoolStopping = &stopping_;
  for (;;) {
    PoolJob* job = nullptr;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [this] { return stopping_.load() || !queue_.empty(); });
      if (stopping_.load()) return;  // queued jobs are freed by Stop on the JS thread
      job = queue_.front();
      queue_.pop_front();
      ++busy_;
    }
    try {
      job->Execute();
    } catch (...) {
      // Execute reports its own failures; nothing may escape a thread.
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      --busy_;
    }
    // Fails only while the environment is closing: then Stop frees the job.
    napi_call_threadsafe_function(tsfn_, job, napi_tsfn_nonblocking);
  }
}

void WorkerPool::Deliver(Napi::Env env, PoolJob* job) {
  if (live_.erase(job) == 0) return;
  std::unique_ptr<PoolJob> own(job);
  try {
    own->Complete(env);
  } catch (...) {
    // Complete settles its promise itself; a failure here has nobody to go to.
  }
  own.reset();
  if (--pending_ == 0 && link_->tsfnAlive) napi_unref_threadsafe_function(env_, tsfn_);
}

void WorkerPool::Stop() {
  if (stopped_) return;
  stopped_ = true;
  if (!started_) return;
  link_->pool = nullptr;  // no delivery from here on
  napi_remove_env_cleanup_hook(env_, CleanupHook, this);
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_.store(true);  // also cancels running jobs at their next stage boundary
  }
  cv_.notify_all();
  for (std::thread& t : threads_) t.join();
  threads_.clear();
  // No thread touches the queue or the thread-safe function any more.
  queue_.clear();
  for (PoolJob* job : live_) delete job;
  live_.clear();
  pending_ = 0;
  if (link_->tsfnAlive) {
    link_->tsfnAlive = false;
    napi_release_threadsafe_function(tsfn_, napi_tsfn_abort);
  }
}

void WorkerPool::CleanupHook(void* self) { static_cast<WorkerPool*>(self)->Stop(); }

void WorkerPool::CallJs(napi_env env, napi_value, void* context, void* data) {
  if (!env) return;  // the environment is gone: Stop frees the job
  auto& link = *static_cast<std::shared_ptr<Link>*>(context);
  if (link->pool) link->pool->Deliver(Napi::Env(env), static_cast<PoolJob*>(data));
}

// Runs before Node frees the thread-safe function, so the threads (which call
// it) are joined first when the environment's teardown gets here before the
// pool's own cleanup hook.
void WorkerPool::Finalize(napi_env, void* data, void*) {
  auto* link = static_cast<std::shared_ptr<Link>*>(data);
  (*link)->tsfnAlive = false;
  if (WorkerPool* pool = (*link)->pool) pool->Stop();
  delete link;
}

}  // namespace shitu

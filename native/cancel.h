// Cancellation of a running native job (native half). The JS
// caller passes `cancel`: an Int32Array over a SharedArrayBuffer whose first
// element it sets non-zero (Atomics.store) to cancel; the job reads it with an
// atomic load at its stage boundaries and stops there with ERR_ABORTED, so
// nothing half-done is ever published (an aborted index add or remove leaves
// the index as it was). A SharedArrayBuffer is required because it can never be
// detached: the pointer stays valid while the binding keeps the array referenced
// for the job's life (js_common.h ParseCancel).
//
// A job running on a pool thread (worker_pool.h) also stops at its next stage
// boundary once the pool is stopping (its environment is going away), so a
// terminated worker_threads Worker is not held up by a long job.
// Plain C++: no N-API here.
#pragma once
#include <atomic>
#include <cstdint>
#include <string>

#include "errors.h"

namespace shitu {

// Set by the worker pool on each of its threads to the pool's stop flag.
inline thread_local const std::atomic<bool>* tPoolStopping = nullptr;

class CancelFlag {
 public:
  CancelFlag() = default;
  explicit CancelFlag(const int32_t* flag) : flag_(flag) {}

  bool Cancelled() const {
    if (flag_ && __atomic_load_n(flag_, __ATOMIC_ACQUIRE) != 0) return true;
    return tPoolStopping && tPoolStopping->load(std::memory_order_acquire);
  }
  // `where`: the stage boundary, for the message ("after decoding", ...).
  void ThrowIfCancelled(const char* where) const {
    if (Cancelled()) throw ShituError(kErrAborted, std::string("aborted ") + where);
  }

 private:
  const int32_t* flag_ = nullptr;  // null: only the pool's stop flag counts
};

}  // namespace shitu

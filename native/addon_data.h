// Per-environment state of the addon: one instance per JS environment (the
// main thread and each worker_threads Worker), stored as node-addon-api
// instance data and freed with that environment. A JS handle (a class
// constructor) belongs to the environment that created it; a process-wide
// static one used from another thread aborts V8 (HandleScope::CreateHandle),
// or points at freed memory once its worker has exited.
//
// What stays process-wide, on purpose: ONNX Runtime's Ort::Env and its loaded
// library (model_session.cc, ort_loader.cc: one per process is what ORT
// supports; sessions are shared by pointer and safe to run from any thread),
// FAISS's OpenMP pool (libgomp's, one per process), and the FreeType library
// with its font cache (text_renderer.cc, under a mutex). None holds JS values.
// Not process-wide: the worker pool (worker_pool.h), whose completions must
// reach its own environment's JS thread.
#pragma once
#include <napi.h>

#include "worker_pool.h"

namespace shitu {

struct AddonData {
  Napi::FunctionReference modelCtor;      // js_model.cc
  Napi::FunctionReference detectorCtor;   // js_detector.cc
  Napi::FunctionReference extractorCtor;  // js_feature_extractor.cc
  Napi::FunctionReference vectorIndexCtor;  // js_vector_index.cc
  // Last, so it is destroyed first: stopping it frees jobs that hold references.
  WorkerPool pool;                        // worker_pool.h, js_worker_pool.cc
};

// This environment's state; set up by addon.cc before any binding registers.
inline AddonData& GetAddonData(Napi::Env env) { return *env.GetInstanceData<AddonData>(); }

}  // namespace shitu

// One registration function per binding file (js_*.cc).
#pragma once
#include <napi.h>

namespace shitu {
void InitImageBindings(Napi::Env env, Napi::Object exports);        // js_image.cc
void InitModelBindings(Napi::Env env, Napi::Object exports);        // js_model.cc
void InitVectorIndexBindings(Napi::Env env, Napi::Object exports);  // js_vector_index.cc
void InitDetectorBindings(Napi::Env env, Napi::Object exports);     // js_detector.cc
void InitFeatureExtractorBindings(Napi::Env env, Napi::Object exports); // js_feature_extractor.cc
void InitRecognizeBindings(Napi::Env env, Napi::Object exports);    // js_recognize.cc
void InitDrawBindings(Napi::Env env, Napi::Object exports);         // js_draw.cc
void InitMemoryBindings(Napi::Env env, Napi::Object exports);       // js_memory.cc
void InitPathExchangeBindings(Napi::Env env, Napi::Object exports); // js_path_exchange.cc
void InitWorkerPoolBindings(Napi::Env env, Napi::Object exports);   // js_worker_pool.cc
void InitContractBindings(Napi::Env env, Napi::Object exports);     // js_contracts.cc
}  // namespace shitu

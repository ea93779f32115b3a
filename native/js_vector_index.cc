// JS class `VectorIndex` over shitu::VectorIndex (vector_index.h).
//
//   new VectorIndex(dim: number, type: string, metric: 'IP' | 'L2', options?: {efConstruction?: number})
//       (efConstruction: HNSW types only, 1 .. 2^20; default FAISS's 40)
//   VectorIndex.readFile(path: string, options?: {verify?: boolean}): Promise<VectorIndex>
//   VectorIndex.fromBuffer(bytes: Uint8Array, options?: {verify?: boolean}): Promise<VectorIndex>
//       (bytes must not change until it settles; verify (default true) runs the
//       structural check of faiss_file_check.h before FAISS reads the bytes)
//   VectorIndex.checkFile(path: string): Promise<{outer, inner, dim, ntotal, nlist, storedVectors}>
//   add(vectors: Float32Array, ids: BigInt64Array, options?: {cancel?}): Promise<void>
//       (arrays are copied: reusable at once)
//   search(queries: Float32Array, k: number, params?: {nprobe?: number, efSearch?: number, rerank?: number})
//       : Promise<{ids: BigInt64Array, scores: Float32Array}>           (row-major nq x k, id -1 = no hit)
//   remove(ids: BigInt64Array, tombstone?: boolean, options?: {cancel?}): Promise<number>
//       (add and remove: `cancel`, an Int32Array over a SharedArrayBuffer set
//       non-zero, rejects with ERR_ABORTED and leaves the index unchanged, if set
//       before the index is changed: cancel.h)
//   compact(): Promise<void>
//   writeFile(path: string): Promise<void>
//   toBuffer(): Promise<Buffer>
//   reconstruct(id: number | bigint): Float32Array                    (sync)
//   ids(): BigInt64Array                                                (sync)
//   count(), dim(), tombstones(), droppedVectors(): number; type(), metric(): string    (sync, never wait)
//
// Argument mistakes throw TypeError/RangeError synchronously (non-finite numbers
// included). Index failures reject (or, for the sync calls, throw) an Error with
// `code` (ERR_INDEX_DIM, ERR_INDEX_ID, ERR_INDEX_UNSUPPORTED, ERR_INDEX_IO).
// reconstruct() and ids() take the index's shared lock: they wait while an add,
// remove, compact or save is running.
#include "js_vector_index.h"

#include <cmath>
#include <cstring>
#include "addon_data.h"
#include "bindings.h"
#include "faiss_file_check.h"
#include "js_common.h"

namespace shitu {

namespace {

constexpr double kMaxDim = 65536;
constexpr double kMaxK = 2147483647.0;
constexpr double kMaxSafeInteger = 9007199254740991.0;

// Marks real instances, so UnwrapVectorIndex cannot be fooled by an object that
// merely inherits VectorIndex.prototype.
constexpr napi_type_tag kVectorIndexTag = {0x5f3c6a1e2b7d4c90ULL, 0x8e41d2f7a6b30c15ULL};

bool IsWholeNumber(double d) { return std::isfinite(d) && std::floor(d) == d; }

Napi::Float32Array RequireFloat32Array(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array) {
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a Float32Array");
  }
  return v.As<Napi::Float32Array>();
}

Napi::BigInt64Array RequireBigInt64Array(const Napi::Value& v, const char* what) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != napi_bigint64_array) {
    throw Napi::TypeError::New(v.Env(), std::string(what) + " must be a BigInt64Array");
  }
  return v.As<Napi::BigInt64Array>();
}

// Copies on the JS thread so the caller may reuse its array immediately.
std::shared_ptr<std::vector<float>> CopyFinite(const Napi::Float32Array& a, int dim, const char* what) {
  const float* p = a.Data();
  auto out = std::make_shared<std::vector<float>>(p, p + a.ElementLength());
  for (size_t i = 0; i < out->size(); ++i) {
    if (!std::isfinite((*out)[i])) {
      throw Napi::RangeError::New(a.Env(), std::string(what) + ": vector " + std::to_string(i / dim) +
                                               " holds a non-finite value (NaN or Infinity)");
    }
  }
  return out;
}

int64_t ParseId(const Napi::Value& v) {
  if (v.IsNumber()) {
    const double d = v.As<Napi::Number>().DoubleValue();
    if (!IsWholeNumber(d) || std::fabs(d) > kMaxSafeInteger) {
      throw Napi::RangeError::New(v.Env(), "id must be a safe integer");
    }
    return static_cast<int64_t>(d);
  }
  if (v.IsBigInt()) {
    bool lossless = false;
    const int64_t id = v.As<Napi::BigInt>().Int64Value(&lossless);
    if (!lossless) throw Napi::RangeError::New(v.Env(), "id does not fit in 64 bits");
    return id;
  }
  throw Napi::TypeError::New(v.Env(), "id must be a number or a bigint");
}

// params.nprobe / params.efSearch: absent = the index's own setting.
int PositiveIntOption(const Napi::Object& o, const char* key) {
  const double d = GetNumber(o, key, 0);
  if (d == 0 && (o.Get(key).IsUndefined() || o.Get(key).IsNull())) return 0;
  if (!IsWholeNumber(d) || d < 1 || d > kMaxK) {
    throw Napi::RangeError::New(o.Env(), std::string("search option '") + key + "' must be a positive integer");
  }
  return static_cast<int>(d);
}

Napi::BigInt64Array IdsToJs(Napi::Env env, const std::vector<int64_t>& ids) {
  auto out = Napi::BigInt64Array::New(env, ids.size());
  if (!ids.empty()) std::memcpy(out.Data(), ids.data(), ids.size() * sizeof(int64_t));
  return out;
}

Napi::Float32Array FloatsToJs(Napi::Env env, const std::vector<float>& v) {
  auto out = Napi::Float32Array::New(env, v.size());
  if (!v.empty()) std::memcpy(out.Data(), v.data(), v.size() * sizeof(float));
  return out;
}

Napi::Value Undefined(Napi::Env env) { return env.Undefined(); }

class JsVectorIndex : public Napi::ObjectWrap<JsVectorIndex> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "VectorIndex",
                       {
                           StaticMethod("readFile", &JsVectorIndex::ReadFile),
                           StaticMethod("fromBuffer", &JsVectorIndex::FromBuffer),
                           StaticMethod("checkFile", &JsVectorIndex::CheckFile),
                           InstanceMethod("add", &JsVectorIndex::Add),
                           InstanceMethod("search", &JsVectorIndex::Search),
                           InstanceMethod("remove", &JsVectorIndex::Remove),
                           InstanceMethod("compact", &JsVectorIndex::Compact),
                           InstanceMethod("reconstruct", &JsVectorIndex::Reconstruct),
                           InstanceMethod("writeFile", &JsVectorIndex::WriteFile),
                           InstanceMethod("toBuffer", &JsVectorIndex::ToBuffer),
                           InstanceMethod("count", &JsVectorIndex::Count),
                           InstanceMethod("dim", &JsVectorIndex::Dim),
                           InstanceMethod("type", &JsVectorIndex::Type),
                           InstanceMethod("metric", &JsVectorIndex::Metric),
                           InstanceMethod("ids", &JsVectorIndex::Ids),
                           InstanceMethod("tombstones", &JsVectorIndex::Tombstones),
                           InstanceMethod("droppedVectors", &JsVectorIndex::DroppedVectors),
                       });
  }

  // A JS object around an index built in C++ (the constructor recognises the
  // External; JS code cannot make one).
  static Napi::Object NewInstance(Napi::Env env, std::shared_ptr<VectorIndex> index) {
    // This environment's constructor (addon_data.h), set by InitVectorIndexBindings.
    Napi::FunctionReference& ctor = GetAddonData(env).vectorIndexCtor;
    if (ctor.IsEmpty()) throw Napi::Error::New(env, "VectorIndex is not initialised in this environment");
    return ctor.New({Napi::External<std::shared_ptr<VectorIndex>>::New(env, &index)});
  }

  explicit JsVectorIndex(const Napi::CallbackInfo& info) : Napi::ObjectWrap<JsVectorIndex>(info) {
    Napi::Env env = info.Env();
    if (info.Length() == 1 && info[0].IsExternal()) {
      index_ = *info[0].As<Napi::External<std::shared_ptr<VectorIndex>>>().Data();
    } else {
      if (!info[0].IsNumber()) throw Napi::TypeError::New(env, "dim must be a number");
      const double dim = info[0].As<Napi::Number>().DoubleValue();
      if (!IsWholeNumber(dim) || dim < 1 || dim > kMaxDim) {
        throw Napi::RangeError::New(env, "dim must be an integer from 1 to 65536");
      }
      if (!info[1].IsString()) throw Napi::TypeError::New(env, "type must be a string ('Flat', 'IVF', 'HNSW32' or a FAISS factory string)");
      if (!info[2].IsString()) throw Napi::TypeError::New(env, "metric must be a string ('IP' or 'L2')");
      const std::string type = info[1].As<Napi::String>().Utf8Value();
      const std::string metric = info[2].As<Napi::String>().Utf8Value();
      if (type.empty()) throw Napi::RangeError::New(env, "type must not be empty");
      if (metric != "IP" && metric != "L2") throw Napi::RangeError::New(env, "metric must be 'IP' or 'L2', got '" + metric + "'");
      int efConstruction = 0;
      if (info.Length() > 3 && !info[3].IsUndefined() && !info[3].IsNull()) {
        if (!info[3].IsObject()) throw Napi::TypeError::New(env, "options must be an object");
        Napi::Value ef = info[3].As<Napi::Object>().Get("efConstruction");
        if (!ef.IsUndefined()) {
          if (!ef.IsNumber()) throw Napi::TypeError::New(env, "options.efConstruction must be a number");
          const double e = ef.As<Napi::Number>().DoubleValue();
          if (!IsWholeNumber(e) || e < 1 || e > (1 << 20)) throw Napi::RangeError::New(env, "options.efConstruction must be an integer from 1 to 1048576");
          efConstruction = static_cast<int>(e);
        }
      }
      try {
        index_ = std::make_shared<VectorIndex>(static_cast<int>(dim), type, metric, efConstruction);
      } catch (const ShituError& e) {  // a factory string FAISS does not understand
        throw MakeError(env, e.code(), e.what());
      }
    }
    info.This().As<Napi::Object>().TypeTag(&kVectorIndexTag);
  }

  const std::shared_ptr<VectorIndex>& index() const { return index_; }

 private:
  // info[i] as an options object (absent or undefined: an empty one).
  static Napi::Object OptionsArg(const Napi::CallbackInfo& info, size_t i) {
    if (info.Length() <= i || info[i].IsUndefined()) return Napi::Object::New(info.Env());
    if (!info[i].IsObject()) throw Napi::TypeError::New(info.Env(), "options must be an object");
    return info[i].As<Napi::Object>();
  }

  // options.verify: absent = true.
  static bool VerifyOption(const Napi::CallbackInfo& info, size_t i) {
    if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return true;
    if (!info[i].IsObject()) throw Napi::TypeError::New(info.Env(), "options must be an object");
    Napi::Value v = info[i].As<Napi::Object>().Get("verify");
    if (v.IsUndefined()) return true;
    if (!v.IsBoolean()) throw Napi::TypeError::New(info.Env(), "options.verify must be a boolean");
    return v.As<Napi::Boolean>().Value();
  }

  static Napi::Value ReadFile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString()) throw Napi::TypeError::New(env, "path must be a string");
    std::string path = info[0].As<Napi::String>().Utf8Value();
    const bool verify = VerifyOption(info, 1);
    auto loaded = std::make_shared<std::shared_ptr<VectorIndex>>();
    return PromiseWorker::Queue(
        env, [loaded, path, verify] { *loaded = VectorIndex::ReadFile(path, verify); },
        [loaded](Napi::Env env) -> Napi::Value { return NewInstance(env, *loaded); });
  }

  static Napi::Value FromBuffer(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsTypedArray() || info[0].As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array) {
      throw Napi::TypeError::New(env, "bytes must be a Buffer or Uint8Array");
    }
    auto bytes = info[0].As<Napi::Uint8Array>();
    const uint8_t* data = bytes.Data();
    const size_t size = bytes.ByteLength();
    const bool verify = VerifyOption(info, 1);
    auto loaded = std::make_shared<std::shared_ptr<VectorIndex>>();
    // Read in place: `keep` holds the buffer alive until the promise settles.
    return PromiseWorker::Queue(
        env, [loaded, data, size, verify] { *loaded = VectorIndex::FromBuffer(data, size, verify); },
        [loaded](Napi::Env env) -> Napi::Value { return NewInstance(env, *loaded); }, {info[0]});
  }

  static Napi::Value CheckFile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString()) throw Napi::TypeError::New(env, "path must be a string");
    std::string path = info[0].As<Napi::String>().Utf8Value();
    auto summary = std::make_shared<FaissFileSummary>();
    return PromiseWorker::Queue(
        env, [summary, path] { *summary = CheckFaissFile(path); },
        [summary](Napi::Env env) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("outer", summary->outer);
          o.Set("inner", summary->inner);
          o.Set("dim", summary->dim);
          o.Set("ntotal", static_cast<double>(summary->ntotal));
          o.Set("nlist", static_cast<double>(summary->nlist));
          o.Set("storedVectors", static_cast<double>(summary->storedVectors));
          return o;
        });
  }

  Napi::Value Add(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto vectorsArray = RequireFloat32Array(info[0], "vectors");
    auto idsArray = RequireBigInt64Array(info[1], "ids");
    auto vectors = CopyFinite(vectorsArray, index_->Dim(), "vectors");
    auto ids = std::make_shared<std::vector<int64_t>>(idsArray.Data(), idsArray.Data() + idsArray.ElementLength());
    std::vector<Napi::Value> keep;
    const CancelFlag cancel = ParseCancel(OptionsArg(info, 2), keep);
    auto index = index_;  // the worker keeps the index alive, whatever happens to `this`
    return PromiseWorker::Queue(env, [index, vectors, ids, cancel] { index->Add(*vectors, *ids, cancel); }, Undefined, keep);
  }

  Napi::Value Search(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto queries = CopyFinite(RequireFloat32Array(info[0], "queries"), index_->Dim(), "queries");
    if (!info[1].IsNumber()) throw Napi::TypeError::New(env, "k must be a number");
    const double k = info[1].As<Napi::Number>().DoubleValue();
    if (!IsWholeNumber(k) || k < 1 || k > kMaxK) throw Napi::RangeError::New(env, "k must be a positive integer");
    VectorSearchParams params;
    if (info.Length() > 2 && !info[2].IsUndefined() && !info[2].IsNull()) {
      if (!info[2].IsObject()) throw Napi::TypeError::New(env, "search params must be an object");
      Napi::Object o = info[2].As<Napi::Object>();
      params.nprobe = PositiveIntOption(o, "nprobe");
      params.efSearch = PositiveIntOption(o, "efSearch");
      params.rerank = PositiveIntOption(o, "rerank");
    }
    auto index = index_;
    auto result = std::make_shared<VectorSearchResult>();
    const int64_t kk = static_cast<int64_t>(k);
    return PromiseWorker::Queue(
        env, [index, queries, kk, params, result] { *result = index->Search(*queries, kk, params); },
        [result](Napi::Env env) -> Napi::Value {
          Napi::Object o = Napi::Object::New(env);
          o.Set("ids", IdsToJs(env, result->ids));
          o.Set("scores", FloatsToJs(env, result->scores));
          return o;
        });
  }

  Napi::Value Remove(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    auto idsArray = RequireBigInt64Array(info[0], "ids");
    bool tombstone = false;
    if (info.Length() > 1 && !info[1].IsUndefined()) {
      if (!info[1].IsBoolean()) throw Napi::TypeError::New(env, "tombstone must be a boolean");
      tombstone = info[1].As<Napi::Boolean>().Value();
    }
    auto ids = std::make_shared<std::vector<int64_t>>(idsArray.Data(), idsArray.Data() + idsArray.ElementLength());
    std::vector<Napi::Value> keep;
    const CancelFlag cancel = ParseCancel(OptionsArg(info, 2), keep);
    auto index = index_;
    auto removed = std::make_shared<size_t>(0);
    return PromiseWorker::Queue(
        env, [index, ids, tombstone, cancel, removed] { *removed = index->Remove(*ids, tombstone, cancel); },
        [removed](Napi::Env env) -> Napi::Value { return Napi::Number::New(env, static_cast<double>(*removed)); }, keep);
  }

  Napi::Value Compact(const Napi::CallbackInfo& info) {
    auto index = index_;
    return PromiseWorker::Queue(info.Env(), [index] { index->Compact(); }, Undefined);
  }

  Napi::Value WriteFile(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!info[0].IsString()) throw Napi::TypeError::New(env, "path must be a string");
    std::string path = info[0].As<Napi::String>().Utf8Value();
    auto index = index_;
    return PromiseWorker::Queue(env, [index, path] { index->WriteFile(path); }, Undefined);
  }

  Napi::Value ToBuffer(const Napi::CallbackInfo& info) {
    auto index = index_;
    auto bytes = std::make_shared<std::vector<uint8_t>>();
    return PromiseWorker::Queue(
        info.Env(), [index, bytes] { *bytes = index->ToBuffer(); },
        [bytes](Napi::Env env) -> Napi::Value {
          // A copy, not an external buffer: callers may transfer or pool it freely.
          return Napi::Buffer<uint8_t>::Copy(env, bytes->data(), bytes->size());
        });
  }

  Napi::Value Reconstruct(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const int64_t id = ParseId(info[0]);
    try {
      return FloatsToJs(env, index_->Reconstruct(id));
    } catch (const ShituError& e) {
      throw MakeError(env, e.code(), e.what());
    }
  }

  Napi::Value Ids(const Napi::CallbackInfo& info) { return IdsToJs(info.Env(), index_->Ids()); }
  Napi::Value Count(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(index_->Count()));
  }
  Napi::Value Dim(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), index_->Dim()); }
  Napi::Value Type(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), index_->Type()); }
  Napi::Value Metric(const Napi::CallbackInfo& info) { return Napi::String::New(info.Env(), index_->Metric()); }
  Napi::Value DroppedVectors(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(index_->DroppedVectors()));
  }
  Napi::Value Tombstones(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(index_->Tombstones()));
  }

  std::shared_ptr<VectorIndex> index_;
};

}  // namespace

std::shared_ptr<VectorIndex> UnwrapVectorIndex(const Napi::Value& v) {
  if (!v.IsObject() || !v.As<Napi::Object>().CheckTypeTag(&kVectorIndexTag)) {
    throw Napi::TypeError::New(v.Env(), "expected a VectorIndex");
  }
  return JsVectorIndex::Unwrap(v.As<Napi::Object>())->index();
}

void InitVectorIndexBindings(Napi::Env env, Napi::Object exports) {
  Napi::Function ctor = JsVectorIndex::Define(env);
  GetAddonData(env).vectorIndexCtor = Napi::Persistent(ctor);
  exports.Set("VectorIndex", ctor);
}

}  // namespace shitu

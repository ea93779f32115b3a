// The gallery's vector index: a FAISS index wrapped in an IndexIDMap2 (external
// int64 ids, like the reference and PaddleClas write it), made safe to share
// between threads, with the reference's gaps filled in (IVF on tiny galleries,
// correct removal from IVF, tombstones for HNSW). Plain C++: no N-API here, the
// binding lives in js_vector_index.cc. Defined by job: vector_index_ops.cc
// (construction, add, remove, compact, search), vector_index_io.cc (read,
// foreign-file adoption, write), vector_index_types.cc (the type table).
//
// Threading: every method may be called from any thread. Searches, Reconstruct
// and Ids share the index; Add, Remove, Compact, WriteFile and ToBuffer hold it
// exclusively. Count/Dim/Type/Metric/Tombstones never wait (they read values
// published at the end of each change), so the JS thread can call them freely.
//
// Errors: ShituError with kErrIndexDim (wrong vector length), kErrIndexId (unknown,
// duplicate or negative id), kErrIndexUnsupported (an operation the index type
// cannot do, an unknown factory string or metric), kErrIndexIo (read/write),
// kErrIndexCorrupt (a file that fails the structural check or whose ids do not
// match its vectors). FAISS exceptions never escape. std::invalid_argument marks a broken caller contract
// (non-finite numbers, k < 1): the JS binding checks those before calling.
#pragma once
#include <faiss/IndexIDMap.h>

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_set>
#include <vector>

#include "cancel.h"

namespace faiss {
struct IOWriter;
}  // namespace faiss

namespace shitu {

// Per-search knobs; 0 means "the index's own setting". Each applies only to its
// index family and is ignored by the others.
struct VectorSearchParams {
  int nprobe = 0;    // IVF: inverted lists visited (default 1, as the reference)
  int efSearch = 0;  // HNSW: candidate list size (FAISS default 16)
  int rerank = 0;    // IVF_PQ_RERANK: candidates re-scored exactly, as a multiple of k (default 8)
};

// Row-major nq x k. Missing hits (k larger than the count) have id -1 and
// FAISS's "worst" score: -FLT_MAX for IP, FLT_MAX for L2. Scores are FAISS's
// distances: inner product for IP, *squared* L2 distance for L2.
// The type names this package builds by name and reads back from a loaded index
// (DetectType); any other faiss::index_factory string is accepted as is. Listed
// for contracts() (js_contracts.cc): lib/vector-index/index-data.ts INDEX_TYPES.
inline constexpr const char* kIndexTypeNames[] = {"HNSW32", "IVF", "Flat", "HNSW32_SQ8", "IVF_PQ", "IVF_PQ_RERANK"};

struct VectorSearchResult {
  int64_t nq = 0;
  int64_t k = 0;
  std::vector<int64_t> ids;
  std::vector<float> scores;
};

class VectorIndex {
 public:
  using Id = int64_t;

  // type: "Flat" | "IVF" | "HNSW32", or any other faiss::index_factory string
  // (trained on the first Add when it needs training). metric: "IP" | "L2".
  // "IVF" means IVF{nlist},Flat with nlist = max(1, min(N/8, 65536)) fixed by the
  // first Add of N vectors, which also trains it.
  // Compressed types (memory per vector in README "Compressed index types"):
  // "HNSW32_SQ8" is HNSW32 over 8-bit scalar-quantised vectors (FAISS
  // IndexHNSWSQ; per-dimension ranges trained on the first Add, removal by
  // tombstones as for HNSW32). "IVF_PQ" is IVF{nlist},PQ{dim/8} (8-bit codes)
  // with nlist = clamp(N/256, 1, 1024), sized and trained by the first Add like
  // "IVF", removing for real; an IVF_PQ that never saw a vector cannot be saved.
  // "IVF_PQ_RERANK" is IVF_PQ plus the float vectors (FAISS IndexRefineFlat):
  // the PQ's best 8k candidates are re-scored exactly; removal by tombstones.
  // efConstruction > 0 sets the HNSW graph's build-time beam (FAISS default 40) of
  // an HNSW type; any other type with efConstruction > 0 is kErrIndexUnsupported.
  VectorIndex(int dim, const std::string& type, const std::string& metric, int efConstruction = 0);
  ~VectorIndex();
  VectorIndex(const VectorIndex&) = delete;
  VectorIndex& operator=(const VectorIndex&) = delete;

  // Loads a faiss::write_index file/buffer. An IndexIDMap2 is used as is, an
  // IndexIDMap is upgraded, a bare index gets ids 0..n-1.
  // `verify` runs the structural check of faiss_file_check.h first (skip it only
  // for bytes whose checksum proves this package wrote them). A bare IVF (how
  // IVF is saved, see WriteFile) has the external ids in its lists. Any
  // inconsistency between ids and vectors is kErrIndexCorrupt, naming it.
  // PaddleX's IVF of fewer than 8 images ("IVF0,Flat", which stores no vector)
  // loads as a listless index: searches find nothing, changes are refused.
  static std::unique_ptr<VectorIndex> ReadFile(const std::string& path, bool verify = true);
  static std::unique_ptr<VectorIndex> FromBuffer(const uint8_t* data, size_t size, bool verify = true);

  // Adds n vectors (n * Dim() floats) with their ids. Ids must be >= 0 and new.
  // `cancel` is checked once the index is held and again after any training,
  // before the index changes: a cancelled Add (kErrAborted) changes nothing.
  void Add(const float* vectors, int64_t n, const Id* ids, const CancelFlag& cancel = CancelFlag());
  // Same, checking vectors.size() == ids.size() * Dim() (kErrIndexDim).
  void Add(const std::vector<float>& vectors, const std::vector<Id>& ids, const CancelFlag& cancel = CancelFlag());

  // Removes ids (duplicates in the list count once); returns how many. All ids
  // are checked first: one unknown id fails the call and removes nothing.
  // Flat/IVF remove for real. HNSW cannot: without `tombstone` that is
  // kErrIndexUnsupported; with it the ids are hidden from searches, Count, Ids
  // and Reconstruct until Compact (which WriteFile/ToBuffer run first).
  // `tombstone` is ignored by index types that can really remove. `cancel` is
  // checked once the index is held, before it changes (kErrAborted: nothing removed).
  size_t Remove(const std::vector<Id>& ids, bool tombstone = false, const CancelFlag& cancel = CancelFlag());

  // Rebuilds the index without its tombstoned vectors (same type, metric,
  // parameters and ids). No-op without tombstones.
  void Compact();

  // k nearest neighbours of nq queries (nq * Dim() floats). k >= 1; k may exceed
  // Count() (the rest is padding).
  VectorSearchResult Search(const float* queries, int64_t nq, int64_t k,
                            const VectorSearchParams& params = {}) const;
  // Same, nq = queries.size() / Dim() (kErrIndexDim if not a whole number).
  VectorSearchResult Search(const std::vector<float>& queries, int64_t k,
                            const VectorSearchParams& params = {}) const;

  // The stored vector of `id` (kErrIndexId if absent or tombstoned).
  std::vector<float> Reconstruct(Id id) const;

  int64_t Count() const { return count_.load(); }  // live vectors (tombstones excluded)
  int Dim() const { return dim_; }
  const std::string& Type() const { return type_; }      // "Flat" | "IVF" | "HNSW32" | factory string | "other"
  const std::string& Metric() const { return metric_; }  // "IP" | "L2"
  int64_t Tombstones() const { return tombstones_count_.load(); }
  std::vector<Id> Ids() const;  // live ids, in index order

  // Vectors counted by the file but never stored (PaddleX's listless IVF), else 0.
  int64_t DroppedVectors() const { return droppedVectors_; }

  // Serialises with faiss::write_index (compacting first if there are
  // tombstones, so removed vectors never come back). Flat and HNSW go out in an
  // IndexIDMap2; IVF goes out bare with the external ids in its lists (and an
  // IVF that never saw a vector as an empty IVF1 on one zero centroid), so that
  // PaddleX's own remove/append on the file keep every id right. WriteFile writes `path`
  // directly (no temp file + rename: the caller owns atomicity) and reports any
  // failure, including a full disk at flush/fsync time, as kErrIndexIo.
  void WriteFile(const std::string& path);
  std::vector<uint8_t> ToBuffer();

 private:
  VectorIndex() = default;
  void AdoptLoaded(faiss::Index* loaded, const std::string& source);  // takes ownership
  void PublishCounts();
  bool CanRemove() const;
  void CompactLocked();
  void RemoveFromIvfLocked(const std::vector<Id>& ids);
  std::unique_ptr<faiss::IndexIDMap2> EmptyLike(const std::vector<float>& trainingSet) const;
  void WriteLocked(faiss::IOWriter* writer);
  std::string ListlessMessage() const;

  // Writer-preferring locking: glibc's rwlock (behind std::shared_mutex) prefers
  // readers, so a steady stream of searches could starve an Add forever. A writer
  // holds turnstile_ while it waits, which holds back new readers.
  std::shared_lock<std::shared_mutex> ReadLock() const;
  std::unique_lock<std::shared_mutex> WriteLock() const;

  int dim_ = 0;
  std::string type_;
  std::string metric_;
  int metricType_ = 0;  // faiss::MetricType
  // null only for an "IVF" index before its first Add (nlist not chosen yet).
  std::unique_ptr<faiss::IndexIDMap2> index_;
  std::unordered_set<Id> tombstones_;
  bool listless_ = false;
  int64_t droppedVectors_ = 0;
  std::atomic<int64_t> count_{0};
  std::atomic<int64_t> tombstones_count_{0};
  mutable std::shared_mutex mu_;
  mutable std::mutex turnstile_;
};

}  // namespace shitu

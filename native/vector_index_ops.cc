// VectorIndex's operations (vector_index.h): construction, locking, add,
// remove, compact, search and reads. IO is in vector_index_io.cc, the type
// table in vector_index_types.cc.
#include "vector_index.h"


#include <faiss/IndexFlat.h>
#include <faiss/IndexFlatCodes.h>
#include <faiss/IndexHNSW.h>
#include <omp.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexRefine.h>
#include <faiss/impl/DistanceComputer.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/clone_index.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/impl/io.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>
#include <faiss/invlists/InvertedLists.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cfloat>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <numeric>
#include <regex>
#include <stdexcept>
#include <typeinfo>

#include "errors.h"
#include "faiss_file_check.h"

#include "vector_index_types.h"

namespace shitu {

using namespace vector_index_detail;

namespace {
// Below this many query x vector pairs a search runs on the calling thread.
constexpr int64_t kSerialSearchWork = int64_t{1} << 22;

// Sets the OpenMP team size for parallel regions started by this thread
// (a libuv worker) and restores it afterwards; 0 leaves it unchanged.
class ScopedOmpThreads {
 public:
  explicit ScopedOmpThreads(int n) : previous_(omp_get_max_threads()), active_(n > 0) {
    if (active_) omp_set_num_threads(n);
  }
  ~ScopedOmpThreads() {
    if (active_) omp_set_num_threads(previous_);
  }

 private:
  int previous_;
  bool active_;
};
}  // namespace

namespace {

// Anything that cannot be searched meaningfully (NaN/Inf) is a caller bug.
void CheckFinite(const float* x, int64_t count, int dim, const char* what) {
  for (int64_t i = 0; i < count; ++i) {
    if (!std::isfinite(x[i])) {
      throw std::invalid_argument(std::string(what) + ": vector " + std::to_string(i / dim) +
                                  " holds a non-finite value (NaN or Infinity)");
    }
  }
}

std::string IdList(const std::vector<int64_t>& ids) {
  std::string s;
  const size_t shown = std::min<size_t>(ids.size(), 20);
  for (size_t i = 0; i < shown; ++i) s += (i ? ", " : "") + std::to_string(ids[i]);
  if (ids.size() > shown) s += " and " + std::to_string(ids.size() - shown) + " more";
  return s;
}

}  // namespace

namespace {
// Re-scores each query's k candidates (labels < 0 are padding) with the exact
// distances of `exact` and sorts them best first; only the first `keep` matter
// afterwards, the rest are marked missing.
void RerankExactly(const faiss::Index& exact, const float* queries, int64_t nq, int64_t k, int64_t keep,
                   float* distances, FaissIdx* labels) {
  const bool ip = exact.metric_type == faiss::METRIC_INNER_PRODUCT;
  std::unique_ptr<faiss::DistanceComputer> dc(exact.get_distance_computer());
  std::vector<std::pair<float, FaissIdx>> row;
  for (int64_t q = 0; q < nq; ++q) {
    dc->set_query(queries + q * exact.d);
    row.clear();
    for (int64_t j = 0; j < k; ++j) {
      const FaissIdx l = labels[q * k + j];
      if (l >= 0) row.push_back({(*dc)(l), l});
    }
    std::sort(row.begin(), row.end(), [ip](const auto& a, const auto& b) {
      return ip ? a.first > b.first : a.first < b.first;
    });
    for (int64_t j = 0; j < k; ++j) {
      const bool has = j < keep && j < static_cast<int64_t>(row.size());
      labels[q * k + j] = has ? row[j].second : -1;
      distances[q * k + j] = has ? row[j].first : (ip ? -FLT_MAX : FLT_MAX);
    }
  }
}
}  // namespace

// ---- locking ----

std::shared_lock<std::shared_mutex> VectorIndex::ReadLock() const {
  { std::lock_guard<std::mutex> wait(turnstile_); }  // queue behind a waiting writer
  return std::shared_lock<std::shared_mutex>(mu_);
}

std::unique_lock<std::shared_mutex> VectorIndex::WriteLock() const {
  std::unique_lock<std::mutex> gate(turnstile_);
  std::unique_lock<std::shared_mutex> lock(mu_);
  return lock;  // gate opens here: new readers now wait on mu_ itself
}

// ---- construction / loading ----

VectorIndex::VectorIndex(int dim, const std::string& type, const std::string& metric, int efConstruction) {
  if (dim < 1) throw ShituError(kErrIndexDim, "index dimension must be at least 1, got " + std::to_string(dim));
  if (type.empty()) throw ShituError(kErrIndexUnsupported, "index type must not be empty");
  metricType_ = ParseMetric(metric);
  dim_ = dim;
  type_ = type;
  metric_ = metric;
  // "IVF" and "IVF_PQ" wait for their first Add: nlist depends on the number of vectors.
  if (!DecidedAtFirstAdd(type)) index_ = Wrap(Factory(dim, type, static_cast<faiss::MetricType>(metricType_)));
  if (efConstruction > 0) {
    auto* hnsw = index_ ? dynamic_cast<faiss::IndexHNSW*>(index_->index) : nullptr;
    if (!hnsw) throw ShituError(kErrIndexUnsupported, "efConstruction applies to HNSW index types only, not '" + type + "'");
    hnsw->hnsw.efConstruction = efConstruction;
  }
}

VectorIndex::~VectorIndex() = default;

void VectorIndex::PublishCounts() {
  const int64_t total = index_ ? index_->ntotal : 0;
  tombstones_count_ = static_cast<int64_t>(tombstones_.size());
  count_ = total - static_cast<int64_t>(tombstones_.size());
}

std::string VectorIndex::ListlessMessage() const {
  return "this IVF index has no lists (PaddleX builds 'IVF0,Flat' for fewer than 8 images, and FAISS then stores none of its " +
         std::to_string(droppedVectors_) + " vectors): it cannot be changed; rebuild it from its gallery";
}

// ---- add ----

void VectorIndex::Add(const std::vector<float>& vectors, const std::vector<Id>& ids, const CancelFlag& cancel) {
  const uint64_t expected = static_cast<uint64_t>(ids.size()) * static_cast<uint64_t>(dim_);
  if (vectors.size() != expected) {
    throw ShituError(kErrIndexDim, "got " + std::to_string(vectors.size()) + " floats for " +
                                       std::to_string(ids.size()) + " ids; expected " + std::to_string(expected) +
                                       " (" + std::to_string(ids.size()) + " x dimension " + std::to_string(dim_) + ")");
  }
  Add(vectors.data(), static_cast<int64_t>(ids.size()), ids.data(), cancel);
}

void VectorIndex::Add(const float* vectors, int64_t n, const Id* ids, const CancelFlag& cancel) {
  if (n < 0) throw std::invalid_argument("negative vector count");
  if (n == 0) return;
  CheckFinite(vectors, n * dim_, dim_, "vectors");
  auto lock = WriteLock();
  if (listless_) throw ShituError(kErrIndexUnsupported, ListlessMessage());

  std::unordered_set<Id> batch;
  batch.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const Id id = ids[i];
    const std::string name = "id " + std::to_string(id);
    if (id < 0) throw ShituError(kErrIndexId, name + " is negative (ids must be >= 0)");
    if (!batch.insert(id).second) throw ShituError(kErrIndexId, name + " appears twice in the batch");
    if (tombstones_.count(id)) {
      throw ShituError(kErrIndexId, name + " was removed with a tombstone; compact() before adding it again");
    }
    if (index_ && index_->rev_map.count(id)) throw ShituError(kErrIndexId, name + " already in the index");
  }
  cancel.ThrowIfCancelled("before adding to the index");

  // An "IVF" index is built now. Until the add succeeds it stays undecided.
  std::unique_ptr<faiss::IndexIDMap2> fresh;
  faiss::IndexIDMap2* target = index_.get();
  if (!target) {
    fresh = Wrap(SizedByFirstAdd(type_, dim_, n, static_cast<faiss::MetricType>(metricType_)));
    target = fresh.get();
  }
  // Training an existing index changes it: from there on the add completes.
  const bool trainsInPlace = !fresh && !target->index->is_trained;
  if (!target->index->is_trained) {
    try {
      TrainIndex(target->index, n, vectors, dim_);
      target->is_trained = target->index->is_trained;
    } catch (const faiss::FaissException& e) {
      throw ShituError(kErrIndexUnsupported, "cannot train the " + type_ + " index on " + std::to_string(n) +
                                                 " vectors: " + FaissMessage(e));
    }
  }
  if (!trainsInPlace) cancel.ThrowIfCancelled("before adding to the index");
  try {
    target->add_with_ids(n, vectors, ids);
  } catch (const faiss::FaissException& e) {
    throw ShituError(kErrInternal, "adding to the " + type_ + " index failed: " + FaissMessage(e));
  }
  if (fresh) index_ = std::move(fresh);
  PublishCounts();
}

// ---- remove / compact ----

bool VectorIndex::CanRemove() const {
  if (!index_) return true;  // empty IVF: nothing to remove, ids will be unknown
  const faiss::Index* inner = index_->index;
  if (auto* ivf = dynamic_cast<const faiss::IndexIVF*>(inner)) {
    return dynamic_cast<const faiss::ArrayInvertedLists*>(ivf->invlists) != nullptr;
  }
  // Flat-code indexes shift later vectors down on removal: the layout
  // IndexIDMap::remove_ids assumes. HNSW graphs cannot remove at all.
  return dynamic_cast<const faiss::IndexFlatCodes*>(inner) != nullptr;
}

size_t VectorIndex::Remove(const std::vector<Id>& idsIn, bool tombstone, const CancelFlag& cancel) {
  std::vector<Id> ids(idsIn);
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  if (ids.empty()) return 0;

  auto lock = WriteLock();
  if (listless_) throw ShituError(kErrIndexUnsupported, ListlessMessage());
  const bool real = CanRemove();
  if (!real && !tombstone) {
    throw ShituError(kErrIndexUnsupported,
                     type_ + " indexes cannot remove ids (FAISS cannot delete from this index type); "
                             "remove with tombstones (hidden from searches, dropped by compact()) or rebuild the index");
  }
  std::vector<Id> unknown;
  for (Id id : ids) {
    if (!index_ || !index_->rev_map.count(id) || tombstones_.count(id)) unknown.push_back(id);
  }
  if (!unknown.empty()) {
    throw ShituError(kErrIndexId, std::string(unknown.size() == 1 ? "id " : "ids ") + IdList(unknown) +
                                      (unknown.size() == 1 ? " is" : " are") + " not in the index; nothing was removed");
  }
  cancel.ThrowIfCancelled("before removing from the index");

  if (!real) {
    tombstones_.insert(ids.begin(), ids.end());
  } else {
    try {
      if (dynamic_cast<faiss::IndexIVF*>(index_->index)) {
        RemoveFromIvfLocked(ids);
      } else {
        faiss::IDSelectorBatch sel(ids.size(), ids.data());
        index_->remove_ids(sel);  // IndexIDMap2 also rebuilds its rev_map
      }
    } catch (const faiss::FaissException& e) {
      throw ShituError(kErrInternal, "removing from the " + type_ + " index failed: " + FaissMessage(e));
    }
  }
  PublishCounts();
  return ids.size();
}

// IndexIDMap::remove_ids assumes the inner index renumbers the survivors 0..n-1
// (as IndexFlat does). IVF does not: it keeps the old numbers, so after FAISS's
// own remove every later vector maps to the wrong external id. We remove from
// the IVF ourselves and renumber its lists the way IndexIDMap expects.
void VectorIndex::RemoveFromIvfLocked(const std::vector<Id>& ids) {
  auto* ivf = static_cast<faiss::IndexIVF*>(index_->index);
  auto* lists = static_cast<faiss::ArrayInvertedLists*>(ivf->invlists);  // checked by CanRemove
  std::vector<FaissIdx> internal;
  internal.reserve(ids.size());
  for (Id id : ids) internal.push_back(index_->rev_map.at(id));
  std::sort(internal.begin(), internal.end());

  ivf->set_direct_map_type(faiss::DirectMap::NoMap);  // an Array map refuses removals
  faiss::IDSelectorBatch sel(internal.size(), internal.data());
  ivf->remove_ids(sel);
  for (auto& list : lists->ids) {
    for (auto& x : list) x -= std::lower_bound(internal.begin(), internal.end(), x) - internal.begin();
  }
  std::vector<FaissIdx> kept;
  kept.reserve(index_->id_map.size() - internal.size());
  for (size_t i = 0, r = 0; i < index_->id_map.size(); ++i) {
    if (r < internal.size() && internal[r] == static_cast<FaissIdx>(i)) {
      ++r;
      continue;
    }
    kept.push_back(index_->id_map[i]);
  }
  index_->id_map.swap(kept);
  index_->ntotal = ivf->ntotal;
  index_->construct_rev_map();
  ivf->make_direct_map(true);
}

void VectorIndex::Compact() {
  auto lock = WriteLock();
  CompactLocked();
}

// An empty index configured like the current one: a clone keeps the trained
// quantizer (IVF) and every parameter; failing that, the factory string.
std::unique_ptr<faiss::IndexIDMap2> VectorIndex::EmptyLike(const std::vector<float>& trainingSet) const {
  const faiss::Index* current = index_->index;
  const int64_t n = static_cast<int64_t>(trainingSet.size() / dim_);
  if (type_ == "IVF_PQ_RERANK") {  // FAISS 1.7.3 cannot clone an IndexRefine: size and train it afresh
    auto fresh = SizedByFirstAdd(type_, dim_, std::max<int64_t>(n, 1), static_cast<faiss::MetricType>(metricType_));
    if (n > 0) TrainIndex(fresh.get(), n, trainingSet.data(), dim_);
    return Wrap(std::move(fresh));
  }
  try {
    std::unique_ptr<faiss::Index> copy(faiss::clone_index(current));
    // FAISS 1.7.3 clones an IndexHNSWFlat as a plain IndexHNSW, which searches
    // fine but which write_index cannot store ("h != 0 failed"): only a clone of
    // the very same class will do.
    if (typeid(*copy) == typeid(*current)) {
      copy->reset();
      return Wrap(std::move(copy));
    }
  } catch (const faiss::FaissException&) {
    // clone_index does not know every index type.
  }
  if (type_ == "other") {
    throw ShituError(kErrIndexUnsupported, "cannot rebuild this loaded index type (FAISS cannot clone it)");
  }
  auto fresh = Factory(dim_, type_, static_cast<faiss::MetricType>(metricType_));
  auto* from = dynamic_cast<const faiss::IndexHNSW*>(current);
  auto* to = dynamic_cast<faiss::IndexHNSW*>(fresh.get());
  if (from && to) {  // keep the graph settings of a loaded or tuned index
    to->hnsw.efConstruction = from->hnsw.efConstruction;
    to->hnsw.efSearch = from->hnsw.efSearch;
    to->hnsw.check_relative_distance = from->hnsw.check_relative_distance;
    to->hnsw.search_bounded_queue = from->hnsw.search_bounded_queue;
  }
  if (!fresh->is_trained && n > 0) TrainIndex(fresh.get(), n, trainingSet.data(), dim_);
  return Wrap(std::move(fresh));
}

void VectorIndex::CompactLocked() {
  if (tombstones_.empty()) return;
  try {
    const faiss::Index* inner = index_->index;
    std::vector<float> kept;
    std::vector<Id> keptIds;
    for (FaissIdx i = 0; i < index_->ntotal; ++i) {
      const Id id = index_->id_map[i];
      if (tombstones_.count(id)) continue;
      kept.resize(kept.size() + dim_);
      inner->reconstruct(i, kept.data() + kept.size() - dim_);
      keptIds.push_back(id);
    }
    auto rebuilt = EmptyLike(kept);
    if (!keptIds.empty()) rebuilt->add_with_ids(static_cast<FaissIdx>(keptIds.size()), kept.data(), keptIds.data());
    index_ = std::move(rebuilt);
  } catch (const faiss::FaissException& e) {
    throw ShituError(kErrInternal, "compacting the " + type_ + " index failed: " + FaissMessage(e));
  }
  tombstones_.clear();
  PublishCounts();
}

// ---- search / read ----

VectorSearchResult VectorIndex::Search(const std::vector<float>& queries, int64_t k,
                                       const VectorSearchParams& params) const {
  if (queries.size() % static_cast<size_t>(dim_) != 0) {
    throw ShituError(kErrIndexDim, "got " + std::to_string(queries.size()) +
                                       " query floats, not a whole number of vectors of dimension " +
                                       std::to_string(dim_));
  }
  return Search(queries.data(), static_cast<int64_t>(queries.size() / dim_), k, params);
}

VectorSearchResult VectorIndex::Search(const float* queries, int64_t nq, int64_t k,
                                       const VectorSearchParams& params) const {
  if (k < 1) throw std::invalid_argument("k must be at least 1");
  if (nq < 0) throw std::invalid_argument("negative query count");
  CheckFinite(queries, nq * dim_, dim_, "queries");
  VectorSearchResult result;
  result.nq = nq;
  result.k = k;
  const float pad = metricType_ == faiss::METRIC_INNER_PRODUCT ? -FLT_MAX : FLT_MAX;  // FAISS's own padding
  result.ids.assign(static_cast<size_t>(nq * k), -1);
  result.scores.assign(static_cast<size_t>(nq * k), pad);
  if (nq == 0) return result;

  auto lock = ReadLock();
  if (!index_ || index_->ntotal == 0 || listless_) return result;  // listless: no vector was stored
  const faiss::Index* inner = index_->index;

  // Tombstoned hits are dropped below, so ask for that many more.
  int64_t kSearch = k + static_cast<int64_t>(tombstones_.size());
  faiss::SearchParametersIVF ivfParams;
  faiss::SearchParametersHNSW hnswParams;
  const faiss::SearchParameters* sp = nullptr;
  // IVF_PQ_RERANK: the PQ is searched here and its candidates re-scored below
  // (FAISS 1.7.3's IndexRefine::search takes no search parameters).
  auto* refine = dynamic_cast<const faiss::IndexRefine*>(inner);
  if (refine) inner = refine->base_index;
  if (auto* ivf = dynamic_cast<const faiss::IndexIVF*>(inner); ivf && params.nprobe > 0) {
    ivfParams.nprobe = std::min<size_t>(static_cast<size_t>(params.nprobe), ivf->nlist);
    ivfParams.max_codes = ivf->max_codes;
    sp = &ivfParams;
  }
  if (auto* hnsw = dynamic_cast<const faiss::IndexHNSW*>(inner); hnsw && params.efSearch > 0) {
    hnswParams.efSearch = params.efSearch;
    hnswParams.check_relative_distance = hnsw->hnsw.check_relative_distance;
    sp = &hnswParams;
    // FAISS 1.7.3 sizes the candidate queue as max(index efSearch, k) and uses
    // the parameter's efSearch only as a step limit, so a larger efSearch alone
    // changes nothing. Asking for efSearch results makes the queue that big; the
    // extra results are dropped below.
    kSearch = std::max<int64_t>(kSearch, params.efSearch);
  }
  const int64_t kKept = std::min<int64_t>(kSearch, index_->ntotal);  // candidates that survive re-ranking
  if (refine) kSearch = static_cast<int64_t>(std::ceil(kSearch * (params.rerank > 0 ? params.rerank : refine->k_factor)));
  kSearch = std::min<int64_t>(kSearch, index_->ntotal);

  std::vector<float> distances(static_cast<size_t>(nq * kSearch));
  std::vector<FaissIdx> labels(static_cast<size_t>(nq * kSearch));
  try {
    // A recognition searches a handful of boxes: waking FAISS's OpenMP team for
    // that costs more than it saves and competes with ONNX Runtime's threads
    // (p99 44 ms vs 2 ms measured on 2 cores). Big batches keep the team.
    ScopedOmpThreads omp(nq * index_->ntotal < kSerialSearchWork ? 1 : 0);
    // The inner index is searched directly: IndexIDMap::search in 1.7.3 refuses
    // any SearchParameters. Labels are mapped to external ids below.
    inner->search(nq, queries, kSearch, distances.data(), labels.data(), sp);
    if (refine) RerankExactly(*refine->refine_index, queries, nq, kSearch, kKept, distances.data(), labels.data());
  } catch (const faiss::FaissException& e) {
    throw ShituError(kErrInternal, "search in the " + type_ + " index failed: " + FaissMessage(e));
  }
  for (int64_t q = 0; q < nq; ++q) {
    int64_t out = 0;
    for (int64_t j = 0; j < kSearch && out < k; ++j) {
      const FaissIdx label = labels[q * kSearch + j];
      if (label < 0) break;  // FAISS pads at the end
      // Never past the id map, whatever the inner index answers (loads check this already).
      if (label >= static_cast<FaissIdx>(index_->id_map.size())) {
        throw ShituError(kErrIndexCorrupt, "the " + type_ + " index answered internal id " + std::to_string(label) +
                                               " beyond its id map of " + std::to_string(index_->id_map.size()));
      }
      const Id id = index_->id_map[label];
      if (!tombstones_.empty() && tombstones_.count(id)) continue;
      result.ids[q * k + out] = id;
      result.scores[q * k + out] = distances[q * kSearch + j];
      ++out;
    }
  }
  return result;
}

std::vector<float> VectorIndex::Reconstruct(Id id) const {
  auto lock = ReadLock();
  if (!index_ || !index_->rev_map.count(id) || tombstones_.count(id)) {
    throw ShituError(kErrIndexId, "id " + std::to_string(id) + " is not in the index");
  }
  std::vector<float> out(static_cast<size_t>(dim_));
  try {
    index_->reconstruct(id, out.data());
  } catch (const faiss::FaissException& e) {
    throw ShituError(kErrIndexUnsupported, "cannot reconstruct vectors of this " + type_ + " index: " + FaissMessage(e));
  }
  return out;
}

std::vector<VectorIndex::Id> VectorIndex::Ids() const {
  auto lock = ReadLock();
  std::vector<Id> out;
  if (!index_) return out;
  out.reserve(index_->id_map.size() - tombstones_.size());
  for (FaissIdx id : index_->id_map) {
    if (tombstones_.empty() || !tombstones_.count(id)) out.push_back(id);
  }
  return out;
}

}  // namespace shitu

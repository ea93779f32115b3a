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

namespace shitu {

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

using FaissIdx = faiss::Index::idx_t;  // FAISS 1.7.3 has no faiss::idx_t yet

// FAISS messages read "Error in <signature> at <file>:<line>: Error: '<cond>'
// failed: <text>"; users only need <text>.
std::string FaissMessage(const std::exception& e) {
  static const std::regex kLocation(R"(^Error in [\s\S]*? at \S+:\d+: )");
  static const std::regex kCondition(R"(^Error: '[\s\S]*?' failed: )");
  std::string m = std::regex_replace(e.what(), kLocation, "", std::regex_constants::format_first_only);
  return std::regex_replace(m, kCondition, "", std::regex_constants::format_first_only);
}

faiss::MetricType ParseMetric(const std::string& metric) {
  if (metric == "IP") return faiss::METRIC_INNER_PRODUCT;
  if (metric == "L2") return faiss::METRIC_L2;
  throw ShituError(kErrIndexUnsupported, "unknown metric '" + metric + "' (expected IP or L2)");
}

const char* MetricName(faiss::MetricType m) {
  if (m == faiss::METRIC_INNER_PRODUCT) return "IP";
  if (m == faiss::METRIC_L2) return "L2";
  return nullptr;
}

// The type names this package uses (SPEC §2), read back from a loaded index.
std::string DetectType(const faiss::Index* inner) {
  if (auto* h = dynamic_cast<const faiss::IndexHNSWFlat*>(inner)) {
    return "HNSW" + std::to_string(h->hnsw.nb_neighbors(0) / 2);  // level 0 keeps 2*M links
  }
  if (auto* h = dynamic_cast<const faiss::IndexHNSWSQ*>(inner)) {
    auto* sq = dynamic_cast<const faiss::IndexScalarQuantizer*>(h->storage);
    if (sq && sq->sq.qtype == faiss::ScalarQuantizer::QT_8bit) {
      return "HNSW" + std::to_string(h->hnsw.nb_neighbors(0) / 2) + "_SQ8";
    }
    return "other";
  }
  if (dynamic_cast<const faiss::IndexIVFFlat*>(inner)) return "IVF";
  if (dynamic_cast<const faiss::IndexIVFPQ*>(inner)) return "IVF_PQ";
  if (auto* r = dynamic_cast<const faiss::IndexRefine*>(inner)) {
    if (dynamic_cast<const faiss::IndexIVFPQ*>(r->base_index) && dynamic_cast<const faiss::IndexFlat*>(r->refine_index)) {
      return "IVF_PQ_RERANK";
    }
  }
  if (dynamic_cast<const faiss::IndexFlat*>(inner)) return "Flat";
  return "other";
}

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

// Index types whose FAISS index is made at the first Add, when the number of
// vectors that sizes it is known.
bool DecidedAtFirstAdd(const std::string& type) {
  return type == "IVF" || type == "IVF_PQ" || type == "IVF_PQ_RERANK";
}

// IVF_PQ_RERANK: the PQ's best k x kRerankFactor candidates are re-scored
// exactly against the stored float vectors.
constexpr float kRerankFactor = 8;

// IVF_PQ: nlist = N/256 lists (at least 1, at most 1024: a few hundred to a few
// thousand vectors per list up to 10^6-10^7, trained in minutes, not hours) and
// dim/8 sub-quantizers of 8 bits (64 bytes a 512-d vector; the largest divisor
// of dim with sub-vectors of at least 8 values otherwise).
std::string IvfPqFactory(int dim, int64_t n) {
  const int64_t nlist = std::max<int64_t>(1, std::min<int64_t>(n / 256, 1024));
  int m = 1;
  for (int c = dim / 8; c >= 1; --c) {
    if (dim % c == 0) { m = c; break; }
  }
  return "IVF" + std::to_string(nlist) + ",PQ" + std::to_string(m);
}

// Trains `index` on the first batch. The quantisers need more points than
// their centroids (PQ: 256 per sub-quantizer; FAISS refuses fewer) and a range
// that is not empty (SQ8: per-dimension min..max): a small first batch is
// padded with slightly jittered copies of itself (deterministic), which keeps
// the codes of those very vectors close to exact. SQ8 ranges are widened by 5%
// each side so that vectors added later, slightly outside them, are not clipped.
void TrainIndex(faiss::Index* index, int64_t n, const float* x, int dim) {
  if (auto* h = dynamic_cast<faiss::IndexHNSWSQ*>(index)) {
    if (auto* sq = dynamic_cast<faiss::IndexScalarQuantizer*>(h->storage)) {
      sq->sq.rangestat = faiss::ScalarQuantizer::RS_minmax;
      sq->sq.rangestat_arg = 0.05f;
    }
  }
  constexpr int64_t kMinTrainingPoints = 256;
  if (n >= kMinTrainingPoints) {
    index->train(n, x);
    return;
  }
  std::vector<float> padded(static_cast<size_t>(kMinTrainingPoints * dim));
  uint32_t state = 12345;
  auto noise = [&state]() {  // xorshift32 in [-1, 1)
    state ^= state << 13; state ^= state >> 17; state ^= state << 5;
    return static_cast<float>(state) / 2147483648.0f - 1.0f;
  };
  double sq = 0;
  for (int64_t i = 0; i < n * dim; ++i) sq += double(x[i]) * x[i];
  const float scale = 1e-3f * static_cast<float>(std::sqrt(sq / double(n * dim)) + 1e-6);
  for (int64_t i = 0; i < kMinTrainingPoints; ++i) {
    const float* src = x + (i % n) * dim;
    float* dst = padded.data() + i * dim;
    for (int j = 0; j < dim; ++j) dst[j] = src[j] + (i < n ? 0.0f : scale * noise());
  }
  index->train(kMinTrainingPoints, padded.data());
}

std::unique_ptr<faiss::Index> Factory(int dim, const std::string& desc, faiss::MetricType metric);

// The FAISS index of a DecidedAtFirstAdd type for a first Add of n vectors.
std::unique_ptr<faiss::Index> SizedByFirstAdd(const std::string& type, int dim, int64_t n, faiss::MetricType metric) {
  if (type == "IVF") {
    // The reference's min(N/8, 65536) is 0 (and FAISS fails) for N < 8; one list
    // is exact search, the right answer for tiny galleries.
    const int64_t nlist = std::max<int64_t>(1, std::min<int64_t>(n / 8, 65536));
    auto ivf = Factory(dim, "IVF" + std::to_string(nlist) + ",Flat", metric);
    // nlist <= N/8 leaves at least 8 points per list, fewer than FAISS's advised
    // 39: without this it prints a k-means warning to stderr on every build.
    static_cast<faiss::IndexIVF*>(ivf.get())->cp.min_points_per_centroid = 1;
    return ivf;
  }
  auto base = Factory(dim, IvfPqFactory(dim, n), metric);
  auto* pq = static_cast<faiss::IndexIVFPQ*>(base.get());
  pq->cp.min_points_per_centroid = 1;
  pq->pq.cp.min_points_per_centroid = 1;  // same warning for the 256 codes of each sub-quantizer
  // k-means samples: 64 points per centroid (FAISS's default is 256) train the
  // 1024 lists and each sub-quantizer's 256 codes well enough at a quarter of
  // the time (10^6 vectors on 2 cores: minutes, not a quarter of an hour).
  pq->cp.max_points_per_centroid = 64;
  pq->pq.cp.max_points_per_centroid = 64;
  // index_factory turns on polysemous training (a simulated annealing over
  // the codes, minutes per build) that only Hamming-filtered search uses.
  pq->do_polysemous_training = false;
  // FAISS's default of 1 list of up to 1024 finds a fraction of the neighbours:
  // IVF_PQ is new here (no reference behaviour to keep), so visit 32.
  pq->nprobe = std::min<size_t>(pq->nlist, 32);
  if (type == "IVF_PQ") return base;
  auto refine = std::make_unique<faiss::IndexRefineFlat>(base.get());
  base.release();
  refine->own_fields = true;
  refine->k_factor = kRerankFactor;
  return refine;
}

std::unique_ptr<faiss::Index> Factory(int dim, const std::string& desc, faiss::MetricType metric) {
  try {
    return std::unique_ptr<faiss::Index>(faiss::index_factory(dim, desc.c_str(), metric));
  } catch (const faiss::FaissException& e) {
    throw ShituError(kErrIndexUnsupported, "cannot create a '" + desc + "' index: " + FaissMessage(e));
  }
}

// IVF reconstruct needs a direct map (id -> list position). The IDMap2 wrapper
// gives the IVF sequential ids 0..n-1, which is what an Array map needs.
void EnableReconstruct(faiss::Index* inner) {
  if (auto* ivf = dynamic_cast<faiss::IndexIVF*>(inner)) {
    if (ivf->direct_map.type == faiss::DirectMap::NoMap) ivf->make_direct_map(true);
  }
}

std::unique_ptr<faiss::IndexIDMap2> Wrap(std::unique_ptr<faiss::Index> inner) {
  EnableReconstruct(inner.get());
  auto map = std::make_unique<faiss::IndexIDMap2>(inner.get());
  inner.release();
  map->own_fields = true;
  return map;
}

// Reads from caller-owned memory without copying it (FAISS's VectorIOReader
// would need the bytes in a std::vector first).
struct SpanReader : faiss::IOReader {
  SpanReader(const uint8_t* data, size_t size) : data(data), size(size) { name = "<buffer>"; }
  size_t operator()(void* ptr, size_t itemSize, size_t nitems) override {
    if (itemSize == 0 || pos >= size) return 0;
    const size_t items = std::min(nitems, (size - pos) / itemSize);
    std::memcpy(ptr, data + pos, items * itemSize);
    pos += items * itemSize;
    return items;
  }
  const uint8_t* data;
  size_t size;
  size_t pos = 0;
};

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

std::unique_ptr<VectorIndex> VectorIndex::ReadFile(const std::string& path, bool verify) {
  if (verify) CheckFaissFile(path);  // throws kErrIndexCorrupt / kErrIndexUnsupported / kErrIndexIo
  faiss::Index* raw = nullptr;
  try {
    raw = faiss::read_index(path.c_str());
  } catch (const std::exception& e) {  // FaissException, or bad_alloc/length_error on garbage sizes
    const bool missing = !verify && std::string(e.what()).find("could not open") != std::string::npos;
    throw ShituError(missing ? kErrIndexIo : kErrIndexCorrupt, "cannot read index '" + path + "': " + FaissMessage(e));
  }
  std::unique_ptr<VectorIndex> out(new VectorIndex());
  out->AdoptLoaded(raw, "'" + path + "'");
  return out;
}

std::unique_ptr<VectorIndex> VectorIndex::FromBuffer(const uint8_t* data, size_t size, bool verify) {
  if (verify) {
    try {
      CheckFaissBuffer(data, size);
    } catch (const ShituError& e) {
      throw ShituError(e.code(), "index in a " + std::to_string(size) + "-byte buffer: " + e.what());
    }
  }
  faiss::Index* raw = nullptr;
  try {
    SpanReader reader(data, size);
    raw = faiss::read_index(&reader);
  } catch (const std::exception& e) {
    throw ShituError(kErrIndexCorrupt, "cannot read index from a " + std::to_string(size) + "-byte buffer: " + FaissMessage(e));
  }
  std::unique_ptr<VectorIndex> out(new VectorIndex());
  out->AdoptLoaded(raw, "in buffer");
  return out;
}

namespace {

// A bare IVF (as this package writes it, and as PaddleX leaves it after its own
// append/remove) stores the external ids in its lists. In memory the index is
// an IndexIDMap2 over an IVF numbered 0..n-1, so that FAISS's IDMap code and an
// Array direct map (reconstruct) work: renumber the lists, ordered by external
// id (ids are handed out in insertion order, so that order is kept).
std::unique_ptr<faiss::IndexIDMap2> WrapBareIvf(std::unique_ptr<faiss::Index> loaded, const std::string& source) {
  auto* ivf = static_cast<faiss::IndexIVF*>(loaded.get());
  auto* lists = dynamic_cast<faiss::ArrayInvertedLists*>(ivf->invlists);
  if (!lists) throw ShituError(kErrIndexUnsupported, "index " + source + ": IVF lists that are not in-memory arrays");
  std::vector<std::pair<FaissIdx, std::pair<size_t, size_t>>> where;  // external id -> (list, offset)
  for (size_t l = 0; l < lists->nlist; ++l) {
    for (size_t o = 0; o < lists->ids[l].size(); ++o) where.push_back({lists->ids[l][o], {l, o}});
  }
  std::sort(where.begin(), where.end());
  for (size_t i = 0; i < where.size(); ++i) {
    if (where[i].first < 0) {
      throw ShituError(kErrIndexCorrupt, "index " + source + ": the IVF holds a negative id (" + std::to_string(where[i].first) + ")");
    }
    if (i && where[i].first == where[i - 1].first) {
      throw ShituError(kErrIndexCorrupt, "index " + source + ": id " + std::to_string(where[i].first) + " appears twice in the IVF lists");
    }
  }
  auto map = std::make_unique<faiss::IndexIDMap2>();
  map->id_map.resize(where.size());
  for (size_t i = 0; i < where.size(); ++i) {
    map->id_map[i] = where[i].first;
    lists->ids[where[i].second.first][where[i].second.second] = static_cast<FaissIdx>(i);
  }
  ivf->direct_map.clear();
  ivf->direct_map.type = faiss::DirectMap::NoMap;
  map->index = loaded.release();
  map->own_fields = true;
  return map;
}

// An IndexIDMap(2) over an IVF: the IVF's ids must be exactly 0..n-1, one per
// id-map entry, or searches answer with the wrong id / read past the id map.
void CheckWrappedIvf(const faiss::IndexIDMap2& map, const std::string& source) {
  auto* ivf = dynamic_cast<const faiss::IndexIVF*>(map.index);
  if (!ivf) return;
  auto* lists = dynamic_cast<const faiss::ArrayInvertedLists*>(ivf->invlists);
  if (!lists) throw ShituError(kErrIndexUnsupported, "index " + source + ": IVF lists that are not in-memory arrays");
  const int64_t n = static_cast<int64_t>(map.id_map.size());
  std::vector<uint8_t> seen(static_cast<size_t>(n), 0);
  int64_t outside = 0, twice = 0, stored = 0;
  FaissIdx example = -1;
  for (size_t l = 0; l < lists->nlist; ++l) {
    for (FaissIdx x : lists->ids[l]) {
      ++stored;
      if (x < 0 || x >= n) {
        if (!outside++) example = x;
      } else if (seen[x]++) {
        ++twice;
      }
    }
  }
  if (ivf->nlist == 0) return;  // PaddleX's tiny IVF: no lists, see AdoptLoaded
  if (outside || twice || stored != n) {
    std::string what = "index " + source + ": its IVF lists do not match its id map (" + std::to_string(stored) +
                       " vectors for " + std::to_string(n) + " ids";
    if (outside) what += "; " + std::to_string(outside) + " internal ids outside 0.." + std::to_string(n - 1) + ", e.g. " + std::to_string(example);
    if (twice) what += "; " + std::to_string(twice) + " internal ids appear twice";
    what += "). This is what removing from an IVF through FAISS's IndexIDMap2 leaves (PaddleX's remove_index on an IVF): "
            "its searches answer with the wrong ids. Rebuild the index from its gallery";
    throw ShituError(kErrIndexCorrupt, what);
  }
}

}  // namespace

void VectorIndex::AdoptLoaded(faiss::Index* raw, const std::string& source) {
  std::unique_ptr<faiss::Index> loaded(raw);
  std::unique_ptr<faiss::IndexIDMap2> map;
  if (auto* m2 = dynamic_cast<faiss::IndexIDMap2*>(loaded.get())) {
    loaded.release();
    map.reset(m2);
  } else if (dynamic_cast<faiss::IndexIVF*>(loaded.get())) {
    map = WrapBareIvf(std::move(loaded), source);
  } else {
    // IndexIDMap2's constructor insists on an empty index, so fill a default one.
    map = std::make_unique<faiss::IndexIDMap2>();
    if (auto* m = dynamic_cast<faiss::IndexIDMap*>(loaded.get())) {
      map->index = m->index;
      map->id_map = m->id_map;
      m->own_fields = false;  // the inner index moves to `map`
      loaded.reset();
    } else {
      map->index = loaded.release();
      map->id_map.resize(map->index->ntotal);
      std::iota(map->id_map.begin(), map->id_map.end(), FaissIdx{0});
    }
  }
  map->own_fields = true;
  {
    const faiss::Index* inner = map->index;
    map->d = inner->d;
    map->metric_type = inner->metric_type;
    map->metric_arg = inner->metric_arg;
    map->is_trained = inner->is_trained;
    map->ntotal = static_cast<FaissIdx>(map->id_map.size());
    map->construct_rev_map();
  }

  faiss::Index* inner = map->index;
  auto* ivfAny = dynamic_cast<faiss::IndexIVF*>(inner);
  // PaddleX builds "IVF0,Flat" for fewer than 8 images: FAISS then drops every
  // vector at add (no list to put it in) but still counts it.
  const bool listless = ivfAny && ivfAny->nlist == 0;
  if (!inner || (inner->ntotal != map->ntotal && !listless)) {
    throw ShituError(kErrIndexCorrupt, "index " + source + ": its id map has " + std::to_string(map->id_map.size()) +
                                           " ids for " + std::to_string(inner ? inner->ntotal : 0) + " vectors");
  }
  if (map->rev_map.size() != map->id_map.size()) {
    throw ShituError(kErrIndexCorrupt, "index " + source + ": " + std::to_string(map->id_map.size() - map->rev_map.size()) +
                                           " id(s) appear twice in its id map");
  }
  for (FaissIdx id : map->id_map) {
    if (id < 0) throw ShituError(kErrIndexCorrupt, "index " + source + " holds a negative id (" + std::to_string(id) + ")");
  }
  CheckWrappedIvf(*map, source);
  const char* metric = MetricName(inner->metric_type);
  if (!metric) {
    throw ShituError(kErrIndexUnsupported, "index " + source + " uses metric type " +
                                               std::to_string(inner->metric_type) + "; only IP and L2 are supported");
  }
  dim_ = inner->d;
  metric_ = metric;
  metricType_ = inner->metric_type;
  type_ = DetectType(inner);
  listless_ = listless;
  if (listless) droppedVectors_ = map->ntotal;

  auto* ivf = dynamic_cast<faiss::IndexIVFFlat*>(inner);
  if (ivf && ivf->nprobe == 0) ivf->nprobe = 1;
  if (ivf && type_ == "IVF" && ivf->ntotal == 0 && ivf->nlist == 1) {
    // What WriteLocked stores for an IVF that never saw a vector (trained on one
    // zero centroid so that PaddleX can append to it; earlier versions stored it
    // untrained): keep nlist open.
    index_.reset();
  } else {
    if (ivfAny && !listless) {
      // Whatever direct map the file had, rebuild it from the lists just checked.
      ivfAny->direct_map.clear();
      ivfAny->direct_map.type = faiss::DirectMap::NoMap;
      try {
        EnableReconstruct(inner);
      } catch (const faiss::FaissException&) {
        // Cannot happen after CheckWrappedIvf; searches work without it anyway.
      }
    }
    index_ = std::move(map);
  }
  PublishCounts();
}

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

// ---- write ----

void VectorIndex::WriteLocked(faiss::IOWriter* writer) {
  if (index_) {
    auto* ivf = dynamic_cast<faiss::IndexIVF*>(index_->index);
    auto* lists = ivf ? dynamic_cast<faiss::ArrayInvertedLists*>(ivf->invlists) : nullptr;
    if (!ivf || !lists || listless_) {
      faiss::write_index(index_.get(), writer);
      return;
    }
    // IVF goes out bare, its lists holding the external ids and no direct map:
    // that is the one layout in which FAISS itself (PaddleX's remove_ids and
    // add_with_ids on the loaded index) keeps every id right. The in-memory
    // numbering is restored afterwards, whatever happens.
    struct Restore {
      faiss::IndexIDMap2* map;
      faiss::IndexIVF* ivf;
      faiss::ArrayInvertedLists* lists;
      ~Restore() {
        for (auto& list : lists->ids) {
          for (auto& x : list) x = map->rev_map.at(x);
        }
        try {
          EnableReconstruct(ivf);
        } catch (...) {
        }
      }
    } restore{index_.get(), ivf, lists};
    ivf->direct_map.clear();
    ivf->direct_map.type = faiss::DirectMap::NoMap;
    for (auto& list : lists->ids) {
      for (auto& x : list) x = index_->id_map[x];
    }
    faiss::write_index(ivf, writer);
    return;
  }
  // An IVF before its first add: an empty IVF1 trained on one zero centroid.
  // AdoptLoaded recognises it and turns it back into "nlist not chosen yet";
  // PaddleX can append to it (one list: exact search).
  if (type_ != "IVF") {
    throw ShituError(kErrIndexUnsupported, "an empty " + type_ + " index cannot be saved: it is sized and trained by its first vectors; add some first");
  }
  auto placeholder = Factory(dim_, "IVF1,Flat", static_cast<faiss::MetricType>(metricType_));
  auto* ivf = static_cast<faiss::IndexIVF*>(placeholder.get());
  std::vector<float> zero(static_cast<size_t>(dim_), 0.0f);
  ivf->quantizer->add(1, zero.data());
  ivf->is_trained = true;
  faiss::write_index(placeholder.get(), writer);
}

void VectorIndex::WriteFile(const std::string& path) {
  auto lock = WriteLock();
  CompactLocked();  // tombstones are not part of the FAISS format
  const std::string where = "cannot write index '" + path + "': ";
  FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) throw ShituError(kErrIndexIo, where + std::strerror(errno));
  try {
    faiss::FileIOWriter writer(f);  // does not close f
    WriteLocked(&writer);
  } catch (const ShituError&) {  // refused before writing (an empty IVF_PQ)
    std::fclose(f);
    throw;
  } catch (const std::exception& e) {
    std::fclose(f);
    throw ShituError(kErrIndexIo, where + FaissMessage(e));
  }
  // FAISS only checks fwrite; a full disk often shows up at flush or fsync, and
  // the caller renames this file into place, so it must really be on disk.
  int err = 0;
  if (std::fflush(f) != 0) {
    err = errno;
  } else if (::fsync(::fileno(f)) != 0 && errno != EINVAL && errno != EROFS) {
    err = errno;  // EINVAL/EROFS: a file that cannot be synced (device, pipe)
  }
  if (std::fclose(f) != 0 && err == 0) err = errno;
  if (err != 0) throw ShituError(kErrIndexIo, where + std::strerror(err));
}

std::vector<uint8_t> VectorIndex::ToBuffer() {
  auto lock = WriteLock();
  CompactLocked();
  faiss::VectorIOWriter writer;
  try {
    WriteLocked(&writer);
  } catch (const faiss::FaissException& e) {
    throw ShituError(kErrInternal, "serialising the index failed: " + FaissMessage(e));
  }
  return std::move(writer.data);
}

}  // namespace shitu

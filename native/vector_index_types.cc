// The index-type table (vector_index_types.h): names <-> FAISS structures,
// factories and the first-Add sizing and training of IVF, IVF_PQ, IVF_PQ_RERANK.
#include "vector_index_types.h"


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

namespace shitu::vector_index_detail {

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

// Index types whose FAISS index is made at the first Add, when the number of
// vectors that sizes it is known.
bool DecidedAtFirstAdd(const std::string& type) {
  return type == "IVF" || type == "IVF_PQ" || type == "IVF_PQ_RERANK";
}


namespace {
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
}  // namespace

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
}  // namespace shitu::vector_index_detail

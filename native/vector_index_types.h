// The index-type table behind VectorIndex (vector_index.h): the package's type
// names to FAISS factory strings and back (DetectType), the indexes sized and
// trained at the first Add, and FAISS's error text. Internal to the
// vector_index_*.cc files: vector_index_ops.cc (add, remove, compact, search)
// and vector_index_io.cc (read, adopt a foreign file, write) share it.
#pragma once
#include <faiss/IndexIDMap.h>

#include <cstdint>
#include <exception>
#include <memory>
#include <string>

namespace shitu::vector_index_detail {

using FaissIdx = faiss::Index::idx_t;  // FAISS 1.7.3 has no faiss::idx_t yet

// FAISS's message without its location and condition prefix.
std::string FaissMessage(const std::exception& e);
// "IP" | "L2" to FAISS's metric (kErrIndexUnsupported otherwise), and back (nullptr for others).
faiss::MetricType ParseMetric(const std::string& metric);
const char* MetricName(faiss::MetricType m);
// The type names this package uses (SPEC §2), read back from a loaded index.
std::string DetectType(const faiss::Index* inner);
// Index types whose FAISS index is made at the first Add, when the number of
// vectors that sizes it is known.
bool DecidedAtFirstAdd(const std::string& type);
// IVF_PQ_RERANK: the PQ's best k x kRerankFactor candidates are re-scored
// exactly against the stored float vectors.
inline constexpr float kRerankFactor = 8;
// Trains `index` on the first batch (a small one padded: see the definition).
void TrainIndex(faiss::Index* index, int64_t n, const float* x, int dim);
// The FAISS index of a DecidedAtFirstAdd type for a first Add of n vectors.
std::unique_ptr<faiss::Index> SizedByFirstAdd(const std::string& type, int dim, int64_t n, faiss::MetricType metric);
// faiss::index_factory, its failures as kErrIndexUnsupported.
std::unique_ptr<faiss::Index> Factory(int dim, const std::string& desc, faiss::MetricType metric);
// IVF reconstruct needs a direct map (id -> list position).
void EnableReconstruct(faiss::Index* inner);
// `inner` in an IndexIDMap2 that owns it, reconstruct enabled.
std::unique_ptr<faiss::IndexIDMap2> Wrap(std::unique_ptr<faiss::Index> inner);

}  // namespace shitu::vector_index_detail

// VectorIndex's IO (vector_index.h): reading a file or buffer, adopting what
// FAISS loaded (this package's files and foreign ones: a bare IVF, an IndexIDMap,
// PaddleX's listless IVF), and writing.
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

// ---- loading ----

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

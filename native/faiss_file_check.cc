// See faiss_file_check.h. The layout follows FAISS's impl/index_read.cpp
// (read_index_header, read_ivf_header, read_direct_map, read_InvertedLists,
// read_HNSW), which is the same in FAISS 1.7 and the faiss-cpu releases PaddleX
// uses for these index types.
#include "faiss_file_check.h"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <vector>

#include "errors.h"

namespace shitu {

namespace {

// Limits that no real index reaches but that keep a corrupt one from asking
// for absurd work (each is checked before anything of that size is allocated).
constexpr int kMaxDim = 65536;
constexpr int64_t kMaxNlist = int64_t{1} << 24;
constexpr int kMaxHnswLevels = 64;
constexpr int kMaxHnswNeighboursPerLevel = 1 << 12;
constexpr int kMaxHnswEf = 1 << 20;  // efSearch / efConstruction / upper_beam

uint32_t Fourcc(const char* s) {
  return uint32_t(uint8_t(s[0])) | uint32_t(uint8_t(s[1])) << 8 | uint32_t(uint8_t(s[2])) << 16 |
         uint32_t(uint8_t(s[3])) << 24;
}

std::string FourccName(uint32_t h) {
  std::string s;
  for (int i = 0; i < 4; ++i) {
    const char c = static_cast<char>((h >> (8 * i)) & 0xff);
    if (c >= 0x20 && c < 0x7f) {
      s += c;
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", static_cast<unsigned>(static_cast<uint8_t>(c)));
      s += buf;
    }
  }
  return s;
}

// A byte source that knows how much is left, so every count can be checked
// against the real size before it is believed.
class Source {
 public:
  virtual ~Source() = default;
  uint64_t Remaining() const { return size_ - pos_; }
  uint64_t Pos() const { return pos_; }
  void Read(void* out, uint64_t n, const char* what) {
    Need(n, what);
    DoRead(out, n);
    pos_ += n;
  }
  void Skip(uint64_t n, const char* what) {
    Need(n, what);
    DoSkip(n);
    pos_ += n;
  }
  template <typename T>
  T Get(const char* what) {
    T v;
    Read(&v, sizeof v, what);
    return v;
  }
  void Need(uint64_t n, const char* what) const {
    if (n > Remaining()) {
      throw ShituError(kErrIndexCorrupt, std::string(what) + " needs " + std::to_string(n) + " bytes at offset " +
                                             std::to_string(pos_) + " but the file has only " +
                                             std::to_string(Remaining()) + " left");
    }
  }

 protected:
  virtual void DoRead(void* out, uint64_t n) = 0;
  virtual void DoSkip(uint64_t n) = 0;
  uint64_t size_ = 0;
  uint64_t pos_ = 0;
};

class SpanSource : public Source {
 public:
  SpanSource(const uint8_t* data, size_t size) : data_(data) { size_ = size; }

 private:
  void DoRead(void* out, uint64_t n) override { std::memcpy(out, data_ + pos_, n); }
  void DoSkip(uint64_t) override {}
  const uint8_t* data_;
};

class FileSource : public Source {
 public:
  explicit FileSource(const std::string& path) : path_(path) {
    f_ = std::fopen(path.c_str(), "rb");
    if (!f_) throw ShituError(kErrIndexIo, "cannot open index '" + path + "': " + std::strerror(errno));
    struct stat st {};
    if (::fstat(::fileno(f_), &st) != 0 || !S_ISREG(st.st_mode)) {
      std::fclose(f_);
      throw ShituError(kErrIndexIo, "index '" + path + "' is not a regular file");
    }
    size_ = static_cast<uint64_t>(st.st_size);
  }
  ~FileSource() override { std::fclose(f_); }

 private:
  void DoRead(void* out, uint64_t n) override {
    if (std::fread(out, 1, n, f_) != n) throw ShituError(kErrIndexIo, "cannot read index '" + path_ + "'");
  }
  void DoSkip(uint64_t n) override {
    if (::fseeko(f_, static_cast<off_t>(n), SEEK_CUR) != 0) {
      throw ShituError(kErrIndexIo, "cannot seek in index '" + path_ + "'");
    }
  }
  std::string path_;
  FILE* f_ = nullptr;
};

[[noreturn]] void Corrupt(const std::string& what) { throw ShituError(kErrIndexCorrupt, what); }

// A FAISS vector<T>: a uint64 element count, then the elements. The count is
// checked against the bytes left before anything is allocated.
uint64_t VectorCount(Source& s, uint64_t elemSize, const char* what) {
  const uint64_t n = s.Get<uint64_t>(what);
  if (n > s.Remaining() / elemSize) {
    Corrupt(std::string(what) + " claims " + std::to_string(n) + " elements of " + std::to_string(elemSize) +
            " bytes; only " + std::to_string(s.Remaining()) + " bytes are left");
  }
  return n;
}

template <typename T>
std::vector<T> ReadVector(Source& s, const char* what) {
  const uint64_t n = VectorCount(s, sizeof(T), what);
  std::vector<T> v(n);
  if (n) s.Read(v.data(), n * sizeof(T), what);
  return v;
}

struct Header {
  int d = 0;
  int64_t ntotal = 0;
  int metric = 0;
  bool trained = false;
};

Header ReadHeader(Source& s, const std::string& where) {
  Header h;
  h.d = s.Get<int32_t>("index header");
  h.ntotal = s.Get<int64_t>("index header");
  s.Skip(16, "index header");  // two unused 64-bit fields
  const uint8_t trained = s.Get<uint8_t>("index header");
  h.metric = s.Get<int32_t>("index header");
  if (h.d < 1 || h.d > kMaxDim) Corrupt(where + ": dimension " + std::to_string(h.d) + " is outside 1.." + std::to_string(kMaxDim));
  if (h.ntotal < 0 || h.ntotal > (int64_t{1} << 40)) Corrupt(where + ": vector count " + std::to_string(h.ntotal) + " is impossible");
  if (trained > 1) Corrupt(where + ": is_trained byte is " + std::to_string(trained));
  h.trained = trained == 1;
  if (h.metric > 1) {
    s.Skip(4, "metric argument");
    static const int kKnown[] = {2, 3, 4, 20, 21, 22, 23};
    if (std::find(std::begin(kKnown), std::end(kKnown), h.metric) != std::end(kKnown)) {
      throw ShituError(kErrIndexUnsupported, where + " uses FAISS metric " + std::to_string(h.metric) +
                                                 "; only inner product (IP) and L2 are supported");
    }
  }
  if (h.metric < 0 || h.metric > 1) Corrupt(where + ": unknown metric type " + std::to_string(h.metric));
  return h;
}

bool IsFlat(uint32_t h) { return h == Fourcc("IxFI") || h == Fourcc("IxF2") || h == Fourcc("IxFl"); }

Header CheckFlat(Source& s, const std::string& where) {
  Header h = ReadHeader(s, where);
  const uint64_t floats = VectorCount(s, 4, "flat vectors");
  if (floats != static_cast<uint64_t>(h.ntotal) * static_cast<uint64_t>(h.d)) {
    Corrupt(where + ": holds " + std::to_string(floats) + " floats for " + std::to_string(h.ntotal) +
            " vectors of dimension " + std::to_string(h.d));
  }
  s.Skip(floats * 4, "flat vectors");
  return h;
}

void CheckSameShape(const Header& outer, const Header& inner, const std::string& what) {
  if (inner.d != outer.d) Corrupt(what + " has dimension " + std::to_string(inner.d) + ", its index " + std::to_string(outer.d));
  if (inner.metric != outer.metric) Corrupt(what + " has metric " + std::to_string(inner.metric) + ", its index " + std::to_string(outer.metric));
}

Header CheckIvfFlat(Source& s, FaissFileSummary& sum) {
  Header h = ReadHeader(s, "IVF index");
  const uint64_t nlist = s.Get<uint64_t>("IVF nlist");
  s.Skip(8, "IVF nprobe");
  if (nlist > static_cast<uint64_t>(kMaxNlist)) Corrupt("IVF index: nlist " + std::to_string(nlist) + " is impossible");
  sum.nlist = static_cast<int64_t>(nlist);
  const uint32_t qh = s.Get<uint32_t>("IVF quantizer");
  if (!IsFlat(qh)) throw ShituError(kErrIndexUnsupported, "IVF index with a '" + FourccName(qh) + "' quantizer (only flat quantizers are supported)");
  Header q = CheckFlat(s, "IVF quantizer");
  if (q.d != h.d) Corrupt("IVF quantizer has dimension " + std::to_string(q.d) + ", its index " + std::to_string(h.d));
  // An untrained IVF has no centroids yet (how earlier versions saved an empty IVF).
  const bool untrainedEmpty = !h.trained && q.ntotal == 0 && h.ntotal == 0;
  if (static_cast<uint64_t>(q.ntotal) != nlist && !untrainedEmpty) {
    Corrupt("IVF quantizer holds " + std::to_string(q.ntotal) + " centroids for nlist " + std::to_string(nlist));
  }
  // Direct map: type byte, array, and for a hashtable its (id, list/offset) pairs.
  const uint8_t dm = s.Get<uint8_t>("IVF direct map");
  if (dm > 2) Corrupt("IVF direct map type " + std::to_string(dm) + " is unknown");
  s.Skip(VectorCount(s, 8, "IVF direct map") * 8, "IVF direct map");
  if (dm == 2) s.Skip(VectorCount(s, 16, "IVF direct map hashtable") * 16, "IVF direct map hashtable");

  const uint32_t ih = s.Get<uint32_t>("IVF inverted lists");
  if (ih != Fourcc("ilar")) {
    throw ShituError(kErrIndexUnsupported, "IVF index with '" + FourccName(ih) + "' inverted lists (only in-file array lists are supported)");
  }
  const uint64_t lists = s.Get<uint64_t>("IVF inverted lists");
  const uint64_t codeSize = s.Get<uint64_t>("IVF inverted lists");
  if (lists != nlist) Corrupt("IVF inverted lists count " + std::to_string(lists) + " for nlist " + std::to_string(nlist));
  if (codeSize != static_cast<uint64_t>(h.d) * 4) Corrupt("IVF code size " + std::to_string(codeSize) + " for dimension " + std::to_string(h.d));
  std::vector<uint64_t> sizes(nlist, 0);
  const uint32_t lt = s.Get<uint32_t>("IVF list sizes");
  if (lt == Fourcc("full")) {
    auto v = ReadVector<uint64_t>(s, "IVF list sizes");
    if (v.size() != nlist) Corrupt("IVF list sizes: " + std::to_string(v.size()) + " sizes for " + std::to_string(nlist) + " lists");
    sizes.swap(v);
  } else if (lt == Fourcc("sprs")) {
    auto v = ReadVector<uint64_t>(s, "IVF list sizes");
    if (v.size() % 2) Corrupt("IVF sparse list sizes have an odd length");
    for (size_t j = 0; j < v.size(); j += 2) {
      if (v[j] >= nlist) Corrupt("IVF sparse list sizes name list " + std::to_string(v[j]) + " of " + std::to_string(nlist));
      sizes[v[j]] = v[j + 1];
    }
  } else {
    Corrupt("IVF list sizes of unknown kind '" + FourccName(lt) + "'");
  }
  uint64_t total = 0;
  const uint64_t perVector = codeSize + 8;
  for (uint64_t n : sizes) {
    if (n > s.Remaining() / perVector || total + n > s.Remaining() / perVector) {
      Corrupt("IVF lists claim more vectors than the file holds");
    }
    total += n;
  }
  s.Skip(total * perVector, "IVF lists");
  sum.storedVectors = static_cast<int64_t>(total);
  if (nlist > 0 && total != static_cast<uint64_t>(h.ntotal)) {
    Corrupt("IVF index counts " + std::to_string(h.ntotal) + " vectors but its lists hold " + std::to_string(total));
  }
  // nlist 0 (PaddleX's IVF of fewer than 8 vectors): FAISS dropped every vector at add. VectorIndex reports it.
  if (nlist == 0 && total != 0) Corrupt("IVF index without lists holds vectors");
  return h;
}

Header CheckHnswFlat(Source& s) {
  Header h = ReadHeader(s, "HNSW index");
  const int64_t n = h.ntotal;
  const uint64_t probas = VectorCount(s, 8, "HNSW assign_probas");
  if (probas > static_cast<uint64_t>(kMaxHnswLevels)) Corrupt("HNSW: " + std::to_string(probas) + " level probabilities");
  s.Skip(probas * 8, "HNSW assign_probas");
  auto cum = ReadVector<int32_t>(s, "HNSW cum_nneighbor_per_level");
  if (cum.empty() || cum.size() > static_cast<size_t>(kMaxHnswLevels) + 1 || cum[0] != 0) Corrupt("HNSW: malformed neighbours-per-level table");
  for (size_t l = 1; l < cum.size(); ++l) {
    if (cum[l] < cum[l - 1] || cum[l] - cum[l - 1] > kMaxHnswNeighboursPerLevel) Corrupt("HNSW: malformed neighbours-per-level table");
  }
  const int levelsKnown = static_cast<int>(cum.size()) - 1;
  if (VectorCount(s, 4, "HNSW levels") != static_cast<uint64_t>(n)) Corrupt("HNSW: the level table does not have one entry per vector");
  std::vector<int32_t> levels(static_cast<size_t>(n));
  if (n) s.Read(levels.data(), static_cast<uint64_t>(n) * 4, "HNSW levels");
  for (int64_t i = 0; i < n; ++i) {
    if (levels[i] < 1 || levels[i] > levelsKnown) Corrupt("HNSW: vector " + std::to_string(i) + " has level " + std::to_string(levels[i] - 1));
  }
  if (VectorCount(s, 8, "HNSW offsets") != static_cast<uint64_t>(n) + 1) Corrupt("HNSW: the offset table does not have one entry per vector");
  std::vector<uint64_t> offsets(static_cast<size_t>(n) + 1);
  s.Read(offsets.data(), (static_cast<uint64_t>(n) + 1) * 8, "HNSW offsets");
  if (offsets[0] != 0) Corrupt("HNSW: the first offset is not 0");
  for (int64_t i = 0; i < n; ++i) {
    if (offsets[i + 1] < offsets[i] || offsets[i + 1] - offsets[i] != static_cast<uint64_t>(cum[levels[i]])) {
      Corrupt("HNSW: the neighbour slots of vector " + std::to_string(i) + " do not match its level");
    }
  }
  const uint64_t slots = VectorCount(s, 4, "HNSW neighbours");
  if (slots != offsets[n]) Corrupt("HNSW: " + std::to_string(slots) + " neighbour slots, the offsets need " + std::to_string(offsets[n]));
  // Every neighbour at level l must be a vector that exists at level l: the
  // search walks level l through it.
  std::vector<int32_t> buf;
  for (int64_t i = 0; i < n; ++i) {
    const uint64_t count = offsets[i + 1] - offsets[i];
    buf.resize(count);
    if (count) s.Read(buf.data(), count * 4, "HNSW neighbours");
    for (int l = 0; l < levels[i]; ++l) {
      for (int32_t k = cum[l]; k < cum[l + 1]; ++k) {
        const int32_t j = buf[k];
        if (j == -1) continue;
        if (j < 0 || j >= n) Corrupt("HNSW: vector " + std::to_string(i) + " has neighbour " + std::to_string(j) + " of " + std::to_string(n));
        if (levels[j] <= l) Corrupt("HNSW: vector " + std::to_string(i) + " links to vector " + std::to_string(j) + " at a level it does not have");
      }
    }
  }
  const int32_t entry = s.Get<int32_t>("HNSW entry point");
  const int32_t maxLevel = s.Get<int32_t>("HNSW max level");
  const int32_t efConstruction = s.Get<int32_t>("HNSW efConstruction");
  const int32_t efSearch = s.Get<int32_t>("HNSW efSearch");
  const int32_t upperBeam = s.Get<int32_t>("HNSW upper_beam");
  if (n > 0) {
    if (entry < 0 || entry >= n) Corrupt("HNSW: entry point " + std::to_string(entry) + " of " + std::to_string(n) + " vectors");
    if (maxLevel != levels[entry] - 1) Corrupt("HNSW: max level " + std::to_string(maxLevel) + " is not the entry point's level " + std::to_string(levels[entry] - 1));
  } else if (entry != -1 || maxLevel != -1) {
    Corrupt("HNSW: an empty graph with entry point " + std::to_string(entry) + " and max level " + std::to_string(maxLevel));
  }
  if (efConstruction < 1 || efConstruction > kMaxHnswEf) Corrupt("HNSW: efConstruction " + std::to_string(efConstruction));
  if (efSearch < 1 || efSearch > kMaxHnswEf) Corrupt("HNSW: efSearch " + std::to_string(efSearch));
  if (upperBeam < 1 || upperBeam > kMaxHnswEf) Corrupt("HNSW: upper_beam " + std::to_string(upperBeam));
  const uint32_t sh = s.Get<uint32_t>("HNSW storage");
  if (!IsFlat(sh)) throw ShituError(kErrIndexUnsupported, "HNSW index with '" + FourccName(sh) + "' storage (only flat storage is supported)");
  Header st = CheckFlat(s, "HNSW storage");
  CheckSameShape(h, st, "HNSW storage");
  if (st.ntotal != n) Corrupt("HNSW storage holds " + std::to_string(st.ntotal) + " vectors, the graph " + std::to_string(n));
  return h;
}

Header CheckPlain(Source& s, uint32_t fourcc, FaissFileSummary& sum) {
  sum.inner = FourccName(fourcc);
  Header h;
  if (IsFlat(fourcc)) {
    h = CheckFlat(s, "flat index");
    sum.storedVectors = h.ntotal;
  } else if (fourcc == Fourcc("IwFl")) {
    h = CheckIvfFlat(s, sum);
  } else if (fourcc == Fourcc("IHNf")) {
    h = CheckHnswFlat(s);
    sum.storedVectors = h.ntotal;
  } else {
    // FAISS's own type codes are four printable letters starting with 'I'.
    bool faissLike = (fourcc & 0xff) == 'I';
    for (int i = 0; i < 4; ++i) faissLike = faissLike && std::isalnum(static_cast<int>((fourcc >> (8 * i)) & 0xff));
    if (!faissLike) Corrupt("not a FAISS index (type code '" + FourccName(fourcc) + "')");
    throw ShituError(kErrIndexUnsupported, "cannot verify a FAISS index of type '" + FourccName(fourcc) +
                                               "' (known without a checksum: Flat, IVF...,Flat, HNSW..., each optionally in an IDMap)");
  }
  return h;
}

FaissFileSummary Check(Source& s) {
  FaissFileSummary sum;
  const uint32_t h = s.Get<uint32_t>("index type");
  sum.outer = FourccName(h);
  if (h == Fourcc("IxMp") || h == Fourcc("IxM2")) {
    Header outer = ReadHeader(s, "id map");
    const uint32_t ih = s.Get<uint32_t>("wrapped index type");
    Header inner = CheckPlain(s, ih, sum);
    CheckSameShape(outer, inner, "the wrapped index");
    const uint64_t ids = VectorCount(s, 8, "id map");
    if (static_cast<int64_t>(ids) != outer.ntotal || inner.ntotal != outer.ntotal) {
      Corrupt("id map has " + std::to_string(ids) + " ids for " + std::to_string(outer.ntotal) +
              " vectors (wrapped index: " + std::to_string(inner.ntotal) + ")");
    }
    s.Skip(ids * 8, "id map");
    sum.dim = outer.d;
    sum.ntotal = outer.ntotal;
  } else {
    Header only = CheckPlain(s, h, sum);
    sum.dim = only.d;
    sum.ntotal = only.ntotal;
  }
  return sum;
}

}  // namespace

FaissFileSummary CheckFaissFile(const std::string& path) {
  FileSource s(path);
  try {
    return Check(s);
  } catch (const ShituError& e) {
    if (e.code() == kErrIndexIo) throw;
    throw ShituError(e.code(), "index '" + path + "': " + e.what());
  }
}

FaissFileSummary CheckFaissBuffer(const uint8_t* data, size_t size) {
  SpanSource s(data, size);
  return Check(s);
}

}  // namespace shitu

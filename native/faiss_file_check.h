// Structural check of a FAISS index file before faiss::read_index trusts it.
//
// faiss::read_index believes every count and size in the file: a single flipped
// field makes it allocate gigabytes, read past its vectors (IndexIDMap2's
// construct_rev_map with a larger ntotal than id map), or build an HNSW graph
// whose first search dereferences out-of-range nodes. This parser walks the
// file layout of the index types that this package, PaddleX and PaddleClas
// write (IndexIDMap / IndexIDMap2 around IndexFlat{,IP,L2}, IndexIVFFlat with a
// flat quantizer and array inverted lists, IndexHNSWFlat) without building
// anything, and checks every count against the bytes that are really there and
// every cross-reference (HNSW levels, offsets, neighbour ids, entry point; IVF
// list sizes; id-map length) against the counts. It reads the file once,
// streaming, with memory proportional to the number of vectors (not their size).
//
// Failures are ShituError kErrIndexCorrupt naming the field, or
// kErrIndexUnsupported for a well-formed file of a type it does not know (such
// files load only with a matching checksum, see lib/vector-index/index-data.ts).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace shitu {

struct FaissFileSummary {
  std::string outer;  // fourcc of the outermost index, e.g. "IxM2"
  std::string inner;  // fourcc of the wrapped index ("IwFl", "IHNf", "IxFI", ...)
  int dim = 0;
  int64_t ntotal = 0;
  int64_t nlist = -1;         // IVF only
  int64_t storedVectors = 0;  // vectors actually present (IVF: sum of list sizes)
};

FaissFileSummary CheckFaissFile(const std::string& path);
FaissFileSummary CheckFaissBuffer(const uint8_t* data, size_t size);

}  // namespace shitu

// PaddleX's FAISS operations (paddlex/inference/pipelines/components/faisser.py),
// replayed through FAISS's own C++ API, call for call: Python FAISS is not
// installable here, so this stands in for faiss-cpu with this machine's FAISS
// (libfaiss-dev 1.7.3, same file format for these index types). Compiled by
// test/helpers/paddlex.ts; one operation per run, results as JSON on stdout.
//
//   build  TYPE METRIC VECS N D OUT   index_factory(D, PaddleX's string, metric) in
//                                     IndexIDMap2; train(all); add_with_ids(0..N-1)
//   append IN VECS N START OUT        read_index; add_with_ids(START..START+N-1); write_index
//   remove IN IDS OUT                 read_index; remove_ids(IDSelectorBatch(IDS)); write_index
//   search IN QUERIES NQ K            read_index; search -> {"ntotal", "ids", "scores"}
#include <faiss/IndexIDMap.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/IDSelector.h>
#include <faiss/index_factory.h>
#include <faiss/index_io.h>

#include <algorithm>
#include <fstream>
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

using Idx = faiss::Index::idx_t;

static std::vector<float> ReadFloats(const std::string& path, size_t n) {
  std::vector<float> v(n);
  std::ifstream f(path, std::ios::binary);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(float)));
  if (!f) throw std::runtime_error("cannot read " + path);
  return v;
}

static std::vector<Idx> Range(long start, long n) {
  std::vector<Idx> ids(static_cast<size_t>(n));
  for (long i = 0; i < n; ++i) ids[static_cast<size_t>(i)] = start + i;
  return ids;
}

int main(int argc, char** argv) {
  try {
    const std::vector<std::string> a(argv + 1, argv + argc);
    const std::string op = a.empty() ? "" : a[0];
    if (op == "build" && a.size() == 7) {
      const long n = std::stol(a[4]);
      const int d = std::stoi(a[5]);
      std::string desc = a[1];
      if (desc == "IVF") desc = "IVF" + std::to_string(std::min<long>(n / 8, 65536)) + ",Flat";  // _get_index_type
      const faiss::MetricType metric = a[2] == "IP" ? faiss::METRIC_INNER_PRODUCT : faiss::METRIC_L2;
      const auto x = ReadFloats(a[3], static_cast<size_t>(n) * d);
      std::unique_ptr<faiss::Index> inner(faiss::index_factory(d, desc.c_str(), metric));
      faiss::IndexIDMap2 index(inner.get());
      index.train(n, x.data());
      const auto ids = Range(0, n);
      index.add_with_ids(n, x.data(), ids.data());
      faiss::write_index(&index, a[6].c_str());
      std::cout << "{\"ntotal\":" << index.ntotal << "}\n";
      return 0;
    }
    if (op == "append" && a.size() == 6) {
      std::unique_ptr<faiss::Index> index(faiss::read_index(a[1].c_str()));
      const long n = std::stol(a[3]);
      const auto x = ReadFloats(a[2], static_cast<size_t>(n) * index->d);
      const auto ids = Range(std::stol(a[4]), n);
      index->add_with_ids(n, x.data(), ids.data());
      faiss::write_index(index.get(), a[5].c_str());
      std::cout << "{\"ntotal\":" << index->ntotal << "}\n";
      return 0;
    }
    if (op == "remove" && a.size() == 4) {
      std::unique_ptr<faiss::Index> index(faiss::read_index(a[1].c_str()));
      std::vector<Idx> ids;
      std::stringstream ss(a[2]);
      for (std::string t; std::getline(ss, t, ',');) ids.push_back(std::stol(t));
      faiss::IDSelectorBatch sel(ids.size(), ids.data());
      const size_t removed = index->remove_ids(sel);
      faiss::write_index(index.get(), a[3].c_str());
      std::cout << "{\"ntotal\":" << index->ntotal << ",\"removed\":" << removed << "}\n";
      return 0;
    }
    if (op == "search" && a.size() == 5) {
      std::unique_ptr<faiss::Index> index(faiss::read_index(a[1].c_str()));
      const long nq = std::stol(a[3]);
      const long k = std::stol(a[4]);
      const auto q = ReadFloats(a[2], static_cast<size_t>(nq) * index->d);
      std::vector<float> dist(static_cast<size_t>(nq * k));
      std::vector<Idx> labels(static_cast<size_t>(nq * k));
      index->search(nq, q.data(), k, dist.data(), labels.data());
      std::cout << "{\"ntotal\":" << index->ntotal << ",\"ids\":[";
      for (size_t i = 0; i < labels.size(); ++i) std::cout << (i ? "," : "") << labels[i];
      std::cout << "],\"scores\":[";
      for (size_t i = 0; i < dist.size(); ++i) std::cout << (i ? "," : "") << dist[i];
      std::cout << "]}\n";
      return 0;
    }
    throw std::runtime_error("usage: build|append|remove|search ... (got '" + op + "')");
  } catch (const std::exception& e) {
    std::cerr << e.what() << "\n";
    return 1;
  }
}

#include "js_search.h"

#include "errors.h"
#include "js_common.h"
#include "js_vector_index.h"

namespace shitu {

SearchFn MakeSearchFn(const Napi::Value& index, const Napi::Object& options, int dim) {
  std::shared_ptr<VectorIndex> vi = UnwrapVectorIndex(index);
  if (vi->Dim() != dim)
    throw MakeError(index.Env(), kErrIndexDim,
                    "the index holds " + std::to_string(vi->Dim()) + "-d vectors but the feature model gives " +
                        std::to_string(dim) + "-d");
  VectorSearchParams params;
  params.nprobe = GetInt(options, "nprobe", 0);
  params.efSearch = GetInt(options, "efSearch", 0);
  params.rerank = GetInt(options, "rerank", 0);
  // The lambda owns a reference: the index outlives the call even if JS drops it.
  return [vi, params](const std::vector<float>& q, int nq, int k, std::vector<int64_t>& ids,
                      std::vector<float>& scores) {
    VectorSearchResult r = vi->Search(q.data(), nq, k, params);
    ids = std::move(r.ids);
    scores = std::move(r.scores);
  };
}

}  // namespace shitu

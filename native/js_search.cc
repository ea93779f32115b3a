#include "js_search.h"

#include "js_common.h"

namespace shitu {

SearchFn MakeSearchFn(const Napi::Value& index, const Napi::Object& options, int dim) {
  throw Napi::Error::New(index.Env(), "index search not available yet");
}

}  // namespace shitu

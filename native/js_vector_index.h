// Access to the native index behind a JS VectorIndex, for other binding files
// that search inside one native call (e.g. recognition).
#pragma once
#include <napi.h>

#include <memory>

#include "vector_index.h"

namespace shitu {

// The index held by a JS VectorIndex (shared: it stays alive while the caller
// holds the pointer, even if the JS object is collected). Throws
// Napi::TypeError if `v` is not a VectorIndex. Call on the JS thread; the
// returned index may then be used from any thread.
std::shared_ptr<VectorIndex> UnwrapVectorIndex(const Napi::Value& v);

}  // namespace shitu

// Bridge from a JS VectorIndex argument to the SearchFn the recognizer calls on
// the worker thread (keeps recognizer.cc free of FAISS).
#pragma once
#include <napi.h>

#include "recognizer.h"

namespace shitu {
// Checks that the index's dimension equals `dim` (ERR_INDEX_DIM otherwise).
SearchFn MakeSearchFn(const Napi::Value& index, const Napi::Object& options, int dim);
}  // namespace shitu

// STUB: replaced by the real bindings.
#include "bindings.h"
namespace shitu {
void InitVectorIndexBindings(Napi::Env env, Napi::Object exports) {}
}  // namespace shitu

// exchangePaths(a: string, b: string): Promise<boolean>
//
// Swaps two existing paths atomically (Linux renameat2 RENAME_EXCHANGE): how an
// index directory is replaced by a newly written one with no instant at which
// neither exists. Resolves false where the kernel or file system cannot do it
// (the caller then falls back to two renames and recovers on load); any other
// failure rejects with ERR_INDEX_IO. Node's fs has no exchange, hence this file.
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "bindings.h"
#include "errors.h"
#include "js_common.h"

#ifndef RENAME_EXCHANGE
#define RENAME_EXCHANGE (1 << 1)
#endif

namespace shitu {

namespace {

Napi::Value ExchangePaths(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!info[0].IsString() || !info[1].IsString()) throw Napi::TypeError::New(env, "paths must be strings");
  const std::string a = info[0].As<Napi::String>().Utf8Value();
  const std::string b = info[1].As<Napi::String>().Utf8Value();
  auto swapped = std::make_shared<bool>(false);
  return PromiseWorker::Queue(
      env,
      [a, b, swapped] {
#ifdef SYS_renameat2
        if (::syscall(SYS_renameat2, AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), RENAME_EXCHANGE) == 0) {
          *swapped = true;
          return;
        }
        const int err = errno;
        if (err == ENOSYS || err == EINVAL || err == ENOTSUP) return;  // not available here
        throw ShituError(kErrIndexIo, "cannot exchange '" + a + "' and '" + b + "': " + std::strerror(err));
#endif
      },
      [swapped](Napi::Env env) -> Napi::Value { return Napi::Boolean::New(env, *swapped); });
}

}  // namespace

void InitPathExchangeBindings(Napi::Env env, Napi::Object exports) {
  exports.Set("exchangePaths", Napi::Function::New(env, ExchangePaths, "exchangePaths"));
}

}  // namespace shitu

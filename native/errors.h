// Errors raised on the worker thread carry a stable code so that the JS side can
// turn them into typed errors (see lib/errors.ts). Codes are part of the API.
#pragma once
#include <stdexcept>
#include <string>

namespace shitu {

class ShituError : public std::runtime_error {
 public:
  ShituError(std::string code, const std::string& message)
      : std::runtime_error(message), code_(std::move(code)) {}
  const std::string& code() const { return code_; }

 private:
  std::string code_;
};

// Stable codes (mirrored in lib/errors.ts).
inline constexpr const char* kErrImageDecode = "ERR_IMAGE_DECODE";
inline constexpr const char* kErrImageMissing = "ERR_IMAGE_MISSING";
inline constexpr const char* kErrImageFormat = "ERR_IMAGE_FORMAT";
inline constexpr const char* kErrImageTooLarge = "ERR_IMAGE_TOO_LARGE";
inline constexpr const char* kErrOutOfMemory = "ERR_OUT_OF_MEMORY";
inline constexpr const char* kErrModelLoad = "ERR_MODEL_LOAD";
inline constexpr const char* kErrModelContract = "ERR_MODEL_CONTRACT";
inline constexpr const char* kErrInference = "ERR_INFERENCE";
inline constexpr const char* kErrIndexDim = "ERR_INDEX_DIM";
inline constexpr const char* kErrIndexUnsupported = "ERR_INDEX_UNSUPPORTED";
inline constexpr const char* kErrIndexIo = "ERR_INDEX_IO";
inline constexpr const char* kErrIndexId = "ERR_INDEX_ID";
inline constexpr const char* kErrIndexCorrupt = "ERR_INDEX_CORRUPT";
inline constexpr const char* kErrDevice = "ERR_DEVICE";
inline constexpr const char* kErrDraw = "ERR_DRAW";
inline constexpr const char* kErrAborted = "ERR_ABORTED";  // a job cancelled through its `cancel` flag (cancel.h)
inline constexpr const char* kErrInternal = "ERR_INTERNAL";

// Every code above, for contracts() (js_contracts.cc): test/native/contracts.test.ts
// checks that lib/errors.ts lists the same native codes.
inline constexpr const char* kErrorCodes[] = {
    kErrImageDecode, kErrImageMissing, kErrImageFormat, kErrImageTooLarge, kErrOutOfMemory, kErrModelLoad,
    kErrModelContract, kErrInference, kErrIndexDim, kErrIndexUnsupported, kErrIndexIo, kErrIndexId,
    kErrIndexCorrupt, kErrDevice, kErrDraw, kErrAborted, kErrInternal,
};

}  // namespace shitu

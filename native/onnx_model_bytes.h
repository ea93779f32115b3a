// Byte-level rewriting of ONNX model files (protobuf wire format, no protobuf
// library). Used before an ONNX Runtime session is created from memory.
#pragma once
#include <string>

namespace shitu {

struct StrippedModel {
  std::string bytes;  // the rewritten ModelProto
  int removedInputs;  // how many graph inputs were dropped
};

// Returns the model with every graph input whose name is also an initializer
// (or sparse initializer) name removed. Paddle exports (paddle2onnx, IR 7) list
// every weight as a graph input too; ONNX Runtime then warns once per weight and
// skips constant folding on them (measurably slower sessions).
//
// Everything else is copied byte for byte (field order kept; only the graph's
// length prefix is re-encoded). When nothing is removed, bytes == modelBytes.
// Models with ir_version < 4 are returned unchanged (removedInputs 0): before
// IR 4 the ONNX spec requires every initializer to be a graph input.
//
// Throws ShituError(kErrModelLoad, ...) when the bytes are not a parseable ONNX
// ModelProto (random bytes, a truncated file, a JPEG, no graph field, ...).
//
// It rewrites the caller's buffer in place (no second copy of a model of tens of
// MB; on these machines copying 4 MB into fresh memory costs ~10 ms). On error
// the argument is left moved-from.
StrippedModel StripInitializerInputs(std::string&& modelBytes);

}  // namespace shitu

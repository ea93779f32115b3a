// See onnx_model_bytes.h. Protobuf wire format, by hand:
//   tag = varint(field_number << 3 | wire_type)
//   wire types: 0 varint, 1 fixed64, 2 length-delimited (varint length + bytes),
//   5 fixed32; 3/4 (groups) never appear in ONNX and are rejected.
#include "onnx_model_bytes.h"

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "errors.h"

namespace shitu {
namespace {

constexpr int kVarint = 0, kFixed64 = 1, kLen = 2, kFixed32 = 5;

[[noreturn]] void Fail(const char* where, const std::string& what) {
  throw ShituError(kErrModelLoad,
                   std::string("not a valid ONNX model (") + where + "): " + what);
}

struct Field {
  uint32_t number = 0;
  int wireType = 0;
  const uint8_t* start = nullptr;    // first byte of the tag
  const uint8_t* payload = nullptr;  // first byte after the tag (after the length for kLen)
  const uint8_t* end = nullptr;      // one past the last byte of the field
  uint64_t value = 0;                // varint value, or payload length for kLen
  std::string_view bytes() const {
    return {reinterpret_cast<const char*>(payload), static_cast<size_t>(end - payload)};
  }
};

bool ReadVarint(const uint8_t*& p, const uint8_t* end, uint64_t& out) {
  uint64_t v = 0;
  for (int shift = 0; shift < 64 && p < end; shift += 7) {
    const uint8_t b = *p++;
    v |= static_cast<uint64_t>(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      out = v;
      return true;
    }
  }
  return false;  // truncated or longer than 10 bytes
}

// Iterates over the fields of one message held in [p, end).
class FieldReader {
 public:
  FieldReader(const uint8_t* p, const uint8_t* end, const char* where)
      : p_(p), end_(end), where_(where) {}
  explicit FieldReader(const Field& f, const char* where)
      : FieldReader(f.payload, f.end, where) {}

  bool Next(Field& f) {
    if (p_ == end_) return false;
    f.start = p_;
    uint64_t tag;
    if (!ReadVarint(p_, end_, tag)) Fail(where_, "truncated or malformed field tag");
    if (tag > 0xffffffffull || (tag >> 3) == 0) Fail(where_, "invalid field number");
    f.number = static_cast<uint32_t>(tag >> 3);
    f.wireType = static_cast<int>(tag & 7);
    const size_t left = static_cast<size_t>(end_ - p_);
    switch (f.wireType) {
      case kVarint:
        if (!ReadVarint(p_, end_, f.value)) Fail(where_, "truncated or malformed varint");
        f.payload = f.start;
        break;
      case kFixed64:
      case kFixed32: {
        const size_t n = f.wireType == kFixed64 ? 8 : 4;
        if (left < n) Fail(where_, "truncated fixed-size field");
        f.payload = p_;
        p_ += n;
        break;
      }
      case kLen: {
        if (!ReadVarint(p_, end_, f.value)) Fail(where_, "truncated or malformed length");
        if (f.value > static_cast<uint64_t>(end_ - p_))
          Fail(where_, "field length runs past the end of the data (truncated file?)");
        f.payload = p_;
        p_ += f.value;
        break;
      }
      default:
        Fail(where_, "unsupported wire type " + std::to_string(f.wireType));
    }
    f.end = p_;
    return true;
  }

  // Rejects a known field that arrives with the wrong wire type.
  void Expect(const Field& f, int wireType) const {
    if (f.wireType != wireType)
      Fail(where_, "field " + std::to_string(f.number) + " has wire type " +
                       std::to_string(f.wireType) + ", expected " + std::to_string(wireType));
  }

 private:
  const uint8_t* p_;
  const uint8_t* end_;
  const char* where_;
};

// The `name` string of a TensorProto (field 8) or ValueInfoProto (field 1).
// Scalar fields: the last occurrence wins, as in protobuf.
std::string_view ReadName(const Field& msg, uint32_t nameField, const char* where) {
  FieldReader r(msg, where);
  std::string_view name;
  Field f;
  while (r.Next(f)) {
    if (f.number == nameField) {
      r.Expect(f, kLen);
      name = f.bytes();
    }
  }
  return name;
}

struct GraphScan {
  Field field;                                                  // ModelProto.graph
  std::vector<std::pair<std::string_view, Field>> inputs;       // GraphProto.input, by name
  std::vector<std::pair<const uint8_t*, const uint8_t*>> drop;  // input fields to remove
};

struct ModelScan {
  std::vector<GraphScan> graphs;
  int removed = 0;
};

// Parses and validates the model held in [begin, end); records what to drop.
ModelScan ScanModel(const uint8_t* begin, const uint8_t* end) {
  ModelScan scan;
  std::vector<GraphScan>& graphs = scan.graphs;
  // Pass 1: ModelProto top level. Known fields must have their declared wire type.
  // (ModelProto.graph could legally occur more than once: protobuf merges them.)
  bool haveIrVersion = false;
  uint64_t irVersion = 0;
  {
    FieldReader r(begin, end, "ModelProto");
    Field f;
    while (r.Next(f)) {
      switch (f.number) {
        case 1: case 5:  // ir_version, model_version
          r.Expect(f, kVarint);
          if (f.number == 1) haveIrVersion = true, irVersion = f.value;
          break;
        case 2: case 3: case 4: case 6: case 8: case 14: case 20: case 25:
          r.Expect(f, kLen);  // strings, opset_import, metadata, training_info, functions
          break;
        case 7:
          r.Expect(f, kLen);
          graphs.push_back(GraphScan{f, {}, {}});
          break;
        default:
          break;  // unknown/newer fields are legal protobuf; copied as they are
      }
    }
  }
  if (graphs.empty()) Fail("ModelProto", "no graph field");

  // Pass 2: the GraphProto(s): collect initializer names and the inputs.
  std::unordered_set<std::string_view> initNames;
  for (GraphScan& g : graphs) {
    FieldReader r(g.field, "GraphProto");
    Field f;
    while (r.Next(f)) {
      switch (f.number) {
        case 5: {  // initializer: TensorProto, name = 8
          r.Expect(f, kLen);
          std::string_view name = ReadName(f, 8, "TensorProto");
          if (!name.empty()) initNames.insert(name);
          break;
        }
        case 15: {  // sparse_initializer: SparseTensorProto, values = 1 (TensorProto)
          r.Expect(f, kLen);
          FieldReader sr(f, "SparseTensorProto");
          Field sf;
          std::string_view name;
          while (sr.Next(sf)) {
            if (sf.number == 1) {
              sr.Expect(sf, kLen);
              name = ReadName(sf, 8, "TensorProto");
            }
          }
          if (!name.empty()) initNames.insert(name);
          break;
        }
        case 11:  // input: ValueInfoProto, name = 1
          r.Expect(f, kLen);
          g.inputs.emplace_back(ReadName(f, 1, "ValueInfoProto"), f);
          break;
        case 1: case 2: case 10: case 12: case 13: case 14: case 16:
          r.Expect(f, kLen);  // node, name, doc_string, output, value_info, annotations, metadata
          break;
        default:
          break;
      }
    }
  }

  // Before IR 4 initializers must also be graph inputs: leave such models alone.
  const bool strip = !(haveIrVersion && irVersion < 4);
  if (strip) {
    for (GraphScan& g : graphs) {
      for (const auto& [name, f] : g.inputs) {
        if (!name.empty() && initNames.count(name)) g.drop.emplace_back(f.start, f.end);
      }
      scan.removed += static_cast<int>(g.drop.size());
    }
  }
  return scan;
}

// Writes the rewritten model to dst and returns its size (never more than
// end - begin). dst may be begin itself (in-place): the write position never
// passes the read position, since the graph length only shrinks and its new
// varint is never longer than the old one.
size_t Emit(const ModelScan& scan, const uint8_t* begin, const uint8_t* end, uint8_t* dst) {
  uint8_t* w = dst;
  auto move = [&w](const uint8_t* a, const uint8_t* b) {
    std::memmove(w, a, static_cast<size_t>(b - a));
    w += b - a;
  };
  const uint8_t* copied = begin;
  for (const GraphScan& g : scan.graphs) {
    if (g.drop.empty()) continue;
    size_t dropped = 0;
    for (const auto& [a, b] : g.drop) dropped += static_cast<size_t>(b - a);
    // The tag bytes as they were, then the new length.
    const uint8_t* p = g.field.start;
    uint64_t ignoredTag;
    ReadVarint(p, end, ignoredTag);
    move(copied, p);
    uint64_t len = g.field.value - dropped;
    while (len >= 0x80) {
      *w++ = static_cast<uint8_t>((len & 0x7f) | 0x80);
      len >>= 7;
    }
    *w++ = static_cast<uint8_t>(len);
    const uint8_t* q = g.field.payload;
    for (const auto& [a, b] : g.drop) {
      move(q, a);
      q = b;
    }
    move(q, g.field.end);
    copied = g.field.end;
  }
  move(copied, end);
  return static_cast<size_t>(w - dst);
}

}  // namespace

StrippedModel StripInitializerInputs(std::string&& modelBytes) {
  StrippedModel result{std::move(modelBytes), 0};
  uint8_t* begin = reinterpret_cast<uint8_t*>(result.bytes.data());
  uint8_t* end = begin + result.bytes.size();
  ModelScan scan = ScanModel(begin, end);
  if (scan.removed == 0) return result;
  result.bytes.resize(Emit(scan, begin, end, begin));
  result.removedInputs = scan.removed;
  return result;
}

}  // namespace shitu

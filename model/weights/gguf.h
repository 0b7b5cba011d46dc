// GGUF (v2 and v3) parsing: metadata of every value type and the tensor table,
// validated against the file before anything is used.
//
// Layout (little-endian): "GGUF", u32 version, u64 tensor count, u64 metadata
// count, the metadata key/value pairs, the tensor infos (name, u32 n_dims, u64
// dims innermost first, u32 ggml type, u64 offset into the data section), then
// padding to `general.alignment` (default 32) and the data section.
//
// parse_gguf() checks the magic and version, that every count, string and array
// length fits in the bytes that are left (so a hostile length cannot make it
// allocate or loop beyond the file), that keys and tensor names are unique,
// that every tensor's type is known, its dims positive and its element count
// free of overflow, and that every tensor's bytes lie aligned inside the data
// section, none overlapping another. Any violation is an InputError naming the
// key or tensor and offset.
//
// A file is read in two parts: the header (metadata and tensor table, at most
// kMaxGgufHeaderBytes) is copied out of the mapping and parsed from that copy;
// tensor data is copied out by GgufFile::read when a loader asks for it.
#pragma once
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "model/weights/mapped_file.h"

namespace bitlab {

enum class GgufType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7,
  String = 8, Array = 9, U64 = 10, I64 = 11, F64 = 12,
};
const char* gguf_type_name(GgufType t);
// Bytes of one value of a fixed-size type; 0 for String and Array, whose length
// is in the file.
uint64_t gguf_scalar_size(GgufType t);

// ggml tensor types this reader knows the size of.
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, BF16 = 30,
  TQ1_0 = 34,  // llama.cpp: base-3 ternary, 256-weight blocks of 54 bytes with an fp16 scale (tq_formats.h)
  TQ2_0 = 35,  // llama.cpp: 2-bit ternary, 256-weight blocks of 66 bytes with an fp16 scale
  I2_S = 36,  // bitnet.cpp: 2-bit ternary codes in 128-code blocks, then one fp32 scale (docs/design.md §3)
  TL2 = 39,   // bitnet.cpp: lookup-table layout for its generated x86 kernels, then one fp32 scale (tl2_formats.h)
  // ik_llama.cpp's own ids (bn_formats.h): every row starts with its scale.
  IQ1_BN = 134,  // fp16 row scale, then 64-weight blocks of 13 bytes
  IQ2_BN = 135,  // fp32 row scale, then 64-weight blocks of 16 bytes
};
const char* ggml_type_name(uint32_t type);
// Bytes a tensor of `elements` elements of `type` occupies; throws InputError
// naming `tensor` for an unknown type or an element count the type cannot hold.
uint64_t ggml_tensor_bytes(uint32_t type, uint64_t elements, std::string_view tensor);
// The same from the dims (innermost first), which the block types need: their
// blocks may not straddle rows, and IQ1_BN / IQ2_BN rows carry a scale each.
uint64_t ggml_tensor_bytes(uint32_t type, std::span<const uint64_t> dims, std::string_view tensor);

// The largest header (metadata plus tensor table) a file may have: real ones
// are a few MB (the Llama-3 vocabulary is about 8 MB); the cap bounds what a
// hostile file can make the reader copy and allocate.
inline constexpr uint64_t kMaxGgufHeaderBytes = uint64_t(64) << 20;

struct GgufValue {
  GgufType type = GgufType::U8;
  uint64_t offset = 0;  // where the value starts in the file
  // Scalars: integers in `u` (unsigned) or `i` (signed), floats in `f`.
  uint64_t u = 0;
  int64_t i = 0;
  double f = 0;
  std::string_view str;  // String: points into the header (GgufFile::owner)
  // Array: element type and count; numeric elements stay in the file (`raw`),
  // strings are views into it, nested arrays are parsed.
  GgufType elem = GgufType::U8;
  uint64_t count = 0;
  std::span<const uint8_t> raw;
  std::vector<std::string_view> strings;
  std::vector<GgufValue> items;

  bool is_integer() const;
  bool is_float() const { return type == GgufType::F32 || type == GgufType::F64; }
  // Element `idx` of a numeric array as an integer / a double.
  int64_t int_at(uint64_t idx) const;
  double float_at(uint64_t idx) const;
};

struct GgufTensor {
  std::string_view name;
  std::vector<uint64_t> dims;  // innermost (contiguous) first, as in ggml
  uint32_t type = 0;
  uint64_t offset = 0;         // from the start of the data section
  uint64_t elements = 0;
  uint64_t nbytes = 0;       // exactly ggml_tensor_bytes(type, dims)
  uint64_t file_offset = 0;  // where the data starts in the file
};

class GgufFile {
 public:
  uint32_t version = 0;
  uint64_t alignment = 32;
  uint64_t data_offset = 0;  // start of the data section in the file
  std::string what;          // file name for messages
  std::vector<std::pair<std::string_view, GgufValue>> metadata;  // in file order
  std::vector<GgufTensor> tensors;                                // in file order
  std::shared_ptr<const void> owner;  // the header copy the views point into, when opened from a file
  ByteSource source;                  // where tensor data is read from

  // A tensor's bytes, copied out of the file (an InputError naming the file if
  // it shrank since it was opened).
  std::vector<uint8_t> read(const GgufTensor& t) const { return source.copy(t.file_offset, t.nbytes); }
  void read_into(const GgufTensor& t, void* dst) const { source.copy(t.file_offset, dst, t.nbytes); }

  const GgufValue* find(std::string_view key) const;
  const GgufTensor* tensor(std::string_view name) const;
  // Typed lookups: throw InputError naming the key when it is missing or of the
  // wrong type; the *_or forms return `fallback` when the key is absent.
  int64_t get_int(std::string_view key) const;
  int64_t get_int_or(std::string_view key, int64_t fallback) const;
  double get_float_or(std::string_view key, double fallback) const;
  std::string_view get_string(std::string_view key) const;
  bool get_bool_or(std::string_view key, bool fallback) const;
  const GgufValue& get_array(std::string_view key, GgufType elem) const;

 private:
  friend GgufFile parse_gguf_header(std::span<const uint8_t>, uint64_t, std::string);
  std::unordered_map<std::string_view, size_t> key_index_, tensor_index_;
};

// Parses and validates GGUF bytes; views in the result point into `bytes`,
// which the caller keeps alive.
GgufFile parse_gguf(std::span<const uint8_t> bytes, std::string what);
// Parses the header from `bytes`, the first bytes of a file of `file_size`
// bytes; throws NeedMoreBytes when the header runs past them. Tensor
// bounds are checked against `file_size`; `source` is left for the caller.
GgufFile parse_gguf_header(std::span<const uint8_t> bytes, uint64_t file_size, std::string what);
// Maps `path`, copies its header out and parses it; tensor data is read from
// the mapping through guarded copies. Errors name `path`.
GgufFile open_gguf(const std::string& path);

}  // namespace bitlab

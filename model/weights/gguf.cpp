#include "model/weights/gguf.h"

#include <algorithm>
#include <cstring>
#include <new>

#include <fmt/format.h>

#include "model/error.h"
#include "model/weights/mapped_file.h"
#include "model/weights/tl2_formats.h"

namespace bitlab {

namespace {

constexpr int kMaxArrayDepth = 4;       // arrays of arrays of ...: real files use 1
constexpr uint32_t kMaxDims = 4;        // GGML_MAX_DIMS
// Smallest encodings, used to bound counts by the bytes left in the file.
constexpr uint64_t kMinKvBytes = 8 + 1 + 4 + 1;           // key length, 1-byte key, type, u8 value
constexpr uint64_t kMinTensorInfoBytes = 8 + 1 + 4 + 8 + 4 + 8;  // name, n_dims, one dim, type, offset

// Room reserved up front for `count` elements of at least `min_bytes` bytes
// each: no more than the header bytes in memory can hold, so a count that the
// (possibly sparse, huge) file merely might hold reserves nothing absurd.
size_t reserve_for(uint64_t count, uint64_t min_bytes, const ByteReader& r) {
  return size_t(std::min(count, r.available() / min_bytes));
}

bool known_type(uint32_t t) { return t <= uint32_t(GgufType::F64); }

// Reads one scalar of type `t` at `p` into v.u / v.i / v.f.
void decode_scalar(GgufType t, const uint8_t* p, GgufValue& v) {
  auto load = [&](auto x) {
    std::memcpy(&x, p, sizeof(x));
    return x;
  };
  switch (t) {
    case GgufType::U8: v.u = load(uint8_t{}); v.i = int64_t(v.u); break;
    case GgufType::I8: v.i = load(int8_t{}); break;
    case GgufType::U16: v.u = load(uint16_t{}); v.i = int64_t(v.u); break;
    case GgufType::I16: v.i = load(int16_t{}); break;
    case GgufType::U32: v.u = load(uint32_t{}); v.i = int64_t(v.u); break;
    case GgufType::I32: v.i = load(int32_t{}); break;
    case GgufType::U64: v.u = load(uint64_t{}); v.i = int64_t(v.u); break;
    case GgufType::I64: v.i = load(int64_t{}); break;
    case GgufType::F32: v.f = load(float{}); break;
    case GgufType::F64: v.f = load(double{}); break;
    case GgufType::Bool: v.u = load(uint8_t{}); v.i = int64_t(v.u); break;
    default: break;
  }
  if (t == GgufType::I8 || t == GgufType::I16 || t == GgufType::I32 || t == GgufType::I64) v.u = uint64_t(v.i);
}

GgufValue read_value(ByteReader& r, GgufType t, std::string_view key, int depth) {
  GgufValue v;
  v.type = t;
  v.offset = r.offset();
  if (t == GgufType::String) {
    v.str = r.read_string(key);
    return v;
  }
  if (t == GgufType::Array) {
    if (depth >= kMaxArrayDepth)
      throw InputError(fmt::format("{}: key '{}': arrays nested deeper than {} at offset {}", r.what(), key,
                                   kMaxArrayDepth, v.offset));
    const auto et = r.read<uint32_t>(key);
    if (!known_type(et))
      throw InputError(fmt::format("{}: key '{}': unknown array element type {} at offset {}", r.what(), key, et,
                                   v.offset));
    v.elem = GgufType(et);
    v.count = r.read<uint64_t>(key);
    const uint64_t min_elem =
        v.elem == GgufType::String ? 8 : v.elem == GgufType::Array ? 12 : gguf_scalar_size(v.elem);
    if (v.count > r.remaining() / min_elem)
      throw InputError(fmt::format("{}: key '{}': array of {} {} at offset {} cannot fit in the {} bytes left",
                                   r.what(), key, v.count, gguf_type_name(v.elem), v.offset, r.remaining()));
    if (v.elem == GgufType::String) {
      v.strings.reserve(reserve_for(v.count, min_elem, r));
      for (uint64_t i = 0; i < v.count; ++i) v.strings.push_back(r.read_string(key));
    } else if (v.elem == GgufType::Array) {
      v.items.reserve(reserve_for(v.count, min_elem, r));
      for (uint64_t i = 0; i < v.count; ++i) v.items.push_back(read_value(r, GgufType::Array, key, depth + 1));
    } else {
      v.raw = r.take(v.count * min_elem, key);  // count <= remaining / size: no overflow
    }
    return v;
  }
  const uint64_t n = gguf_scalar_size(t);
  decode_scalar(t, r.take(n, key).data(), v);
  if (t == GgufType::Bool && v.u > 1)
    throw InputError(fmt::format("{}: key '{}': bool value {} at offset {}", r.what(), key, v.u, v.offset));
  return v;
}

}  // namespace

const char* gguf_type_name(GgufType t) {
  static const char* const names[] = {"u8",  "i8",     "u16",   "i16", "u32", "i32", "f32",
                                      "bool", "string", "array", "u64", "i64", "f64"};
  return known_type(uint32_t(t)) ? names[uint32_t(t)] : "unknown";
}

uint64_t gguf_scalar_size(GgufType t) {
  switch (t) {
    case GgufType::U8: case GgufType::I8: case GgufType::Bool: return 1;
    case GgufType::U16: case GgufType::I16: return 2;
    case GgufType::U32: case GgufType::I32: case GgufType::F32: return 4;
    case GgufType::U64: case GgufType::I64: case GgufType::F64: return 8;
    default: return 0;
  }
}

const char* ggml_type_name(uint32_t type) {
  switch (GgmlType(type)) {
    case GgmlType::F32: return "F32";
    case GgmlType::F16: return "F16";
    case GgmlType::BF16: return "BF16";
    case GgmlType::I8: return "I8";
    case GgmlType::I16: return "I16";
    case GgmlType::I32: return "I32";
    case GgmlType::I64: return "I64";
    case GgmlType::F64: return "F64";
    case GgmlType::I2_S: return "I2_S";
    case GgmlType::TL2: return "TL2";
    case GgmlType::TQ1_0: return "TQ1_0";
    case GgmlType::TQ2_0: return "TQ2_0";
    case GgmlType::IQ1_BN: return "IQ1_BN";
    case GgmlType::IQ2_BN: return "IQ2_BN";
  }
  return "unknown";
}

uint64_t ggml_tensor_bytes(uint32_t type, uint64_t elements, std::string_view tensor) {
  uint64_t size = 0;
  switch (GgmlType(type)) {
    case GgmlType::I8: size = 1; break;
    case GgmlType::F16: case GgmlType::BF16: case GgmlType::I16: size = 2; break;
    case GgmlType::F32: case GgmlType::I32: size = 4; break;
    case GgmlType::I64: case GgmlType::F64: size = 8; break;
    case GgmlType::I2_S:
      // 128 codes per 32-byte block, then the fp32 scale padded to 32 bytes.
      if (elements % 128 != 0)
        throw InputError(fmt::format("tensor '{}': I2_S needs a multiple of 128 elements, has {}", tensor, elements));
      return elements / 4 + 32;
    case GgmlType::TQ1_0: case GgmlType::TQ2_0: case GgmlType::IQ1_BN: case GgmlType::IQ2_BN: case GgmlType::TL2:
      throw InputError(fmt::format("tensor '{}': the size of a {} tensor depends on its row length", tensor,
                                   ggml_type_name(type)));
  }
  if (size == 0) throw InputError(fmt::format("tensor '{}': unsupported ggml type {}", tensor, type));
  return checked_mul(elements, size, fmt::format("tensor '{}'", tensor));
}

uint64_t ggml_tensor_bytes(uint32_t type, std::span<const uint64_t> dims, std::string_view tensor) {
  uint64_t rows = 1;
  for (size_t i = 1; i < dims.size(); ++i) rows = checked_mul(rows, dims[i], fmt::format("tensor '{}'", tensor));
  const uint64_t row = dims.empty() ? 1 : dims[0];
  // Bytes of one row: whole blocks (block weights, block bytes) after `meta` bytes of row scale.
  auto blocked = [&](uint64_t block, uint64_t block_bytes, uint64_t meta) {
    if (row % block != 0)
      throw InputError(fmt::format("tensor '{}': {} needs rows of a multiple of {} elements, has {}", tensor,
                                   ggml_type_name(type), block, row));
    return checked_mul(rows, meta + row / block * block_bytes, fmt::format("tensor '{}'", tensor));
  };
  switch (GgmlType(type)) {
    case GgmlType::TQ1_0: return blocked(256, 54, 0);
    case GgmlType::TQ2_0: return blocked(256, 66, 0);
    case GgmlType::IQ1_BN: return blocked(64, 13, 2);
    case GgmlType::IQ2_BN: return blocked(64, 16, 4);
    case GgmlType::TL2:
      // bitnet.cpp's ggml_nbytes for TL2: a size formula of the matrix shape.
      if (dims.size() != 2 || row < 256)
        throw InputError(fmt::format("tensor '{}': TL2 needs a matrix with rows of at least 256 elements", tensor));
      return tl2_bytes(int64_t(rows), int64_t(row));
    default: return ggml_tensor_bytes(type, checked_mul(rows, row, fmt::format("tensor '{}'", tensor)), tensor);
  }
}

bool GgufValue::is_integer() const {
  switch (type) {
    case GgufType::U8: case GgufType::I8: case GgufType::U16: case GgufType::I16: case GgufType::U32:
    case GgufType::I32: case GgufType::U64: case GgufType::I64: return true;
    default: return false;
  }
}

int64_t GgufValue::int_at(uint64_t idx) const {
  const uint64_t n = gguf_scalar_size(elem);
  if (type != GgufType::Array || n == 0 || idx >= count || elem == GgufType::F32 || elem == GgufType::F64)
    throw UsageError("GgufValue::int_at on a value that is not an integer array");
  GgufValue v;
  decode_scalar(elem, raw.data() + idx * n, v);
  return v.i;
}

double GgufValue::float_at(uint64_t idx) const {
  const uint64_t n = gguf_scalar_size(elem);
  if (type != GgufType::Array || n == 0 || idx >= count)
    throw UsageError("GgufValue::float_at on a value that is not a numeric array");
  GgufValue v;
  decode_scalar(elem, raw.data() + idx * n, v);
  return (elem == GgufType::F32 || elem == GgufType::F64) ? v.f : double(v.i);
}

const GgufValue* GgufFile::find(std::string_view key) const {
  auto it = key_index_.find(key);
  return it == key_index_.end() ? nullptr : &metadata[it->second].second;
}

const GgufTensor* GgufFile::tensor(std::string_view name) const {
  auto it = tensor_index_.find(name);
  return it == tensor_index_.end() ? nullptr : &tensors[it->second];
}

int64_t GgufFile::get_int(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) throw InputError(fmt::format("{}: metadata key '{}' is missing", what, key));
  if (!v->is_integer())
    throw InputError(
        fmt::format("{}: metadata key '{}' is {}, expected an integer", what, key, gguf_type_name(v->type)));
  if (v->type == GgufType::U64 && v->u > uint64_t(INT64_MAX))
    throw InputError(fmt::format("{}: metadata key '{}' = {} is out of range", what, key, v->u));
  return v->i;
}

int64_t GgufFile::get_int_or(std::string_view key, int64_t fallback) const {
  return find(key) == nullptr ? fallback : get_int(key);
}

double GgufFile::get_float_or(std::string_view key, double fallback) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return fallback;
  if (v->is_float()) return v->f;
  if (v->is_integer()) return double(v->i);
  throw InputError(fmt::format("{}: metadata key '{}' is {}, expected a number", what, key, gguf_type_name(v->type)));
}

std::string_view GgufFile::get_string(std::string_view key) const {
  const GgufValue* v = find(key);
  if (v == nullptr) throw InputError(fmt::format("{}: metadata key '{}' is missing", what, key));
  if (v->type != GgufType::String)
    throw InputError(fmt::format("{}: metadata key '{}' is {}, expected a string", what, key, gguf_type_name(v->type)));
  return v->str;
}

bool GgufFile::get_bool_or(std::string_view key, bool fallback) const {
  const GgufValue* v = find(key);
  if (v == nullptr) return fallback;
  if (v->type != GgufType::Bool)
    throw InputError(fmt::format("{}: metadata key '{}' is {}, expected a bool", what, key, gguf_type_name(v->type)));
  return v->u != 0;
}

const GgufValue& GgufFile::get_array(std::string_view key, GgufType elem) const {
  const GgufValue* v = find(key);
  if (v == nullptr) throw InputError(fmt::format("{}: metadata key '{}' is missing", what, key));
  if (v->type != GgufType::Array || v->elem != elem)
    throw InputError(fmt::format("{}: metadata key '{}' is {}{}, expected an array of {}", what, key,
                                 gguf_type_name(v->type),
                                 v->type == GgufType::Array ? fmt::format(" of {}", gguf_type_name(v->elem)) : "",
                                 gguf_type_name(elem)));
  return *v;
}

GgufFile parse_gguf_header(std::span<const uint8_t> bytes, uint64_t file_size, std::string what) {
  GgufFile g;
  g.what = what;
  ByteReader r(bytes, file_size, std::move(what));
  const auto magic = r.take(4, "magic");
  if (std::memcmp(magic.data(), "GGUF", 4) != 0)
    throw InputError(fmt::format("{}: not a GGUF file (magic {:02x} {:02x} {:02x} {:02x} at offset 0, not \"GGUF\")",
                                 g.what, magic[0], magic[1], magic[2], magic[3]));
  g.version = r.read<uint32_t>("version");
  if (g.version != 2 && g.version != 3)
    throw InputError(fmt::format("{}: GGUF version {} at offset 4 is not supported (2 or 3)", g.what, g.version));
  const auto n_tensors = r.read<uint64_t>("tensor count");
  const auto n_kv = r.read<uint64_t>("metadata count");
  if (n_kv > r.remaining() / kMinKvBytes)
    throw InputError(fmt::format("{}: metadata count {} at offset 16 cannot fit in the {} bytes of the file", g.what,
                                 n_kv, r.size()));
  if (n_tensors > r.remaining() / kMinTensorInfoBytes)
    throw InputError(fmt::format("{}: tensor count {} at offset 8 cannot fit in the {} bytes of the file", g.what,
                                 n_tensors, r.size()));

  g.metadata.reserve(reserve_for(n_kv, kMinKvBytes, r));
  for (uint64_t k = 0; k < n_kv; ++k) {
    const uint64_t at = r.offset();
    const std::string_view key = r.read_string("metadata key");
    if (key.empty()) throw InputError(fmt::format("{}: empty metadata key at offset {}", g.what, at));
    const auto t = r.read<uint32_t>(key);
    if (!known_type(t))
      throw InputError(fmt::format("{}: key '{}' at offset {} has unknown value type {}", g.what, key, at, t));
    GgufValue v;
    try {
      v = read_value(r, GgufType(t), key, 0);
    } catch (const InputError& e) {
      throw InputError(fmt::format("{} (value of key '{}' at offset {})", e.what(), key, at));
    }
    if (!g.key_index_.emplace(key, g.metadata.size()).second)
      throw InputError(fmt::format("{}: duplicate metadata key '{}' at offset {}", g.what, key, at));
    g.metadata.emplace_back(key, std::move(v));
  }

  if (const GgufValue* a = g.find("general.alignment")) {
    if (a->type != GgufType::U32 && a->type != GgufType::U64 && a->type != GgufType::I32)
      throw InputError(fmt::format("{}: general.alignment is {}, expected u32", g.what, gguf_type_name(a->type)));
    const uint64_t al = a->u;
    if (al == 0 || (al & (al - 1)) != 0 || al > (1u << 20))
      throw InputError(fmt::format("{}: general.alignment {} is not a power of two up to 1 MiB", g.what, al));
    g.alignment = al;
  }

  g.tensors.reserve(reserve_for(n_tensors, kMinTensorInfoBytes, r));
  for (uint64_t t = 0; t < n_tensors; ++t) {
    GgufTensor ti;
    const uint64_t at = r.offset();
    ti.name = r.read_string("tensor name");
    if (ti.name.empty()) throw InputError(fmt::format("{}: tensor {} at offset {} has an empty name", g.what, t, at));
    const auto n_dims = r.read<uint32_t>(ti.name);
    if (n_dims == 0 || n_dims > kMaxDims)
      throw InputError(fmt::format("{}: tensor '{}' at offset {} has {} dims (1 to {})", g.what, ti.name, at, n_dims,
                                   kMaxDims));
    ti.elements = 1;
    for (uint32_t d = 0; d < n_dims; ++d) {
      const auto dim = r.read<uint64_t>(ti.name);
      if (dim == 0 || dim > uint64_t(INT64_MAX))
        throw InputError(fmt::format("{}: tensor '{}' at offset {}: dim {} is {}", g.what, ti.name, at, d, dim));
      ti.dims.push_back(dim);
      ti.elements = checked_mul(ti.elements, dim, fmt::format("{}: tensor '{}' element count", g.what, ti.name));
    }
    if (ti.elements > uint64_t(INT64_MAX))
      throw InputError(fmt::format("{}: tensor '{}': {} elements is too many", g.what, ti.name, ti.elements));
    ti.type = r.read<uint32_t>(ti.name);
    ti.offset = r.read<uint64_t>(ti.name);
    if (!g.tensor_index_.emplace(ti.name, g.tensors.size()).second)
      throw InputError(fmt::format("{}: duplicate tensor '{}' at offset {}", g.what, ti.name, at));
    g.tensors.push_back(std::move(ti));
  }

  // The data section starts at the next multiple of the alignment.
  const uint64_t header_end = r.offset();
  g.data_offset = checked_add(header_end, (g.alignment - header_end % g.alignment) % g.alignment, g.what);
  if (g.data_offset > file_size && !g.tensors.empty())
    throw InputError(fmt::format("{}: data section at offset {} is past the end of the file ({} bytes)", g.what,
                                 g.data_offset, file_size));
  const uint64_t data_size = g.data_offset <= file_size ? file_size - g.data_offset : 0;
  for (GgufTensor& ti : g.tensors) {
    uint64_t nbytes;
    try {
      nbytes = ggml_tensor_bytes(ti.type, ti.dims, ti.name);
    } catch (const InputError& e) {
      throw InputError(fmt::format("{}: {}", g.what, e.what()));
    }
    if (ti.offset % g.alignment != 0)
      throw InputError(fmt::format("{}: tensor '{}': data offset {} is not a multiple of the alignment {}", g.what,
                                   ti.name, ti.offset, g.alignment));
    if (ti.offset > data_size || nbytes > data_size - ti.offset)
      throw InputError(fmt::format("{}: tensor '{}': {} bytes at data offset {} (file offset {}) run past the end of "
                                   "the file ({} bytes)",
                                   g.what, ti.name, nbytes, ti.offset, g.data_offset + ti.offset, file_size));
    ti.file_offset = g.data_offset + ti.offset;
    ti.nbytes = nbytes;
  }
  std::vector<FileExtent> extents;
  extents.reserve(g.tensors.size());
  for (const GgufTensor& ti : g.tensors) extents.push_back({ti.name, ti.file_offset, ti.nbytes});
  refuse_overlapping_extents(g.what, std::move(extents));
  return g;
}

GgufFile parse_gguf(std::span<const uint8_t> bytes, std::string what) {
  GgufFile g;
  try {
    g = parse_gguf_header(bytes, bytes.size(), what);
  } catch (const std::bad_alloc&) {
    throw InputError(fmt::format("{}: not enough memory for its header", what));
  }
  g.source = ByteSource(bytes);
  return g;
}

GgufFile open_gguf(const std::string& path) {
  auto file = MappedFile::open(path);
  // Copy a prefix that holds most headers, and more whenever the parse runs
  // past it, up to the cap.
  uint64_t want = std::min<uint64_t>(file->size(), uint64_t(1) << 20);
  for (;;) {
    try {
      auto header = std::make_shared<const std::vector<uint8_t>>(file->copy(0, want));
      GgufFile g = parse_gguf_header(*header, file->size(), path);
      g.owner = header;
      g.source = ByteSource(file);
      return g;
    } catch (const NeedMoreBytes& more) {
      if (more.end > kMaxGgufHeaderBytes)
        throw InputError(fmt::format("{}: the header (metadata and tensor table) runs past {} MiB, the most this "
                                     "reader accepts",
                                     path, kMaxGgufHeaderBytes >> 20));
      want = std::min({file->size(), std::max(more.end, 2 * want), kMaxGgufHeaderBytes});
    } catch (const std::bad_alloc&) {
      throw InputError(fmt::format("{}: not enough memory for its header", path));
    }
  }
}

}  // namespace bitlab

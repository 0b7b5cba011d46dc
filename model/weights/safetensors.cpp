#include "model/weights/safetensors.h"

#include <algorithm>
#include <new>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "model/error.h"
#include "model/weights/atomic_write.h"
#include "model/weights/json_error.h"
#include "model/weights/mapped_file.h"

namespace bitlab {

namespace {

constexpr uint64_t kMaxHeaderBytes = 100'000'000;  // the format's own limit
constexpr int kMaxJsonDepth = 8;                   // the format needs 3

// Deepest bracket nesting outside strings; stops counting past `limit`.
int json_depth(std::string_view s, int limit) {
  int depth = 0, max_depth = 0;
  bool in_string = false, escaped = false;
  for (char ch : s) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (ch == '\\') escaped = true;
      else if (ch == '"') in_string = false;
      continue;
    }
    if (ch == '"') in_string = true;
    else if (ch == '{' || ch == '[') {
      max_depth = std::max(max_depth, ++depth);
      if (max_depth > limit) return max_depth;
    } else if (ch == '}' || ch == ']') --depth;
  }
  return max_depth;
}

int64_t json_nonneg_int(const nlohmann::json& v, const std::string& what) {
  if (!v.is_number_integer() || (v.is_number_integer() && !v.is_number_unsigned() && v.get<int64_t>() < 0))
    throw InputError(fmt::format("{} is {}, expected a non-negative integer", what, v.dump()));
  const uint64_t u = v.get<uint64_t>();
  if (u > uint64_t(INT64_MAX)) throw InputError(fmt::format("{} = {} is out of range", what, u));
  return int64_t(u);
}

}  // namespace

uint64_t safetensors_dtype_size(const std::string& d) {
  if (d == "BOOL" || d == "U8" || d == "I8" || d == "F8_E4M3" || d == "F8_E5M2") return 1;
  if (d == "F16" || d == "BF16" || d == "I16" || d == "U16") return 2;
  if (d == "F32" || d == "I32" || d == "U32") return 4;
  if (d == "F64" || d == "I64" || d == "U64") return 8;
  return 0;
}

const SafetensorsTensor* SafetensorsFile::tensor(const std::string& name) const {
  auto it = index_.find(name);
  return it == index_.end() ? nullptr : &tensors[it->second];
}

SafetensorsFile parse_safetensors_header(std::span<const uint8_t> bytes, uint64_t file_size, std::string what) {
  SafetensorsFile f;
  f.what = std::move(what);
  ByteReader r(bytes, file_size, f.what);
  const auto n = r.read<uint64_t>("header length");
  if (n > kMaxHeaderBytes || n > r.remaining())
    throw InputError(fmt::format("{}: header length {} at offset 0 exceeds the {} bytes after it (limit {})", f.what,
                                 n, r.remaining(), kMaxHeaderBytes));
  if (n < 2)
    throw InputError(fmt::format("{}: header length {} at offset 0 is too short for a JSON object", f.what, n));
  const auto hb = r.take(n, "header");
  const std::string_view header(reinterpret_cast<const char*>(hb.data()), hb.size());
  if (json_depth(header, kMaxJsonDepth) > kMaxJsonDepth)
    throw InputError(fmt::format("{}: header JSON is nested deeper than {} levels", f.what, kMaxJsonDepth));

  // Duplicate names: nlohmann keeps the last value, so catch them while parsing.
  std::set<std::string> seen;
  std::string duplicate;
  nlohmann::json j;
  try {
    j = nlohmann::json::parse(header.begin(), header.end(),
                              [&](int depth, nlohmann::json::parse_event_t ev, nlohmann::json& parsed) {
                                if (ev == nlohmann::json::parse_event_t::key && depth == 1 &&
                                    !seen.insert(parsed.get<std::string>()).second && duplicate.empty())
                                  duplicate = parsed.get<std::string>();
                                return true;
                              });
  } catch (const nlohmann::json::exception& e) {
    throw InputError(
        fmt::format("{}: header (bytes 8 to {}) is not valid JSON: {}", f.what, 8 + n, json_error_text(e.what())));
  }
  if (!duplicate.empty()) throw InputError(fmt::format("{}: duplicate tensor '{}' in the header", f.what, duplicate));
  if (!j.is_object()) throw InputError(fmt::format("{}: header is not a JSON object", f.what));

  const uint64_t data_start = 8 + n, data_size = r.size() - data_start;
  for (auto it = j.begin(); it != j.end(); ++it) {
    const std::string& name = it.key();
    const nlohmann::json& v = it.value();
    if (name == "__metadata__") {
      if (!v.is_object()) throw InputError(fmt::format("{}: __metadata__ is not an object", f.what));
      for (auto m = v.begin(); m != v.end(); ++m) {
        if (!m.value().is_string())
          throw InputError(fmt::format("{}: __metadata__ value '{}' is not a string", f.what, m.key()));
        f.metadata[m.key()] = m.value().get<std::string>();
      }
      continue;
    }
    const std::string where = fmt::format("{}: tensor '{}'", f.what, name);
    if (!v.is_object() || !v.contains("dtype") || !v.contains("shape") || !v.contains("data_offsets"))
      throw InputError(where + ": needs dtype, shape and data_offsets");
    SafetensorsTensor t;
    t.name = name;
    if (!v["dtype"].is_string()) throw InputError(where + ": dtype is not a string");
    t.dtype = v["dtype"].get<std::string>();
    const uint64_t esize = safetensors_dtype_size(t.dtype);
    if (esize == 0) throw InputError(fmt::format("{}: unknown dtype '{}'", where, t.dtype));
    const nlohmann::json& shape = v["shape"];
    if (!shape.is_array() || shape.size() > 8) throw InputError(where + ": shape is not an array of up to 8 dims");
    t.elements = 1;
    for (const auto& d : shape) {
      const int64_t dim = json_nonneg_int(d, where + " shape dim");
      t.shape.push_back(dim);
      t.elements = checked_mul(t.elements, uint64_t(dim), where + " element count");
    }
    const nlohmann::json& off = v["data_offsets"];
    if (!off.is_array() || off.size() != 2) throw InputError(where + ": data_offsets is not [begin, end]");
    const auto begin = uint64_t(json_nonneg_int(off[0], where + " begin offset"));
    const auto end = uint64_t(json_nonneg_int(off[1], where + " end offset"));
    if (end < begin || end > data_size)
      throw InputError(fmt::format("{}: data_offsets [{}, {}] (file offsets {} to {}) lie outside the {} data bytes",
                                   where, begin, end, data_start + begin, data_start + end, data_size));
    const uint64_t need = checked_mul(t.elements, esize, where + " byte size");
    if (end - begin != need)
      throw InputError(fmt::format("{}: {} bytes at file offset {}, but {} {} elements need {}", where, end - begin,
                                   data_start + begin, t.elements, t.dtype, need));
    t.file_offset = data_start + begin;
    t.nbytes = need;
    f.tensors.push_back(std::move(t));
  }
  std::sort(f.tensors.begin(), f.tensors.end(),
            [](const SafetensorsTensor& a, const SafetensorsTensor& b) { return a.file_offset < b.file_offset; });
  std::vector<FileExtent> extents;
  extents.reserve(f.tensors.size());
  for (size_t i = 0; i < f.tensors.size(); ++i) {
    f.index_.emplace(f.tensors[i].name, i);
    extents.push_back({f.tensors[i].name, f.tensors[i].file_offset, f.tensors[i].nbytes});
  }
  refuse_overlapping_extents(f.what, std::move(extents));
  return f;
}

SafetensorsFile parse_safetensors(std::span<const uint8_t> bytes, std::string what) {
  SafetensorsFile f;
  try {
    f = parse_safetensors_header(bytes, bytes.size(), what);
  } catch (const std::bad_alloc&) {
    throw InputError(fmt::format("{}: not enough memory for its header", what));
  }
  f.source = ByteSource(bytes);
  return f;
}

SafetensorsFile open_safetensors(const std::string& path) {
  auto file = MappedFile::open(path);
  try {
    // The length, then the header it announces (as much of it as the file
    // and the format's limit allow: the parser reports what does not fit).
    uint64_t n = 0;
    if (file->size() >= 8) file->copy(0, &n, 8);
    const uint64_t prefix = std::min(file->size(), 8 + std::min(n, kMaxHeaderBytes));
    const std::vector<uint8_t> header = file->copy(0, prefix);
    SafetensorsFile f = parse_safetensors_header(header, file->size(), path);
    f.source = ByteSource(file);
    return f;
  } catch (const std::bad_alloc&) {
    throw InputError(fmt::format("{}: not enough memory for its header", path));
  }
}

void SafetensorsWriter::add_metadata(std::string key, std::string value) {
  metadata_[std::move(key)] = std::move(value);
}

void SafetensorsWriter::add_tensor(std::string name, std::string dtype, std::vector<int64_t> shape,
                                   Producer producer) {
  uint64_t n = safetensors_dtype_size(dtype);
  if (n == 0) throw UsageError(fmt::format("safetensors writer: unknown dtype '{}'", dtype));
  for (int64_t d : shape) n *= uint64_t(d);
  for (const Entry& e : entries_)
    if (e.name == name) throw UsageError(fmt::format("safetensors writer: tensor '{}' added twice", name));
  entries_.push_back({std::move(name), std::move(dtype), std::move(shape), n, std::move(producer)});
}

void SafetensorsWriter::write(const std::string& path) const {
  write_file_atomically(path, [this](const ByteSink& out) { write_to(out); });
}

void SafetensorsWriter::write_to(const ByteSink& out) const {
  nlohmann::json header = nlohmann::json::object();
  if (!metadata_.empty()) header["__metadata__"] = metadata_;
  uint64_t offset = 0;
  for (const Entry& e : entries_) {
    header[e.name] = {{"dtype", e.dtype}, {"shape", e.shape}, {"data_offsets", {offset, offset + e.bytes}}};
    offset += e.bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // data starts 8-byte aligned

  const uint64_t len = text.size();
  out(&len, 8);
  out(text.data(), text.size());
  for (const Entry& e : entries_) {
    uint64_t got = 0;
    e.producer([&](const void* p, size_t n) {
      out(p, n);
      got += n;
    });
    if (got != e.bytes)
      throw UsageError(fmt::format("safetensors writer: tensor '{}' produced {} bytes, expected {}", e.name, got,
                                   e.bytes));
  }
}

}  // namespace bitlab

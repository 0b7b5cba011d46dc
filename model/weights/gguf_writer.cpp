#include "model/weights/gguf_writer.h"

#include <algorithm>
#include <cstring>

#include <fmt/format.h>

#include "model/error.h"
#include "model/weights/atomic_write.h"

namespace bitlab {

namespace {

// Appends raw bytes (resize + memcpy: GCC 12 misreads vector::insert of a
// small array at -O3 as an overflow).
void put_bytes(std::vector<uint8_t>& out, const void* p, size_t n) {
  if (n == 0) return;
  const size_t at = out.size();
  out.resize(at + n);
  std::memcpy(out.data() + at, p, n);
}

template <class T>
void put(std::vector<uint8_t>& out, T v) {
  put_bytes(out, &v, sizeof(T));
}

void put_string(std::vector<uint8_t>& out, std::string_view s) {
  put<uint64_t>(out, s.size());
  put_bytes(out, s.data(), s.size());
}

// Serialises a parsed value (its payload, without the type tag).
void put_value(std::vector<uint8_t>& out, const GgufValue& v) {
  switch (v.type) {
    case GgufType::String: put_string(out, v.str); return;
    case GgufType::Array:
      put<uint32_t>(out, uint32_t(v.elem));
      put<uint64_t>(out, v.count);
      if (v.elem == GgufType::String) {
        for (std::string_view s : v.strings) put_string(out, s);
      } else if (v.elem == GgufType::Array) {
        for (const GgufValue& item : v.items) put_value(out, item);
      } else {
        put_bytes(out, v.raw.data(), v.raw.size());
      }
      return;
    case GgufType::F32: put<float>(out, float(v.f)); return;
    case GgufType::F64: put<double>(out, v.f); return;
    default: put_bytes(out, &v.u, size_t(gguf_scalar_size(v.type)));  // little-endian: the low bytes hold the value
  }
}

std::vector<uint8_t> tagged(GgufType t) {
  std::vector<uint8_t> e;
  put<uint32_t>(e, uint32_t(t));
  return e;
}

}  // namespace

void GgufWriter::add_encoded(std::string key, std::vector<uint8_t> encoded) {
  for (const Kv& kv : kvs_)
    if (kv.key == key) throw UsageError(fmt::format("GGUF writer: metadata key '{}' added twice", key));
  if (key == "general.alignment") {
    uint32_t al;
    std::memcpy(&al, encoded.data() + 4, 4);
    alignment_ = al;
  }
  kvs_.push_back({std::move(key), std::move(encoded)});
}

void GgufWriter::add_string(std::string key, const std::string& value) {
  auto e = tagged(GgufType::String);
  put_string(e, value);
  add_encoded(std::move(key), std::move(e));
}
void GgufWriter::add_u32(std::string key, uint32_t value) {
  auto e = tagged(GgufType::U32);
  put(e, value);
  add_encoded(std::move(key), std::move(e));
}
void GgufWriter::add_i32(std::string key, int32_t value) {
  auto e = tagged(GgufType::I32);
  put(e, value);
  add_encoded(std::move(key), std::move(e));
}
void GgufWriter::add_u64(std::string key, uint64_t value) {
  auto e = tagged(GgufType::U64);
  put(e, value);
  add_encoded(std::move(key), std::move(e));
}
void GgufWriter::add_f32(std::string key, float value) {
  auto e = tagged(GgufType::F32);
  put(e, value);
  add_encoded(std::move(key), std::move(e));
}
void GgufWriter::add_bool(std::string key, bool value) {
  auto e = tagged(GgufType::Bool);
  put<uint8_t>(e, value ? 1 : 0);
  add_encoded(std::move(key), std::move(e));
}
void GgufWriter::add_string_array(std::string key, const std::vector<std::string>& values) {
  auto e = tagged(GgufType::Array);
  put<uint32_t>(e, uint32_t(GgufType::String));
  put<uint64_t>(e, values.size());
  for (const auto& s : values) put_string(e, s);
  add_encoded(std::move(key), std::move(e));
}
void GgufWriter::add_i32_array(std::string key, const std::vector<int32_t>& values) {
  auto e = tagged(GgufType::Array);
  put<uint32_t>(e, uint32_t(GgufType::I32));
  put<uint64_t>(e, values.size());
  for (int32_t v : values) put(e, v);
  add_encoded(std::move(key), std::move(e));
}
void GgufWriter::add_f32_array(std::string key, const std::vector<float>& values) {
  auto e = tagged(GgufType::Array);
  put<uint32_t>(e, uint32_t(GgufType::F32));
  put<uint64_t>(e, values.size());
  for (float v : values) put(e, v);
  add_encoded(std::move(key), std::move(e));
}
void GgufWriter::add_value(std::string key, const GgufValue& value) {
  auto e = tagged(value.type);
  put_value(e, value);
  add_encoded(std::move(key), std::move(e));
}

void GgufWriter::add_tensor(std::string name, std::vector<uint64_t> dims, GgmlType type, Producer producer) {
  for (const TensorEntry& t : tensors_)
    if (t.name == name) throw UsageError(fmt::format("GGUF writer: tensor '{}' added twice", name));
  const uint64_t bytes = ggml_tensor_bytes(uint32_t(type), dims, name);
  tensors_.push_back({std::move(name), std::move(dims), type, bytes, std::move(producer)});
}

void GgufWriter::write(const std::string& path) const {
  write_file_atomically(path, [&](const ByteSink& sink) {
    uint64_t written = 0;
    auto out = [&](const void* p, size_t n) {
      sink(p, n);
      written += n;
    };
    auto pad_to = [&](uint64_t al) {
      static const uint8_t zeros[64] = {};
      while (written % al != 0) out(zeros, size_t(std::min<uint64_t>(al - written % al, sizeof zeros)));
    };

    std::vector<uint8_t> head;
    put_bytes(head, "GGUF", 4);
    put<uint32_t>(head, 3);
    put<uint64_t>(head, tensors_.size());
    put<uint64_t>(head, kvs_.size());
    for (const Kv& kv : kvs_) {
      put_string(head, kv.key);
      put_bytes(head, kv.encoded.data(), kv.encoded.size());
    }
    uint64_t offset = 0;
    for (const TensorEntry& t : tensors_) {
      put_string(head, t.name);
      put<uint32_t>(head, uint32_t(t.dims.size()));
      for (uint64_t d : t.dims) put<uint64_t>(head, d);
      put<uint32_t>(head, uint32_t(t.type));
      put<uint64_t>(head, offset);
      offset += (t.bytes + alignment_ - 1) / alignment_ * alignment_;
    }
    out(head.data(), head.size());
    pad_to(alignment_);
    for (const TensorEntry& t : tensors_) {
      const uint64_t start = written;
      t.producer([&](const void* p, size_t n) { out(p, n); });
      if (written - start != t.bytes)
        throw UsageError(fmt::format("GGUF writer: tensor '{}' produced {} bytes, expected {}", t.name,
                                     written - start, t.bytes));
      pad_to(alignment_);
    }
  });
}

}  // namespace bitlab

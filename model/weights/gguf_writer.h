// Writes GGUF v3 files: metadata of any value type, then tensors laid out as
// ggml's reader expects them (each at the next multiple of the alignment, in
// the order of the tensor table, offsets counted from the data section).
//
// Tensor bytes are produced by a callback at write time, so exporting a 1 GB
// model never holds a second copy of it in memory.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "model/weights/atomic_write.h"
#include "model/weights/gguf.h"

namespace bitlab {

class GgufWriter {
 public:
  // Appends bytes of one tensor; called once per tensor while writing.
  using Emit = ByteSink;
  using Producer = std::function<void(const Emit& emit)>;

  void add_string(std::string key, const std::string& value);
  void add_u32(std::string key, uint32_t value);
  void add_i32(std::string key, int32_t value);
  void add_u64(std::string key, uint64_t value);
  void add_f32(std::string key, float value);
  void add_bool(std::string key, bool value);
  void add_string_array(std::string key, const std::vector<std::string>& values);
  void add_i32_array(std::string key, const std::vector<int32_t>& values);
  void add_f32_array(std::string key, const std::vector<float>& values);
  // Copies a value read from another GGUF file (any type, arrays included).
  void add_value(std::string key, const GgufValue& value);

  // dims innermost first (ggml order); `producer` must emit exactly
  // ggml_tensor_bytes(type, dims) bytes.
  void add_tensor(std::string name, std::vector<uint64_t> dims, GgmlType type, Producer producer);

  // Writes the file through write_file_atomically (atomic_write.h): whole or
  // not at all. Throws DeviceError if the disk refuses.
  void write(const std::string& path) const;

 private:
  struct Kv {
    std::string key;
    std::vector<uint8_t> encoded;  // type tag and value, already serialised
  };
  struct TensorEntry {
    std::string name;
    std::vector<uint64_t> dims;
    GgmlType type;
    uint64_t bytes;
    Producer producer;
  };
  void add_encoded(std::string key, std::vector<uint8_t> encoded);
  std::vector<Kv> kvs_;
  std::vector<TensorEntry> tensors_;
  uint64_t alignment_ = 32;
};

}  // namespace bitlab

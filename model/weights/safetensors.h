// safetensors parsing and writing.
//
// Layout: u64 little-endian header length N, N bytes of JSON
// {"__metadata__": {str: str}, "<name>": {"dtype": "BF16", "shape": [..],
// "data_offsets": [begin, end]}, ...}, then the data; offsets count from the
// first byte after the header.
//
// parse_safetensors() checks that N fits the file (and the format's 100 MB
// limit), that the JSON is an object nested no deeper than the format needs,
// that names are unique, every dtype known, every shape's element count free
// of overflow and equal to (end - begin) / dtype size, and every tensor inside
// the data, none overlapping another. Violations are InputErrors naming the
// tensor and offset. A file's header is copied out of its mapping and parsed
// from the copy; tensor data is copied out by SafetensorsFile::read.
#pragma once
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <unordered_map>
#include <vector>

#include "model/weights/atomic_write.h"
#include "model/weights/mapped_file.h"

namespace bitlab {

// Bytes per element of a safetensors dtype ("F32", "BF16", "U8", ...); 0 if unknown.
uint64_t safetensors_dtype_size(const std::string& dtype);

struct SafetensorsTensor {
  std::string name;
  std::string dtype;
  std::vector<int64_t> shape;
  uint64_t elements = 0;
  uint64_t file_offset = 0;  // where the data starts in the file
  uint64_t nbytes = 0;       // exactly elements * dtype size
};

class SafetensorsFile {
 public:
  std::string what;  // file name for messages
  std::map<std::string, std::string> metadata;
  std::vector<SafetensorsTensor> tensors;  // in order of their data offsets
  ByteSource source;                       // where tensor data is read from

  const SafetensorsTensor* tensor(const std::string& name) const;
  // A tensor's bytes, copied out of the file (an InputError naming the file if
  // it shrank since it was opened).
  std::vector<uint8_t> read(const SafetensorsTensor& t) const { return source.copy(t.file_offset, t.nbytes); }

 private:
  friend SafetensorsFile parse_safetensors_header(std::span<const uint8_t>, uint64_t, std::string);
  std::unordered_map<std::string, size_t> index_;
};

// In-memory bytes the caller keeps alive.
SafetensorsFile parse_safetensors(std::span<const uint8_t> bytes, std::string what);
// The header from `prefix`, the first bytes of a file of `file_size` bytes
// (at least the 8-byte length and the JSON it announces, when they fit);
// `source` is left for the caller.
SafetensorsFile parse_safetensors_header(std::span<const uint8_t> prefix, uint64_t file_size, std::string what);
// Maps `path`, copies its header out and parses it; errors name `path`.
SafetensorsFile open_safetensors(const std::string& path);

class SafetensorsWriter {
 public:
  using Emit = ByteSink;
  using Producer = std::function<void(const Emit& emit)>;
  void add_metadata(std::string key, std::string value);
  void add_tensor(std::string name, std::string dtype, std::vector<int64_t> shape, Producer producer);
  // Writes the file through write_file_atomically (atomic_write.h); the
  // header is padded to 8 bytes.
  void write(const std::string& path) const;
  // The file's bytes, in order, for a file written together with others.
  void write_to(const ByteSink& out) const;

 private:
  struct Entry {
    std::string name, dtype;
    std::vector<int64_t> shape;
    uint64_t bytes;
    Producer producer;
  };
  std::map<std::string, std::string> metadata_;
  std::vector<Entry> entries_;
};

}  // namespace bitlab

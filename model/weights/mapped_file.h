// Read-only memory maps of checkpoint files, and a bounds-checked cursor for
// parsing them.
//
// Nothing read from a file is trusted: every length or offset goes through
// ByteReader (which never reads past its span) or through checked_add /
// checked_mul (which refuse to overflow) before it is used to index memory.
#pragma once
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>

namespace bitlab {

class MappedFile {
 public:
  // Maps `path` read-only. A missing or unreadable file is a UsageError (the
  // user named the wrong thing); a file that cannot be mapped is an InputError.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  std::span<const uint8_t> bytes() const { return {data_, size_}; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

// a + b and a * b for sizes read from a file; throws InputError naming `what`
// when the result does not fit in 64 bits.
uint64_t checked_add(uint64_t a, uint64_t b, std::string_view what);
uint64_t checked_mul(uint64_t a, uint64_t b, std::string_view what);

// A cursor over bytes that belong to `what` (a file name, for messages). Every
// read checks the remaining length first and throws InputError with the offset.
class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> data, std::string what) : data_(data), what_(std::move(what)) {}

  uint64_t offset() const { return pos_; }
  uint64_t size() const { return data_.size(); }
  uint64_t remaining() const { return data_.size() - pos_; }
  const std::string& what() const { return what_; }

  // Little-endian scalars (every target bitlab builds for is little-endian).
  template <class T>
  T read(std::string_view field) {
    T v;
    std::memcpy(&v, take(sizeof(T), field).data(), sizeof(T));
    return v;
  }
  std::span<const uint8_t> take(uint64_t n, std::string_view field);
  // A GGUF string: u64 length, then that many bytes (not NUL-terminated).
  std::string_view read_string(std::string_view field);
  void seek(uint64_t offset, std::string_view field);

 private:
  std::span<const uint8_t> data_;
  std::string what_;
  uint64_t pos_ = 0;
};

}  // namespace bitlab

// Read-only memory maps of checkpoint files, and a bounds-checked cursor for
// parsing them.
//
// Nothing read from a file is trusted: every length or offset goes through
// ByteReader (which never reads past its span) or through checked_add /
// checked_mul (which refuse to overflow) before it is used to index memory.
//
// Nor is the file trusted to stay as it was: another process may truncate it
// while it is mapped, and touching a mapped page past the new end raises
// SIGBUS. So mapped bytes are never read in place: MappedFile::copy is the one
// way out of a mapping, it turns such a fault into an InputError naming the
// file, and what the loaders keep is always their own copy.
#pragma once
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace bitlab {

class MappedFile {
 public:
  // Maps `path` read-only. A missing or unreadable file, or one that is not a
  // regular file (a FIFO, a device, a directory: refused without blocking on
  // it), is a UsageError (the user named the wrong thing); a file that cannot
  // be mapped is an InputError.
  static std::shared_ptr<const MappedFile> open(const std::string& path);
  ~MappedFile();
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;

  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Copies bytes [offset, offset + n) of the file, which must lie inside
  // size(), to `dst`. If the file shrank since it was mapped, the fault is
  // caught and an InputError "'<path>' changed while being read" is thrown.
  void copy(uint64_t offset, void* dst, uint64_t n) const;
  std::vector<uint8_t> copy(uint64_t offset, uint64_t n) const;

 private:
  MappedFile() = default;
  const uint8_t* data_ = nullptr;
  size_t size_ = 0;
  std::string path_;
};

// Where a parsed file's tensor data is read from: a mapped file (through its
// guarded copy) or bytes in memory that the caller keeps alive (in-memory
// parsing: tests, fuzzing).
class ByteSource {
 public:
  ByteSource() = default;
  explicit ByteSource(std::shared_ptr<const MappedFile> file) : file_(std::move(file)) {}
  explicit ByteSource(std::span<const uint8_t> memory) : memory_(memory) {}
  uint64_t size() const { return file_ ? file_->size() : memory_.size(); }
  // Bytes [offset, offset + n), which the parser has checked lie in the file.
  void copy(uint64_t offset, void* dst, uint64_t n) const;
  std::vector<uint8_t> copy(uint64_t offset, uint64_t n) const;

 private:
  std::shared_ptr<const MappedFile> file_;
  std::span<const uint8_t> memory_;
};

// The bytes of a file one tensor claims.
struct FileExtent {
  std::string_view name;
  uint64_t offset = 0, bytes = 0;
};
// Two tensors sharing a byte would make writing one change the other: refused
// with an InputError naming `what` and both tensors. Sorts `extents` by offset.
void refuse_overlapping_extents(const std::string& what, std::vector<FileExtent> extents);

// a + b and a * b for sizes read from a file; throws InputError naming `what`
// when the result does not fit in 64 bits.
uint64_t checked_add(uint64_t a, uint64_t b, std::string_view what);
uint64_t checked_mul(uint64_t a, uint64_t b, std::string_view what);

// Thrown by a ByteReader over a prefix of a file when a read needs bytes past
// the prefix (but inside the file): the caller copies more and parses again.
struct NeedMoreBytes {
  uint64_t end;  // offset one past the last byte the read needs
};

// A cursor over bytes that belong to `what` (a file name, for messages). Every
// read checks the remaining length first and throws InputError with the offset.
// `data` may be a prefix of a file of `file_size` bytes: lengths are checked
// against the whole file, and a read past the prefix throws NeedMoreBytes.
class ByteReader {
 public:
  ByteReader(std::span<const uint8_t> data, std::string what) : ByteReader(data, data.size(), std::move(what)) {}
  ByteReader(std::span<const uint8_t> data, uint64_t file_size, std::string what)
      : data_(data), file_size_(file_size < data.size() ? data.size() : file_size), what_(std::move(what)) {}

  uint64_t offset() const { return pos_; }
  uint64_t size() const { return file_size_; }
  uint64_t remaining() const { return file_size_ - pos_; }
  // Bytes left in the prefix held in memory.
  uint64_t available() const { return pos_ < data_.size() ? data_.size() - pos_ : 0; }
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
  uint64_t file_size_;
  std::string what_;
  uint64_t pos_ = 0;
};

}  // namespace bitlab

#include "model/weights/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include <fmt/format.h>

#include "model/error.h"

namespace bitlab {

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) throw UsageError(fmt::format("cannot open '{}': {}", path, std::strerror(errno)));
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    throw UsageError(fmt::format("'{}' is not a regular file", path));
  }
  std::shared_ptr<MappedFile> f(new MappedFile());
  f->path_ = path;
  f->size_ = size_t(st.st_size);
  if (f->size_ > 0) {
    void* p = ::mmap(nullptr, f->size_, PROT_READ, MAP_PRIVATE, fd, 0);
    if (p == MAP_FAILED) {
      const int err = errno;
      ::close(fd);
      throw InputError(fmt::format("cannot map '{}' ({} bytes): {}", path, f->size_, std::strerror(err)));
    }
    f->data_ = static_cast<const uint8_t*>(p);
  }
  ::close(fd);  // the mapping stays valid without the descriptor
  return f;
}

MappedFile::~MappedFile() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

uint64_t checked_add(uint64_t a, uint64_t b, std::string_view what) {
  uint64_t r;
  if (__builtin_add_overflow(a, b, &r)) throw InputError(fmt::format("{}: size overflows 64 bits", what));
  return r;
}

uint64_t checked_mul(uint64_t a, uint64_t b, std::string_view what) {
  uint64_t r;
  if (__builtin_mul_overflow(a, b, &r)) throw InputError(fmt::format("{}: size overflows 64 bits", what));
  return r;
}

std::span<const uint8_t> ByteReader::take(uint64_t n, std::string_view field) {
  if (n > remaining())
    throw InputError(fmt::format("{}: truncated: {} needs {} bytes at offset {}, only {} left", what_, field, n, pos_,
                                 remaining()));
  const auto s = data_.subspan(size_t(pos_), size_t(n));
  pos_ += n;
  return s;
}

std::string_view ByteReader::read_string(std::string_view field) {
  const uint64_t at = pos_;
  const auto n = read<uint64_t>(field);
  if (n > remaining())
    throw InputError(fmt::format("{}: {} at offset {} claims {} bytes, only {} left in the file", what_, field, at, n,
                                 remaining()));
  const auto s = take(n, field);
  return {reinterpret_cast<const char*>(s.data()), s.size()};
}

void ByteReader::seek(uint64_t offset, std::string_view field) {
  if (offset > data_.size())
    throw InputError(fmt::format("{}: {} offset {} is past the end ({} bytes)", what_, field, offset, data_.size()));
  pos_ = offset;
}

}  // namespace bitlab

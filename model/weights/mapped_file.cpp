#include "model/weights/mapped_file.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <csetjmp>
#include <csignal>
#include <cerrno>
#include <mutex>

#include <fmt/format.h>

#include "model/error.h"

namespace bitlab {

namespace {

// The guarded copy: a SIGBUS handler, installed once for the process, jumps
// back into guarded_copy when the faulting thread is inside one and the fault
// lies in the mapping it copies from; any other SIGBUS gets the action that
// was there before (the default: the process dies as it would have).
struct CopyGuard {
  sigjmp_buf env;
  const uint8_t* lo = nullptr;
  const uint8_t* hi = nullptr;
  volatile sig_atomic_t active = 0;
};
thread_local CopyGuard t_guard;
struct sigaction g_previous_sigbus;

void on_sigbus(int sig, siginfo_t* info, void* context) {
  CopyGuard& g = t_guard;
  const auto* addr = static_cast<const uint8_t*>(info->si_addr);
  if (g.active && addr >= g.lo && addr < g.hi) {
    g.active = 0;
    siglongjmp(g.env, 1);
  }
  if (g_previous_sigbus.sa_flags & SA_SIGINFO) {
    g_previous_sigbus.sa_sigaction(sig, info, context);
    return;
  }
  // Not ours: put the previous action back and raise again; the signal is
  // blocked while this handler runs, so it arrives as soon as it returns.
  sigaction(SIGBUS, &g_previous_sigbus, nullptr);
  raise(SIGBUS);
}

void install_sigbus_handler() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, &g_previous_sigbus);
  });
}

// memcpy from [src, src + n) inside the mapping [base, base + size); false if
// a page of it faulted. Nothing between sigsetjmp and the copy owns a
// destructor, so jumping back skips no cleanup; the caller throws.
[[gnu::noinline]] bool guarded_copy(void* dst, const uint8_t* src, size_t n, const uint8_t* base, size_t size) {
  install_sigbus_handler();
  CopyGuard& g = t_guard;
  g.lo = base;
  g.hi = base + size;
  if (sigsetjmp(g.env, 1) != 0) return false;  // 1: restore the signal mask the handler ran with
  g.active = 1;
  std::memcpy(dst, src, n);
  g.active = 0;
  return true;
}

}  // namespace

std::shared_ptr<const MappedFile> MappedFile::open(const std::string& path) {
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer;
  // with it the open returns at once and fstat refuses what is not a file.
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
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

void MappedFile::copy(uint64_t offset, void* dst, uint64_t n) const {
  if (offset > size_ || n > size_ - offset)
    throw InputError(fmt::format("'{}': bytes {} to {} are past the end of the file ({} bytes)", path_, offset,
                                 offset + n, size_));
  if (n == 0) return;
  if (!guarded_copy(dst, data_ + offset, size_t(n), data_, size_))
    throw InputError(fmt::format("'{}' changed while being read (truncated?): the bytes at offset {} to {} are gone",
                                 path_, offset, offset + n));
}

std::vector<uint8_t> MappedFile::copy(uint64_t offset, uint64_t n) const {
  if (offset > size_ || n > size_ - offset)
    throw InputError(fmt::format("'{}': bytes {} to {} are past the end of the file ({} bytes)", path_, offset,
                                 offset + n, size_));
  std::vector<uint8_t> v(static_cast<size_t>(n));
  copy(offset, v.data(), n);
  return v;
}

void ByteSource::copy(uint64_t offset, void* dst, uint64_t n) const {
  if (file_) return file_->copy(offset, dst, n);
  if (offset > memory_.size() || n > memory_.size() - offset)
    throw InputError(fmt::format("bytes {} to {} are past the end of the data ({} bytes)", offset, offset + n,
                                 memory_.size()));
  if (n > 0) std::memcpy(dst, memory_.data() + offset, size_t(n));
}

std::vector<uint8_t> ByteSource::copy(uint64_t offset, uint64_t n) const {
  if (offset > size() || n > size() - offset)
    throw InputError(fmt::format("bytes {} to {} are past the end of the data ({} bytes)", offset, offset + n,
                                 size()));
  std::vector<uint8_t> v(static_cast<size_t>(n));
  copy(offset, v.data(), n);
  return v;
}

void refuse_overlapping_extents(const std::string& what, std::vector<FileExtent> extents) {
  std::sort(extents.begin(), extents.end(), [](const FileExtent& a, const FileExtent& b) { return a.offset < b.offset; });
  for (size_t i = 1; i < extents.size(); ++i)
    if (extents[i - 1].offset + extents[i - 1].bytes > extents[i].offset)
      throw InputError(fmt::format("{}: tensors '{}' and '{}' overlap at file offset {}", what, extents[i - 1].name,
                                   extents[i].name, extents[i].offset));
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
  if (pos_ + n > data_.size()) throw NeedMoreBytes{pos_ + n};
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
  if (offset > file_size_)
    throw InputError(fmt::format("{}: {} offset {} is past the end ({} bytes)", what_, field, offset, file_size_));
  pos_ = offset;
}

}  // namespace bitlab

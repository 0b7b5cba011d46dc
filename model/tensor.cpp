#include "model/tensor.h"

#include <sys/mman.h>

#include <cstdlib>
#include <new>
#include <string_view>

#include <fmt/format.h>

#include "model/error.h"

namespace bitlab {

const char* dtype_name(DType t) {
  switch (t) {
    case DType::F32: return "f32";
    case DType::BF16: return "bf16";
    case DType::I8: return "i8";
    case DType::I32: return "i32";
    case DType::T2: return "t2";
  }
  return "?";
}

size_t dtype_bytes(DType t, int64_t n) {
  const auto un = size_t(n);
  switch (t) {
    case DType::F32: case DType::I32: return 4 * un;
    case DType::BF16: return 2 * un;
    case DType::I8: return un;
    case DType::T2: return (un + 3) / 4;
  }
  return 0;
}

std::string to_string(Shape s) { return fmt::format("[{}, {}]", s.rows, s.cols); }

namespace {
constexpr size_t kHugePage = size_t(2) << 20;

// A 2 MiB-aligned anonymous mapping of `bytes` (rounded up to 2 MiB) with
// transparent huge pages requested, or nullptr. Why: weights are streamed at
// DRAM bandwidth, and with 4 KiB pages the hardware prefetchers stop at every
// page boundary and each page costs a TLB walk; with 2 MiB pages a GEMV's
// stream stays sequential. Kernels (madvise mode, the usual default) give huge
// pages only to mappings that ask.
uint8_t* map_huge(size_t bytes, size_t& mapped) {
  const size_t len = (bytes + kHugePage - 1) / kHugePage * kHugePage;
  void* p = mmap(nullptr, len + kHugePage, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) return nullptr;
  auto* base = static_cast<uint8_t*>(p);
  const auto addr = reinterpret_cast<uintptr_t>(base);
  uint8_t* aligned = base + ((kHugePage - addr % kHugePage) % kHugePage);
  // Give back the unaligned head and the tail past len.
  if (aligned > base) munmap(base, size_t(aligned - base));
  const size_t tail = size_t(base + len + kHugePage - (aligned + len));
  if (tail) munmap(aligned + len, tail);
#ifdef MADV_HUGEPAGE
  madvise(aligned, len, MADV_HUGEPAGE);  // advice only: without THP the mapping still works
#endif
  mapped = len;
  return aligned;
}

// BITLAB_HUGE_PAGES=0 turns the huge-page mappings off (to measure what they bring).
bool huge_pages_wanted() {
  static const bool wanted = [] {
    const char* v = std::getenv("BITLAB_HUGE_PAGES");
    return !(v && std::string_view(v) == "0");
  }();
  return wanted;
}
}  // namespace

HostBuffer::HostBuffer(size_t bytes) : bytes_(bytes) {
  if (bytes >= kHugePage && huge_pages_wanted()) data_ = map_huge(bytes, mapped_);
  if (!data_) {
    const size_t rounded = (bytes + 63) / 64 * 64;
    data_ = static_cast<uint8_t*>(std::aligned_alloc(64, rounded ? rounded : 64));
  }
  if (!data_) throw DeviceError(fmt::format("host allocation of {} bytes failed", bytes));
}

HostBuffer::~HostBuffer() {
  if (mapped_)
    munmap(data_, mapped_);
  else
    std::free(data_);
}

void HostBuffer::write(const void* src, size_t offset, size_t n) {
  if (offset > bytes_ || n > bytes_ - offset)
    throw UsageError(fmt::format("buffer write of {} bytes at {} exceeds its {} bytes", n, offset, bytes_));
  if (n) std::memcpy(data_ + offset, src, n);
}

void HostBuffer::read(void* dst, size_t offset, size_t n) const {
  if (offset > bytes_ || n > bytes_ - offset)
    throw UsageError(fmt::format("buffer read of {} bytes at {} exceeds its {} bytes", n, offset, bytes_));
  if (n) std::memcpy(dst, data_ + offset, n);
}

Tensor Tensor::rows(int64_t r0, int64_t n) const {
  if (r0 < 0 || n < 0 || r0 + n > shape.rows)
    throw UsageError(fmt::format("row view [{}, {}) outside tensor of shape {}", r0, r0 + n, to_string(shape)));
  Tensor v = *this;
  v.offset += dtype_bytes(dtype, r0 * shape.cols);
  v.shape.rows = n;
  return v;
}

}  // namespace bitlab

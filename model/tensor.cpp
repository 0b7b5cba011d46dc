#include "model/tensor.h"

#include <cstdlib>
#include <new>

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

HostBuffer::HostBuffer(size_t bytes) : bytes_(bytes) {
  const size_t rounded = (bytes + 63) / 64 * 64;
  data_ = static_cast<uint8_t*>(std::aligned_alloc(64, rounded ? rounded : 64));
  if (!data_) throw DeviceError(fmt::format("host allocation of {} bytes failed", bytes));
}

HostBuffer::~HostBuffer() { std::free(data_); }

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

// Element types, shapes, device buffers and tensor views.
//
// A Buffer is memory owned by one backend (host RAM, CUDA, Vulkan); the model
// layer only ever moves bytes in and out through write()/read(). A Tensor is a
// view: a buffer, a byte offset, an element type and a 2-D shape
// [rows = tokens or out-features, cols = features], rows contiguous.
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>

namespace bitlab {

enum class DType : uint8_t { F32, BF16, I8, I32, T2 /* packed ternary codes, 4 per byte */ };

const char* dtype_name(DType t);
// Bytes for `n` elements of `t` (T2 rounds up to whole bytes).
size_t dtype_bytes(DType t, int64_t n);

struct Shape {
  int64_t rows = 1, cols = 1;
  int64_t numel() const { return rows * cols; }
  bool operator==(const Shape&) const = default;
};
std::string to_string(Shape s);

class Buffer {
 public:
  virtual ~Buffer() = default;
  virtual size_t bytes() const = 0;
  virtual void write(const void* src, size_t offset, size_t n) = 0;
  virtual void read(void* dst, size_t offset, size_t n) const = 0;
};

// Host memory, 64-byte aligned so SIMD kernels can use aligned loads on row
// starts; used by the CPU backends and the reference.
class HostBuffer final : public Buffer {
 public:
  explicit HostBuffer(size_t bytes);
  ~HostBuffer() override;
  HostBuffer(const HostBuffer&) = delete;
  HostBuffer& operator=(const HostBuffer&) = delete;
  size_t bytes() const override { return bytes_; }
  void write(const void* src, size_t offset, size_t n) override;
  void read(void* dst, size_t offset, size_t n) const override;
  uint8_t* data() { return data_; }
  const uint8_t* data() const { return data_; }
  // Whether the buffer was mapped with transparent huge pages requested.
  bool huge_pages() const { return mapped_ != 0; }

 private:
  uint8_t* data_ = nullptr;
  size_t bytes_ = 0;
  size_t mapped_ = 0;  // length of the mmap behind data_, 0 if from aligned_alloc
};

struct Tensor {
  std::shared_ptr<Buffer> buf;
  size_t offset = 0;
  DType dtype = DType::F32;
  Shape shape;

  size_t bytes() const { return dtype_bytes(dtype, shape.numel()); }
  // A view of rows [r0, r0 + n) of this tensor.
  Tensor rows(int64_t r0, int64_t n) const;
};

// bf16 is the top half of an fp32; conversion to bf16 rounds to nearest even.
inline float bf16_to_f32(uint16_t b) {
  uint32_t u = uint32_t(b) << 16;
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}
inline uint16_t f32_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return uint16_t((u >> 16) | 0x40);  // keep NaN a NaN
  u += 0x7fffu + ((u >> 16) & 1u);
  return uint16_t(u >> 16);
}

}  // namespace bitlab

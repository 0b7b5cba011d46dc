// Helpers shared by the tests: seeded random inputs, NMSE, host<->backend copies.
#pragma once
#include <cmath>
#include <cstdint>
#include <span>
#include <vector>

#include "model/backend.h"
#include "model/weights/synthetic.h"

namespace bitlab::test {

// Normalised mean squared error Σ(a−b)² / Σb² (DESIGN §5); 0 when both are zero.
inline double nmse(std::span<const float> a, std::span<const float> ref) {
  double num = 0, den = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    const double d = double(a[i]) - double(ref[i]);
    num += d * d;
    den += double(ref[i]) * double(ref[i]);
  }
  return den == 0 ? num : num / den;
}

inline std::vector<float> random_floats(size_t n, uint64_t seed, float scale = 1.0f) {
  SplitMix64 g(seed);
  std::vector<float> v(n);
  for (float& x : v) x = scale * g.normal();
  return v;
}

inline std::vector<int8_t> random_ternary(size_t n, uint64_t seed) {
  SplitMix64 g(seed);
  std::vector<int8_t> v(n);
  for (int8_t& x : v) x = int8_t(int(g.next() % 3) - 1);
  return v;
}

inline CanonicalTernary random_matrix(const char* name, int64_t n, int64_t k, uint64_t seed, float scale) {
  return pack_ternary(name, n, k, random_ternary(size_t(n * k), seed), scale);
}

template <class T>
std::vector<T> download(const Backend& be, const Tensor& t) {
  std::vector<T> v(t.bytes() / sizeof(T));
  be.download(t, v.data());
  return v;
}

template <class T>
Tensor upload(Backend& be, const std::vector<T>& v, DType dtype, Shape shape) {
  return be.upload_tensor(v.data(), dtype, shape);
}

}  // namespace bitlab::test

namespace bitlab::test {
// Fills bf16 values ≈ N(0, 1) from a seed.
inline void fill_bf16(std::vector<uint16_t>& v, uint64_t seed) {
  SplitMix64 g(seed);
  for (uint16_t& x : v) x = f32_to_bf16(g.normal());
}
}  // namespace bitlab::test

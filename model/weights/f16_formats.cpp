#include "model/weights/f16_formats.h"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "model/error.h"
#include "model/weights/half.h"

namespace bitlab {

uint16_t f32_to_f16(float f) {
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = uint16_t((x >> 16) & 0x8000u);
  const uint32_t abs = x & 0x7fffffffu;
  if (abs > 0x7f800000u) return uint16_t(sign | 0x7e00u | ((abs >> 13) & 0x3ffu));  // NaN, kept quiet
  if (abs >= 0x477ff000u) return uint16_t(sign | 0x7c00u);  // rounds past 65504: infinity
  if (abs < 0x38800000u) {
    // Below fp16's smallest normal (2^-14): a multiple of 2^-24, rounded to even.
    // Adding 0.5f makes the FPU do that rounding in the low mantissa bits.
    float a;
    std::memcpy(&a, &abs, 4);
    const float r = a + 0.5f;
    uint32_t bits;
    std::memcpy(&bits, &r, 4);
    return uint16_t(sign | (bits - 0x3f000000u));
  }
  // Normal: rebias the exponent (127 -> 15) and round the 13 dropped bits to even.
  const uint32_t odd = (abs >> 13) & 1u;
  const uint32_t rounded = abs + 0xfffu + odd - (uint32_t(127 - 15) << 23);
  return uint16_t(sign | (rounded >> 13));
}

bool exact_in_f16(float f) {
  const float back = f16_to_f32(f32_to_f16(f));
  return std::memcmp(&back, &f, 4) == 0;
}

uint64_t f16_ternary_bytes(int64_t n, int64_t k) { return uint64_t(n) * uint64_t(k) * 2; }

void encode_f16_ternary(const CanonicalTernary& w, float value_scale, std::span<uint8_t> out) {
  if (out.size() != f16_ternary_bytes(w.n, w.k))
    throw UsageError(fmt::format("encode_f16_ternary '{}': {} bytes for shape [{}, {}]", w.name, out.size(), w.n, w.k));
  const uint16_t plus = f32_to_f16(value_scale), minus = uint16_t(plus ^ 0x8000u);
  const uint16_t by_code[3] = {minus, 0, plus};
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < w.n; ++r)
    for (int64_t i = 0; i < w.k; ++i) {
      const uint16_t v = by_code[w.at(r, i) + 1];
      std::memcpy(out.data() + 2 * (uint64_t(r) * uint64_t(w.k) + uint64_t(i)), &v, 2);
    }
}

CanonicalTernary decode_f16_ternary(std::string name, int64_t n, int64_t k, std::span<const uint8_t> bytes) {
  if (bytes.size() != f16_ternary_bytes(n, k))
    throw InputError(fmt::format("tensor '{}': {} F16 bytes for shape [{}, {}]", name, bytes.size(), n, k));
  const uint64_t count = uint64_t(n) * uint64_t(k);
  uint16_t magnitude = 0;
  for (uint64_t e = 0; e < count && magnitude == 0; ++e) {
    uint16_t v;
    std::memcpy(&v, bytes.data() + 2 * e, 2);
    magnitude = uint16_t(v & 0x7fffu);
  }
  CanonicalTernary w = zero_ternary(std::move(name), n, k, magnitude == 0 ? 1.0f : f16_to_f32(magnitude));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < k; ++i) {
      const uint64_t e = uint64_t(r) * uint64_t(k) + uint64_t(i);
      uint16_t v;
      std::memcpy(&v, bytes.data() + 2 * e, 2);
      if ((v & 0x7fffu) == 0) continue;
      if ((v & 0x7fffu) != magnitude)
        throw InputError(fmt::format("tensor '{}': element {} is {}, not 0 or +-{} like the rest", w.name, e,
                                     f16_to_f32(v), w.scale));
      set_code(w.packed.data() + r * w.row_bytes(), i, (v & 0x8000u) ? 0u : 2u);
    }
  return w;
}

}  // namespace bitlab

// IEEE half (fp16) to fp32, for F16 tensors in checkpoints. Exact: every fp16
// value, subnormals included, is representable in fp32.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>

namespace bitlab {

inline float f16_to_f32(uint16_t h) {
  const uint32_t sign = uint32_t(h >> 15) << 31;
  const uint32_t exp = (h >> 10) & 0x1f, man = h & 0x3ff;
  uint32_t u;
  if (exp == 0x1f) {
    u = sign | 0x7f800000u | (man << 13);  // inf / NaN
  } else if (exp != 0) {
    u = sign | ((exp + 112) << 23) | (man << 13);  // rebias 15 -> 127
  } else {
    const float f = std::ldexp(float(man), -24);  // zero or subnormal: man * 2^-24
    std::memcpy(&u, &f, 4);
    u |= sign;
  }
  float f;
  std::memcpy(&f, &u, 4);
  return f;
}

}  // namespace bitlab

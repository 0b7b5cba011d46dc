// The activation scale of one row from the bit pattern of its max |x_i|, with
// the non-finite rule of model/reference.h, for the SIMD variants that take
// the absmax as an unsigned max of |x| bit patterns (every NaN sorts above
// +Inf there, so the pattern alone says which case the row is in).
//
// `static` on purpose: each ISA's file compiles its own copy with its own
// flags, so no weak symbol built for one ISA can stand in for another's.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>

namespace bitlab::cpu {

inline constexpr uint32_t kInfBits = 0x7f800000u;

// A row holding NaN or ±Inf gets its rule scale (the quiet NaN, or +0) in *s
// and all-zero codes, and false comes back; a finite row gets true and its
// scale 127 / max(absmax, 1e-5) in *scale, to quantise with.
static inline bool finite_row_scale(uint32_t absmax_bits, int64_t k, int8_t* q, float* s, float* scale) {
  if (absmax_bits >= kInfBits) {
    const uint32_t rule = absmax_bits > kInfBits ? 0x7fc00000u : 0u;
    std::memcpy(s, &rule, sizeof rule);
    std::memset(q, 0, size_t(k));
    return false;
  }
  float absmax;
  std::memcpy(&absmax, &absmax_bits, sizeof absmax);
  *scale = 127.0f / std::max(absmax, 1e-5f);
  return true;
}

}  // namespace bitlab::cpu

// Per-token absmax int8 quantisation, NEON variant (f32_i8_quantize__neon).
//
// Variants: one, any k (scalar tail); tuned for k = 2560 and 6912. Bit-exact
// with ref::quantize_act: the absmax is an integer max of the |x| bit patterns
// (neon_ops.h), which propagates a NaN as the reference does; s = 127.0f /
// max(absmax, 1e-5f) in scalar fp32; per element one fp32 product x * s (FMUL,
// no fusion), rounded half-to-even by FCVTNS, then narrowed with signed
// saturation (SQXTN twice), which is the clamp to [-128, 127]. A row holding a
// NaN or ±Inf takes the non-finite rule of model/reference.h (s = NaN or +0,
// all codes 0) before any product is formed.
#include <arm_neon.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/cpu/neon/neon_kernels.h"
#include "kernels/cpu/neon/neon_ops.h"
#include "kernels/cpu/quantize_rule.h"

namespace bitlab::cpu::neon {
namespace {

void quantize_with(const float* x, int64_t k, float scale, int8_t* q) {
  const float32x4_t s = vdupq_n_f32(scale);
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    const int32x4_t r0 = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + i), s));
    const int32x4_t r1 = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + i + 4), s));
    const int32x4_t r2 = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + i + 8), s));
    const int32x4_t r3 = vcvtnq_s32_f32(vmulq_f32(vld1q_f32(x + i + 12), s));
    const int16x8_t h0 = vqmovn_high_s32(vqmovn_s32(r0), r1);
    const int16x8_t h1 = vqmovn_high_s32(vqmovn_s32(r2), r3);
    vst1q_s8(q + i, vqmovn_high_s16(vqmovn_s16(h0), h1));
  }
  for (; i < k; ++i) q[i] = int8_t(std::clamp(std::nearbyint(x[i] * scale), -128.0f, 127.0f));
}

}  // namespace

uint32_t absmax_bits(const float* x, int64_t k) {
  const uint32x4_t abs_mask = vdupq_n_u32(0x7fffffffu);
  uint32x4_t m0 = vdupq_n_u32(0), m1 = m0, m2 = m0, m3 = m0;
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    m0 = vmaxq_u32(m0, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(x + i)), abs_mask));
    m1 = vmaxq_u32(m1, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(x + i + 4)), abs_mask));
    m2 = vmaxq_u32(m2, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(x + i + 8)), abs_mask));
    m3 = vmaxq_u32(m3, vandq_u32(vreinterpretq_u32_f32(vld1q_f32(x + i + 12)), abs_mask));
  }
  uint32_t m = vmaxvq_u32(vmaxq_u32(vmaxq_u32(m0, m1), vmaxq_u32(m2, m3)));
  for (; i < k; ++i) {
    uint32_t bits;
    std::memcpy(&bits, x + i, sizeof bits);
    m = std::max(m, bits & 0x7fffffffu);
  }
  return m;
}

void quantize_with_absmax(const float* x, int64_t k, uint32_t absmax_bits, int8_t* q, float* s) {
  float scale;
  if (!finite_row_scale(absmax_bits, k, q, s, &scale)) return;
  quantize_with(x, k, scale, q);
  *s = scale;
}

void quantize_row(const float* x, int64_t k, int8_t* q, float* s) {
  quantize_with_absmax(x, k, absmax_bits(x, k), q, s);
}

}  // namespace bitlab::cpu::neon

// Per-token absmax int8 quantisation, NEON variant (f32_i8_quantize__neon).
//
// Variants: one, any k (scalar tail); tuned for k = 2560 and 6912. Bit-exact
// with ref::quantize_act: the absmax uses FMAXNM, which like std::max(absmax,
// |x|) ignores a NaN; s = 127.0f / max(absmax, 1e-5f) in scalar fp32; per
// element one fp32 product x * s (FMUL, no fusion), rounded half-to-even by
// FCVTNS, then narrowed with signed saturation (SQXTN twice), which is the
// clamp to [-128, 127].
#include <arm_neon.h>

#include <algorithm>
#include <cmath>

#include "kernels/cpu/neon/neon_kernels.h"
#include "kernels/cpu/neon/neon_ops.h"

namespace bitlab::cpu::neon {

float absmax(const float* x, int64_t k) {
  float32x4_t m0 = vdupq_n_f32(0.0f), m1 = m0, m2 = m0, m3 = m0;
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) {
    m0 = vmaxnmq_f32(m0, vabsq_f32(vld1q_f32(x + i)));
    m1 = vmaxnmq_f32(m1, vabsq_f32(vld1q_f32(x + i + 4)));
    m2 = vmaxnmq_f32(m2, vabsq_f32(vld1q_f32(x + i + 8)));
    m3 = vmaxnmq_f32(m3, vabsq_f32(vld1q_f32(x + i + 12)));
  }
  float m = vmaxnmvq_f32(vmaxnmq_f32(vmaxnmq_f32(m0, m1), vmaxnmq_f32(m2, m3)));
  for (; i < k; ++i) m = std::max(m, std::fabs(x[i]));
  return m;
}

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

void quantize_row(const float* x, int64_t k, int8_t* q, float* s) {
  const float scale = 127.0f / std::max(absmax(x, k), 1e-5f);
  quantize_with(x, k, scale, q);
  *s = scale;
}

}  // namespace bitlab::cpu::neon

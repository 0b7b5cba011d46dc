// Elementwise ops and the embedding lookup, NEON variant (f32_relu2_mul__neon,
// f32_add__neon, bf16_f32_embed__neon).
//
// Variants: one each, any n (scalar tail); memory-bound, sized by the FFN
// (6912) and hidden (2560) widths. relu2_mul computes max(g, 0)^2 * u in fp32
// with the scalar variant's operation order (two FMULs, no fusion), so it gives
// the scalar variant's bits; add is exact; bf16 widens to fp32 exactly by a
// shift of 16 (USHLL).
#include <arm_neon.h>

#include <algorithm>

#include "kernels/cpu/neon/neon_kernels.h"
#include "model/tensor.h"

namespace bitlab::cpu::neon {

void relu2_mul(const float* g, const float* u, int64_t n, float* y) {
  const float32x4_t zero = vdupq_n_f32(0.0f);
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    const float32x4_t r0 = vmaxq_f32(vld1q_f32(g + i), zero), r1 = vmaxq_f32(vld1q_f32(g + i + 4), zero);
    vst1q_f32(y + i, vmulq_f32(vmulq_f32(r0, r0), vld1q_f32(u + i)));
    vst1q_f32(y + i + 4, vmulq_f32(vmulq_f32(r1, r1), vld1q_f32(u + i + 4)));
  }
  for (; i < n; ++i) {
    const float r = std::max(g[i], 0.0f);
    y[i] = r * r * u[i];
  }
}

void add(const float* a, const float* b, int64_t n, float* y) {
  int64_t i = 0;
  for (; i + 8 <= n; i += 8) {
    vst1q_f32(y + i, vaddq_f32(vld1q_f32(a + i), vld1q_f32(b + i)));
    vst1q_f32(y + i + 4, vaddq_f32(vld1q_f32(a + i + 4), vld1q_f32(b + i + 4)));
  }
  for (; i < n; ++i) y[i] = a[i] + b[i];
}

void embed_row(const uint16_t* table_row, int64_t d, float* out) {
  int64_t i = 0;
  for (; i + 8 <= d; i += 8) {
    const uint16x8_t v = vld1q_u16(table_row + i);
    vst1q_f32(out + i, vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(v), 16)));
    vst1q_f32(out + i + 4, vreinterpretq_f32_u32(vshll_high_n_u16(v, 16)));
  }
  for (; i < d; ++i) out[i] = bf16_to_f32(table_row[i]);
}

}  // namespace bitlab::cpu::neon

// Tied LM head (bf16 embedding table), NEON variant (bf16_f32_lm_head__neon).
//
// Variants: one, any d (scalar tail); tuned for the 2B4T head (vocab 128256 x
// d 2560 bf16 = 657 MB, read once per decode step, so it must stream at memory
// bandwidth). bf16 widens to fp32 exactly by a shift of 16 (USHLL/USHLL2), so
// 16 weights cost two loads, four shifts and four FMLAs into four independent
// accumulators. Rows are read front to back, one sequential stream per thread;
// for t > 1 tokens the row (5 KB) stays in L1 while every token passes over it.
// fp32 accumulation agrees with the double reference to ~1e-7 relative.
#include <arm_neon.h>

#include "kernels/cpu/neon/neon_kernels.h"
#include "model/tensor.h"

namespace bitlab::cpu::neon {
namespace {

float row_dot(const uint16_t* row, const float* x, int64_t d) {
  float32x4_t a0 = vdupq_n_f32(0.0f), a1 = a0, a2 = a0, a3 = a0;
  int64_t i = 0;
  for (; i + 16 <= d; i += 16) {
    const uint16x8_t v0 = vld1q_u16(row + i), v1 = vld1q_u16(row + i + 8);
    a0 = vfmaq_f32(a0, vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(v0), 16)), vld1q_f32(x + i));
    a1 = vfmaq_f32(a1, vreinterpretq_f32_u32(vshll_high_n_u16(v0, 16)), vld1q_f32(x + i + 4));
    a2 = vfmaq_f32(a2, vreinterpretq_f32_u32(vshll_n_u16(vget_low_u16(v1), 16)), vld1q_f32(x + i + 8));
    a3 = vfmaq_f32(a3, vreinterpretq_f32_u32(vshll_high_n_u16(v1, 16)), vld1q_f32(x + i + 12));
  }
  float dot = vaddvq_f32(vaddq_f32(vaddq_f32(a0, a1), vaddq_f32(a2, a3)));
  for (; i < d; ++i) dot += x[i] * bf16_to_f32(row[i]);
  return dot;
}

}  // namespace

void lm_head(const float* x, int64_t t, int64_t d, const uint16_t* table, int64_t v0, int64_t v1, float* logits,
             int64_t ld_logits) {
  for (int64_t v = v0; v < v1; ++v)
    for (int64_t tok = 0; tok < t; ++tok) logits[tok * ld_logits + v] = row_dot(table + v * d, x + tok * d, d);
}

}  // namespace bitlab::cpu::neon

// Elementwise ops and the embedding lookup, AVX-512 variant
// (f32_relu2_mul__avx512, f32_add__avx512, bf16_f32_embed__avx512).
//
// Variants: one each, any n (masked tail); these are memory-bound and sized by
// the FFN (6912) and hidden (2560) widths. relu2_mul computes max(g,0)^2 * u
// in fp32 as the scalar variant does; add is exact.
#include "kernels/cpu/avx512/avx512_kernels.h"
#include "kernels/cpu/avx512/simd.h"

namespace bitlab::cpu::avx512 {

void relu2_mul(const float* g, const float* u, int64_t n, float* y) {
  const __m512 zero = _mm512_setzero_ps();
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail16(n - i);
    // max(0, g) in this order: vmaxps returns its second operand when either is
    // NaN, so a NaN gate stays NaN, as std::max(g, 0.0f) keeps it in the reference.
    const __m512 r = _mm512_max_ps(zero, _mm512_maskz_loadu_ps(m, g + i));
    _mm512_mask_storeu_ps(y + i, m, _mm512_mul_ps(_mm512_mul_ps(r, r), _mm512_maskz_loadu_ps(m, u + i)));
  }
}

void add(const float* a, const float* b, int64_t n, float* y) {
  for (int64_t i = 0; i < n; i += 16) {
    const __mmask16 m = tail16(n - i);
    _mm512_mask_storeu_ps(y + i, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i)));
  }
}

void embed_row(const uint16_t* table_row, int64_t d, float* out) {
  for (int64_t i = 0; i < d; i += 16) {
    const __mmask16 m = tail16(d - i);
    const __m512i w = _mm512_cvtepu16_epi32(_mm256_maskz_loadu_epi16(m, table_row + i));
    _mm512_mask_storeu_ps(out + i, m, _mm512_castsi512_ps(_mm512_slli_epi32(w, 16)));
  }
}

}  // namespace bitlab::cpu::avx512

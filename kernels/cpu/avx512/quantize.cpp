// Per-token absmax int8 quantisation and RMSNorm fused with it, AVX-512
// variant (f32_i8_quantize__avx512, f32_i8_rmsnorm_quant__avx512).
//
// Variants: one each, any k (masked tail); tuned for k = 2560 and 6912.
// Bit-exact with ref::quantize_act: s = 127.0f / max(absmax, 1e-5f) in scalar
// fp32, then per element one fp32 product x * s, clamped to [-128, 127] and
// rounded half-to-even by an explicit-rounding conversion (clamping first is
// the same as rounding first for every value in range), then narrowed.
// Non-finite rows follow the rule in model/reference.h (s = NaN for a NaN,
// +0 for ±Inf, all codes 0). vmaxps drops a NaN in one operand or the other,
// so the absmax is taken as an unsigned integer max of the |x| bit patterns:
// for non-negative floats that order is the numeric one, and every NaN sorts
// above +Inf, so the NaN propagates exactly.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "kernels/cpu/avx512/avx512_kernels.h"
#include "kernels/cpu/avx512/simd.h"
#include "kernels/cpu/quantize_rule.h"

namespace bitlab::cpu::avx512 {
namespace {

// Bit pattern of max |x_i|: above kInfBits when some x_i is NaN.
uint32_t absmax_bits(const float* x, int64_t k) {
  const __m512i abs_mask = _mm512_set1_epi32(0x7fffffff);
  __m512i m0 = _mm512_setzero_si512(), m1 = _mm512_setzero_si512();
  int64_t i = 0;
  for (; i + 32 <= k; i += 32) {
    m0 = _mm512_max_epu32(_mm512_and_si512(_mm512_loadu_si512(x + i), abs_mask), m0);
    m1 = _mm512_max_epu32(_mm512_and_si512(_mm512_loadu_si512(x + i + 16), abs_mask), m1);
  }
  for (; i < k; i += 16)
    m0 = _mm512_max_epu32(_mm512_and_si512(_mm512_maskz_loadu_epi32(tail16(k - i), x + i), abs_mask), m0);
  return _mm512_reduce_max_epu32(_mm512_max_epu32(m0, m1));
}

void quantize_with(const float* x, int64_t k, float scale, int8_t* q) {
  const __m512 s = _mm512_set1_ps(scale), lo = _mm512_set1_ps(-128.0f), hi = _mm512_set1_ps(127.0f);
  for (int64_t i = 0; i < k; i += 16) {
    const __mmask16 m = tail16(k - i);
    const __m512 p = _mm512_min_ps(_mm512_max_ps(_mm512_mul_ps(_mm512_maskz_loadu_ps(m, x + i), s), lo), hi);
    const __m512i r = _mm512_cvt_roundps_epi32(p, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    _mm512_mask_cvtepi32_storeu_epi8(q + i, m, r);
  }
}

}  // namespace

void quantize_row(const float* x, int64_t k, int8_t* q, float* s) {
  float scale;
  if (!finite_row_scale(absmax_bits(x, k), k, q, s, &scale)) return;
  quantize_with(x, k, scale, q);
  *s = scale;
}

void rmsnorm_quant_row(const float* x, const float* w, int64_t d, float eps, int8_t* q, float* s) {
  thread_local Scratch<float> scratch;
  float* normed = scratch.get(size_t(d));
  rmsnorm_row(x, w, d, eps, normed);
  quantize_row(normed, d, q, s);
}

}  // namespace bitlab::cpu::avx512

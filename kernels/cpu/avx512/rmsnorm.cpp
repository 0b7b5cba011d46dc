// RMSNorm, AVX-512 variant (f32_rmsnorm__avx512).
//
// Variants: one, for any d (masked tail); tuned for d = 2560 (hidden) and 6912
// (FFN sub-norm). The sum of squares and the scaling run in double, 8 lanes at
// a time, exactly as the reference computes them up to summation order, so the
// output matches ref::rmsnorm to the last bit almost always (and the int8
// output of rmsnorm_quant with it).
#include <cmath>

#include "kernels/cpu/avx512/avx512_kernels.h"
#include "kernels/cpu/avx512/simd.h"

namespace bitlab::cpu::avx512 {

double inv_rms(const float* x, int64_t d, float eps) {
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
  int64_t i = 0;
  for (; i + 16 <= d; i += 16) {
    const __m512d a = _mm512_cvtps_pd(_mm256_loadu_ps(x + i));
    const __m512d b = _mm512_cvtps_pd(_mm256_loadu_ps(x + i + 8));
    s0 = _mm512_fmadd_pd(a, a, s0);  // exact: a float squared fits a double
    s1 = _mm512_fmadd_pd(b, b, s1);
  }
  for (; i < d; i += 8) {
    const auto m = __mmask8((1u << std::min<int64_t>(8, d - i)) - 1u);
    const __m512d a = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, x + i));
    s0 = _mm512_fmadd_pd(a, a, s0);
  }
  const double sum_sq = _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
  return 1.0 / std::sqrt(sum_sq / double(d) + double(eps));
}

void rmsnorm_row(const float* x, const float* w, int64_t d, float eps, float* y) {
  const __m512d r = _mm512_set1_pd(inv_rms(x, d, eps));
  for (int64_t i = 0; i < d; i += 8) {
    const auto m = __mmask8((1u << std::min<int64_t>(8, d - i)) - 1u);
    const __m512d xv = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, x + i));
    const __m512d wv = _mm512_cvtps_pd(_mm256_maskz_loadu_ps(m, w + i));
    _mm256_mask_storeu_ps(y + i, m, _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_mul_pd(xv, r), wv)));
  }
}

}  // namespace bitlab::cpu::avx512

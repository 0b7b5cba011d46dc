// Attention for one query head over the KV cache, AVX-512 variant
// (f32_attention_head__avx512).
//
// Variants: one, any head_dim (masked tail); tuned for head_dim = 128 and the
// decode case (one query row, up to a few thousand cached positions), where
// each key and value row is one contiguous 512-byte read. Scores and the
// softmax are fp32 with a vectorised exp (Cephes polynomial, ~2 ulp); the
// weighted sum of values accumulates in fp32 and is divided by the softmax
// denominator once at the end. Agrees with the reference (double) to ~1e-7.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/avx512/avx512_kernels.h"
#include "kernels/cpu/avx512/simd.h"

namespace bitlab::cpu::avx512 {
namespace {

// e^x for x <= 0 (scores minus their maximum); exact 0 below -104.
__m512 exp_ps(__m512 x) {
  x = _mm512_max_ps(x, _mm512_set1_ps(-104.0f));
  const __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                        _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
  __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
  r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
  __m512 p = _mm512_set1_ps(1.9875691500e-4f);
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
  p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
  p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), _mm512_add_ps(r, _mm512_set1_ps(1.0f)));
  return _mm512_scalef_ps(p, n);  // p * 2^n, gradual underflow handled
}

float dot(const float* a, const float* b, int64_t n) {
  __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
  }
  for (; i < n; i += 16) {
    const __mmask16 m = tail16(n - i);
    s0 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s0);
  }
  return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

// out[0..w) = Σ_j p[j] * v[j * stride + 0..w), for w <= 64 (four registers).
void weighted_sum64(const float* p, const float* v, int64_t n, int64_t stride, int64_t w, float* out) {
  const __mmask16 m0 = tail16(w), m1 = tail16(w - 16), m2 = tail16(w - 32), m3 = tail16(w - 48);
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t j = 0; j < n; ++j) {
    const float* vj = v + j * stride;
    const __m512 pj = _mm512_set1_ps(p[j]);
    a0 = _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(m0, vj), a0);
    if (w > 16) a1 = _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(m1, vj + 16), a1);
    if (w > 32) a2 = _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(m2, vj + 32), a2);
    if (w > 48) a3 = _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(m3, vj + 48), a3);
  }
  _mm512_mask_storeu_ps(out, m0, a0);
  if (w > 16) _mm512_mask_storeu_ps(out + 16, m1, a1);
  if (w > 32) _mm512_mask_storeu_ps(out + 32, m2, a2);
  if (w > 48) _mm512_mask_storeu_ps(out + 48, m3, a3);
}

}  // namespace

void attention_head(const float* q, const float* k_cache, const float* v_cache, int64_t n_keys, int64_t head_dim,
                    int64_t kv_stride, float* out, float* scratch) {
  const float scale = 1.0f / std::sqrt(float(head_dim));
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  for (int64_t j = 0; j < n_keys; ++j) scratch[j] = dot(q, k_cache + j * kv_stride, head_dim) * scale;
  for (int64_t j = 0; j < n_keys; j += 16)
    vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(vmax, tail16(n_keys - j), scratch + j));
  const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512 den = _mm512_setzero_ps();
  for (int64_t j = 0; j < n_keys; j += 16) {
    const __mmask16 m = tail16(n_keys - j);
    const __m512 e = _mm512_maskz_mov_ps(m, exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, scratch + j), mx)));
    _mm512_mask_storeu_ps(scratch + j, m, e);
    den = _mm512_add_ps(den, e);
  }
  const float inv_den = 1.0f / _mm512_reduce_add_ps(den);
  for (int64_t i = 0; i < head_dim; i += 64)
    weighted_sum64(scratch, v_cache + i, n_keys, kv_stride, std::min<int64_t>(64, head_dim - i), out + i);
  const __m512 r = _mm512_set1_ps(inv_den);
  for (int64_t i = 0; i < head_dim; i += 16) {
    const __mmask16 m = tail16(head_dim - i);
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, out + i), r));
  }
}

}  // namespace bitlab::cpu::avx512

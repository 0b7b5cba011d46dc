// Attention over the KV cache, AVX-512 variant (f32_attention_head__avx512):
// one query head (attention_head), and a block of queries that share one kv
// head (attention_group: the GQA group's heads of one or more token rows).
//
// Any head_dim (masked tail); tuned for head_dim = 128, where each key and
// value row is one contiguous 512-byte read, and for 2B4T's group of 4 query
// heads per kv head: decode (one row, up to a few thousand cached positions)
// runs the 4 heads as one block, prefill blocks of 4 heads x 4 rows. Scores
// and the softmax are fp32 with a vectorised exp (Cephes polynomial, ~2 ulp);
// the weighted sum of values accumulates in fp32 and is divided by the softmax
// denominator once at the end. Agrees with the reference (double) to ~1e-7.
//
// attention_group is bit-identical to attention_head on each of its queries:
// every query keeps the same operations in the same order (two dot-product
// accumulators over 32-float steps, the masked 16-float tail, the max, exp and
// denominator sweeps, the weighted sum over keys in ascending order); the
// loops are interchanged, key rows outermost, so a key or value row is loaded
// once into registers for up to 4 queries (and stays in L1 for the rest of
// the block) instead of streaming the cache again per query, and four
// queries' dot products share the shuffles of one horizontal-sum tree.
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


// Queries whose accumulators share the registers in one sweep.
constexpr int kPass = 4;
// Queries a block is cut into (their order and pointers live on the stack).
constexpr int64_t kChunk = 32;

// The sums of four vectors, in lanes 0, 4, 8 and 12, each added in the tree
// of _mm512_reduce_add_ps (halves of 8, then of 4, 2 and 1 lanes), so each
// is that reduction's result bit for bit; the four share the shuffles.
__m512 reduce_add4(__m512 x0, __m512 x1, __m512 x2, __m512 x3) {
  // Lanes 0-7: x0's low 8 + high 8, lanes 8-15: x1's (then x2, x3).
  const __m512 h01 = _mm512_add_ps(_mm512_shuffle_f32x4(x0, x1, _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(x0, x1, _MM_SHUFFLE(3, 2, 3, 2)));
  const __m512 h23 = _mm512_add_ps(_mm512_shuffle_f32x4(x2, x3, _MM_SHUFFLE(1, 0, 1, 0)),
                                   _mm512_shuffle_f32x4(x2, x3, _MM_SHUFFLE(3, 2, 3, 2)));
  // Block c (4 lanes): vector c's low 4 + high 4 of those 8.
  const __m512 q = _mm512_add_ps(_mm512_shuffle_f32x4(h01, h23, _MM_SHUFFLE(2, 0, 2, 0)),
                                 _mm512_shuffle_f32x4(h01, h23, _MM_SHUFFLE(3, 1, 3, 1)));
  // Lanes 0, 1 of each block: [0] + [2], [1] + [3]; then lane 0: [0] + [1].
  const __m512 d = _mm512_add_ps(q, _mm512_permute_ps(q, _MM_SHUFFLE(1, 0, 3, 2)));
  return _mm512_add_ps(d, _mm512_permute_ps(d, _MM_SHUFFLE(2, 3, 0, 1)));
}

// score[c][j] = dot(q[c], k) * scale for NQ queries: the arithmetic of dot()
// per query, with each key vector loaded once for all of them.
template <int NQ>
void dots(const float* const* q, const float* k, int64_t n, float scale, float* const* score, int64_t j) {
  __m512 s0[NQ], s1[NQ];
  for (int c = 0; c < NQ; ++c) s0[c] = s1[c] = _mm512_setzero_ps();
  int64_t i = 0;
  for (; i + 32 <= n; i += 32) {
    const __m512 k0 = _mm512_loadu_ps(k + i), k1 = _mm512_loadu_ps(k + i + 16);
    for (int c = 0; c < NQ; ++c) {
      s0[c] = _mm512_fmadd_ps(_mm512_loadu_ps(q[c] + i), k0, s0[c]);
      s1[c] = _mm512_fmadd_ps(_mm512_loadu_ps(q[c] + i + 16), k1, s1[c]);
    }
  }
  for (; i < n; i += 16) {
    const __mmask16 m = tail16(n - i);
    const __m512 k0 = _mm512_maskz_loadu_ps(m, k + i);
    for (int c = 0; c < NQ; ++c) s0[c] = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, q[c] + i), k0, s0[c]);
  }
  if constexpr (NQ == 4) {
    const __m512 sums = reduce_add4(_mm512_add_ps(s0[0], s1[0]), _mm512_add_ps(s0[1], s1[1]),
                                    _mm512_add_ps(s0[2], s1[2]), _mm512_add_ps(s0[3], s1[3]));
    alignas(64) float r[16];
    _mm512_store_ps(r, _mm512_mul_ps(sums, _mm512_set1_ps(scale)));
    for (int c = 0; c < 4; ++c) score[c][j] = r[4 * c];
  } else {
    for (int c = 0; c < NQ; ++c) score[c][j] = _mm512_reduce_add_ps(_mm512_add_ps(s0[c], s1[c])) * scale;
  }
}

using DotsFn = void (*)(const float* const*, const float*, int64_t, float, float* const*, int64_t);
constexpr DotsFn kDots[kPass] = {dots<1>, dots<2>, dots<3>, dots<4>};

// out[c][0..w) = sum_j p[c][j] * v[j * stride + 0..w) for NQ queries, NR
// 16-float registers wide (w <= 16 * NR, `last` the last register's lanes),
// keys j < nk[c] in ascending order; nk is descending. The arithmetic of
// weighted_sum64 per query, with each value vector loaded once for all.
template <int NQ, int NR>
void weighted_sums(const float* const* p, const int64_t* nk, const float* v, int64_t stride, __mmask16 last,
                   float* const* out) {
  __m512 a[NQ][NR];
  for (int c = 0; c < NQ; ++c)
    for (int r = 0; r < NR; ++r) a[c][r] = _mm512_setzero_ps();
  const auto load = [&](int64_t j, __m512* vr) {
    for (int r = 0; r < NR; ++r)
      vr[r] = _mm512_maskz_loadu_ps(r == NR - 1 ? last : __mmask16(0xffff), v + j * stride + 16 * r);
  };
  int64_t j = 0;
  for (; j < nk[NQ - 1]; ++j) {  // keys every query sees
    __m512 vr[NR];
    load(j, vr);
    for (int c = 0; c < NQ; ++c) {
      const __m512 pj = _mm512_set1_ps(p[c][j]);
      for (int r = 0; r < NR; ++r) a[c][r] = _mm512_fmadd_ps(pj, vr[r], a[c][r]);
    }
  }
  for (; j < nk[0]; ++j) {  // the causal tail: only the queries that see key j
    __m512 vr[NR];
    load(j, vr);
    for (int c = 0; c < NQ; ++c) {
      if (j >= nk[c]) break;
      const __m512 pj = _mm512_set1_ps(p[c][j]);
      for (int r = 0; r < NR; ++r) a[c][r] = _mm512_fmadd_ps(pj, vr[r], a[c][r]);
    }
  }
  for (int c = 0; c < NQ; ++c)
    for (int r = 0; r < NR; ++r)
      _mm512_mask_storeu_ps(out[c] + 16 * r, r == NR - 1 ? last : __mmask16(0xffff), a[c][r]);
}

using SumsFn = void (*)(const float* const*, const int64_t*, const float*, int64_t, __mmask16, float* const*);
constexpr SumsFn kSums[kPass][4] = {
    {weighted_sums<1, 1>, weighted_sums<1, 2>, weighted_sums<1, 3>, weighted_sums<1, 4>},
    {weighted_sums<2, 1>, weighted_sums<2, 2>, weighted_sums<2, 3>, weighted_sums<2, 4>},
    {weighted_sums<3, 1>, weighted_sums<3, 2>, weighted_sums<3, 3>, weighted_sums<3, 4>},
    {weighted_sums<4, 1>, weighted_sums<4, 2>, weighted_sums<4, 3>, weighted_sums<4, 4>}};

// Softmax of one query's scores in place (the sweeps of attention_head);
// returns 1 / denominator.
float softmax(float* score, int64_t n_keys) {
  __m512 vmax = _mm512_set1_ps(-INFINITY);
  for (int64_t j = 0; j < n_keys; j += 16)
    vmax = _mm512_max_ps(vmax, _mm512_mask_loadu_ps(vmax, tail16(n_keys - j), score + j));
  const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
  __m512 den = _mm512_setzero_ps();
  for (int64_t j = 0; j < n_keys; j += 16) {
    const __mmask16 m = tail16(n_keys - j);
    const __m512 e = _mm512_maskz_mov_ps(m, exp_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(m, score + j), mx)));
    _mm512_mask_storeu_ps(score + j, m, e);
    den = _mm512_add_ps(den, e);
  }
  return 1.0f / _mm512_reduce_add_ps(den);
}

void scale_row(float* out, int64_t head_dim, float inv_den) {
  const __m512 r = _mm512_set1_ps(inv_den);
  for (int64_t i = 0; i < head_dim; i += 16) {
    const __mmask16 m = tail16(head_dim - i);
    _mm512_mask_storeu_ps(out + i, m, _mm512_mul_ps(_mm512_maskz_loadu_ps(m, out + i), r));
  }
}

// Up to kChunk queries: q, out, nk and score rows sorted by nk descending, so
// the queries that see key j are always a prefix.
void attention_chunk(const float* const* q, float* const* out, const int64_t* nk, float* const* score, int64_t n,
                     const float* k_cache, const float* v_cache, int64_t head_dim, int64_t kv_stride) {
  const float scale = 1.0f / std::sqrt(float(head_dim));
  int64_t active = n;
  for (int64_t j = 0; j < nk[0]; ++j) {
    while (nk[active - 1] <= j) --active;
    const float* kj = k_cache + j * kv_stride;
    for (int64_t c = 0; c < active; c += kPass)
      kDots[std::min<int64_t>(kPass, active - c) - 1](q + c, kj, head_dim, scale, score + c, j);
  }
  float inv_den[kChunk];
  for (int64_t c = 0; c < n; ++c) inv_den[c] = softmax(score[c], nk[c]);
  for (int64_t c = 0; c < n; c += kPass) {
    const int64_t np = std::min<int64_t>(kPass, n - c);
    float* o[kPass];
    for (int64_t i = 0; i < head_dim; i += 64) {
      const int64_t w = std::min<int64_t>(64, head_dim - i);
      for (int64_t x = 0; x < np; ++x) o[x] = out[c + x] + i;
      kSums[np - 1][(w + 15) / 16 - 1](score + c, nk + c, v_cache + i, kv_stride, tail16(w - (w - 1) / 16 * 16), o);
    }
    for (int64_t x = 0; x < np; ++x) scale_row(out[c + x], head_dim, inv_den[c + x]);
  }
}
}  // namespace

void attention_head(const float* q, const float* k_cache, const float* v_cache, int64_t n_keys, int64_t head_dim,
                    int64_t kv_stride, float* out, float* scratch) {
  const float scale = 1.0f / std::sqrt(float(head_dim));
  for (int64_t j = 0; j < n_keys; ++j) scratch[j] = dot(q, k_cache + j * kv_stride, head_dim) * scale;
  const float inv_den = softmax(scratch, n_keys);
  for (int64_t i = 0; i < head_dim; i += 64)
    weighted_sum64(scratch, v_cache + i, n_keys, kv_stride, std::min<int64_t>(64, head_dim - i), out + i);
  scale_row(out, head_dim, inv_den);
}

void attention_group(const float* const* q, float* const* out, const int64_t* n_keys, int64_t n_queries,
                     const float* k_cache, const float* v_cache, int64_t head_dim, int64_t kv_stride, float* scratch) {
  int64_t max_keys = 0;
  for (int64_t c = 0; c < n_queries; ++c) max_keys = std::max(max_keys, n_keys[c]);
  for (int64_t c0 = 0; c0 < n_queries; c0 += kChunk) {
    const int64_t n = std::min(kChunk, n_queries - c0);
    // Insertion sort by key count, descending (a chunk is small).
    const float* cq[kChunk];
    float* co[kChunk];
    float* cs[kChunk];
    int64_t cn[kChunk];
    for (int64_t c = 0; c < n; ++c) {
      int64_t x = c;
      for (; x > 0 && cn[x - 1] < n_keys[c0 + c]; --x) {
        cq[x] = cq[x - 1], co[x] = co[x - 1], cs[x] = cs[x - 1], cn[x] = cn[x - 1];
      }
      cq[x] = q[c0 + c], co[x] = out[c0 + c], cs[x] = scratch + (c0 + c) * max_keys, cn[x] = n_keys[c0 + c];
    }
    attention_chunk(cq, co, cn, cs, n, k_cache, v_cache, head_dim, kv_stride);
  }
}

}  // namespace bitlab::cpu::avx512

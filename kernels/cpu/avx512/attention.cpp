// Attention over the KV cache, AVX-512 variant (f32_attention_head__avx512):
// one query head (attention_head), and a block of queries that share one kv
// head (attention_group: the GQA group's heads of one or more token rows);
// attention_head is attention_group on one query.
//
// Any head_dim (masked tail); tuned for head_dim = 128 and 2B4T's group of 4
// query heads per kv head: decode (one row) runs the 4 heads as one block,
// prefill blocks of 4 heads x 4 rows.
//
// Scores: no horizontal sums (a dot product per (query, key) spent about as
// many shuffles and adds reducing 16 lanes as it spent fmas); each score
// accumulates as one fp32 fma per dimension, in one of two forms:
//   - key-major (blocks of fewer than 8 queries: decode): 32 keys at a time go
//     through a 16 x 16 transpose into a dimension-major block, and each
//     query's 32 scores take a broadcast query element times two key vectors
//     per dimension, up to 8 queries per sweep;
//   - query-major (8 or more: prefill): 16 queries are transposed once into
//     the lanes, and each of 16 keys takes a broadcast key element times the
//     queries' vector per dimension; one 16 x 16 transpose per 16 x 16 scores
//     turns them into rows. The per-key-block transpose of the key-major form
//     is gone: attention 5-10 % faster in prefill at 512 and at 2048 cached
//     (one thread, a plain driver around attention_group, best of 5).
// Softmax in fp32 with a vectorised exp (Cephes polynomial, ~2 ulp); the
// weighted sum of values accumulates in fp32, keys in ascending order, each
// value vector loaded once for 4 queries, and is divided by the softmax
// denominator once at the end. Agrees with the reference (double) to ~1e-7.
//
// Measured single-threaded on the 2-core EPYC (Zen 4 class) VM, one layer of
// a 512-token prefill (5 kv heads x 128 row blocks): about 2.5 G fma/s of the
// 3.6 G a plain fma loop reaches; the weighted sums take about a third of the
// time, the scores a bit more, the softmax most of the rest. The weighted
// sums' accumulators must stay in registers (the unroll pragmas: without them
// GCC 12 stores all 16 to the stack at every key, and the layer took 1.6 x as
// long).
//
// Bits: each score is the same expression (fma chain over the dimensions in
// ascending order from zero, then the scale) in either form, whatever block,
// sweep or companions it is computed with, and each query's softmax and
// weighted sum are its own, so attention_group gives every query exactly
// attention_head's bits.
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

// Queries whose accumulators share the registers in one sweep: of the
// weighted sums (kPass), of the key-major scores (kScorePass).
constexpr int kPass = 4;
constexpr int kScorePass = 8;
// Queries a block is cut into (their order and pointers live on the stack).
constexpr int64_t kChunk = 32;
// Keys whose scores one sweep of block_scores computes: two 16-float vectors
// per query.
constexpr int64_t kKeyBlock = 32;
// Blocks of at least this many queries (prefill) take the query-major scores,
// which transpose the queries once instead of every key block; fewer (decode:
// one row's 4 heads) would leave most of its 16 lanes idle.
constexpr int64_t kQueryMajorMin = 8;
// Dimensions of the 16 key rows that the query-major scores copy at a time.
constexpr int64_t kSlab = 128;

// out[d * out_stride + i] = row(i)[d] for d < head_dim, i < 16, and 0 for
// i >= rows (nothing of those rows is read): 16 rows transposed 16 x 16
// floats at a time (out 64-byte aligned, out_stride a multiple of 16).
template <class Row>
void transpose_rows(Row row, int64_t rows, int64_t head_dim, float* out, int64_t out_stride) {
  for (int64_t d0 = 0; d0 < head_dim; d0 += 16) {
    const __mmask16 m = tail16(head_dim - d0);
    __m512i v[16];
    for (int64_t i = 0; i < 16; ++i)
      v[i] = i < rows ? _mm512_castps_si512(_mm512_maskz_loadu_ps(m, row(i) + d0)) : _mm512_setzero_si512();
    transpose16x16_epi32(v);
    for (int64_t i = 0; i < 16 && d0 + i < head_dim; ++i) _mm512_store_si512(out + (d0 + i) * out_stride, v[i]);
  }
}

// kt[d * 32 + i] = k[(j0 + i) * stride + d] for d < head_dim, i < 32, and 0
// for keys j0 + i >= n_keys (nothing past them is read): the key block
// transposed, so a score sweep reads one dimension of 32 keys as two vectors.
void transpose_keys(const float* k, int64_t stride, int64_t head_dim, int64_t j0, int64_t n_keys, float* kt) {
  for (int64_t half = 0; half < kKeyBlock; half += 16) {
    const float* k0 = k + (j0 + half) * stride;
    transpose_rows([k0, stride](int64_t i) { return k0 + i * stride; }, n_keys - j0 - half, head_dim, kt + half,
                   kKeyBlock);
  }
}

// score[c][j0 + i] = (Σ_d q[c][d] * k[j0 + i][d]) * scale for NQ queries and
// the block's keys below n_keys[c]: one fp32 fma per dimension in ascending
// order from 0, then the scale. That is the one expression of every score,
// whatever the block, the pass or the number of queries, so a query's scores
// never depend on the others it is computed with.
template <int NQ>
void block_scores(const float* const* q, const float* kt, int64_t head_dim, float scale, const int64_t* nk,
                  float* const* score, int64_t j0) {
  __m512 a0[NQ], a1[NQ];
  for (int c = 0; c < NQ; ++c) a0[c] = a1[c] = _mm512_setzero_ps();
  for (int64_t d = 0; d < head_dim; ++d) {
    const __m512 k0 = _mm512_load_ps(kt + d * kKeyBlock), k1 = _mm512_load_ps(kt + d * kKeyBlock + 16);
    for (int c = 0; c < NQ; ++c) {
      const __m512 qd = _mm512_set1_ps(q[c][d]);
      a0[c] = _mm512_fmadd_ps(qd, k0, a0[c]);
      a1[c] = _mm512_fmadd_ps(qd, k1, a1[c]);
    }
  }
  const __m512 s = _mm512_set1_ps(scale);
  for (int c = 0; c < NQ; ++c) {
    const int64_t left = nk[c] - j0;
    _mm512_mask_storeu_ps(score[c] + j0, tail16(left), _mm512_mul_ps(a0[c], s));
    _mm512_mask_storeu_ps(score[c] + j0 + 16, tail16(left - 16), _mm512_mul_ps(a1[c], s));
  }
}

// The query-major form of the same scores, for up to 16 queries in the lanes:
// acc[i] lane c = Σ_d q[c][d] * k[j0 + i][d], one fma per dimension in
// ascending order from zero, then the scale: block_scores' expression, so the
// two forms give the same bits. qt[d * 16 + c] = q[c][d] (transpose_queries);
// the 16 key rows are copied a slab of dimensions at a time into kb (rows
// kSlab floats apart), so every broadcast is one base register plus a constant
// offset; keys past nk[0] repeat the last key (their scores are never stored).
// A 16 x 16 transpose turns the keys' vectors into the queries' score rows.
void query_major_scores(const float* qt, const float* k, int64_t stride, int64_t head_dim, float scale,
                        const int64_t* nk, int64_t nq, float* const* score, int64_t j0, float* kb) {
  __m512 acc[16];
#pragma GCC unroll 16
  for (__m512& a : acc) a = _mm512_setzero_ps();
  for (int64_t d0 = 0; d0 < head_dim; d0 += kSlab) {
    const int64_t w = std::min(kSlab, head_dim - d0);
    for (int64_t i = 0; i < 16; ++i) {
      const float* row = k + std::min(j0 + i, nk[0] - 1) * stride + d0;
      for (int64_t d = 0; d < w; d += 16)
        _mm512_store_ps(kb + i * kSlab + d, _mm512_maskz_loadu_ps(tail16(w - d), row + d));
    }
    for (int64_t d = 0; d < w; ++d) {
      const __m512 qd = _mm512_load_ps(qt + (d0 + d) * 16);
      const float* kd = kb + d;
#pragma GCC unroll 16
      for (int i = 0; i < 16; ++i) acc[i] = _mm512_fmadd_ps(_mm512_set1_ps(kd[i * kSlab]), qd, acc[i]);
    }
  }
  __m512i v[16];
  const __m512 s = _mm512_set1_ps(scale);
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i) v[i] = _mm512_castps_si512(_mm512_mul_ps(acc[i], s));
  transpose16x16_epi32(v);  // v[c]: query c's scores of keys j0 .. j0 + 15
  for (int64_t c = 0; c < nq; ++c) _mm512_mask_storeu_ps(score[c] + j0, tail16(nk[c] - j0), _mm512_castsi512_ps(v[c]));
}

// qt[d * 16 + c] = q[c][d] for c < nq <= 16, zero for the lanes past nq.
void transpose_queries(const float* const* q, int64_t nq, int64_t head_dim, float* qt) {
  transpose_rows([q](int64_t c) { return q[c]; }, nq, head_dim, qt, 16);
}

using ScoresFn = void (*)(const float* const*, const float*, int64_t, float, const int64_t*, float* const*, int64_t);
constexpr ScoresFn kScores[kScorePass] = {block_scores<1>, block_scores<2>, block_scores<3>, block_scores<4>,
                                          block_scores<5>, block_scores<6>, block_scores<7>, block_scores<8>};

// out[c][0..w) = sum_j p[c][j] * v[j * stride + 0..w) for NQ queries, NR
// 16-float registers wide (w <= 16 * NR, `last` the last register's lanes),
// keys j < nk[c] in ascending order; nk is descending. Each value vector is
// loaded once for all the queries that see its key; the keys past nk[NQ - 1]
// (the causal tail) continue each query's sums from its stored row, the same
// fmas in the same order, so that the main loop's accumulators stay in
// registers.
template <int NQ, int NR>
void weighted_sums(const float* const* p, const int64_t* nk, const float* v, int64_t stride, __mmask16 last,
                   float* const* out) {
  const auto mask = [last](int r) { return r == NR - 1 ? last : __mmask16(0xffff); };
  __m512 a[NQ][NR];
#pragma GCC unroll 4
  for (int c = 0; c < NQ; ++c)
#pragma GCC unroll 4
    for (int r = 0; r < NR; ++r) a[c][r] = _mm512_setzero_ps();
  const int64_t n_all = nk[NQ - 1];
  const float* pc[NQ];
  for (int c = 0; c < NQ; ++c) pc[c] = p[c];
  for (int64_t j = 0; j < n_all; ++j) {  // keys every query sees
    const float* vj = v + j * stride;
    __m512 vr[NR];
#pragma GCC unroll 4
    for (int r = 0; r < NR; ++r) vr[r] = _mm512_maskz_loadu_ps(mask(r), vj + 16 * r);
#pragma GCC unroll 4
    for (int c = 0; c < NQ; ++c) {
      const __m512 pj = _mm512_set1_ps(pc[c][j]);
#pragma GCC unroll 4
      for (int r = 0; r < NR; ++r) a[c][r] = _mm512_fmadd_ps(pj, vr[r], a[c][r]);
    }
  }
#pragma GCC unroll 4
  for (int c = 0; c < NQ; ++c)
#pragma GCC unroll 4
    for (int r = 0; r < NR; ++r) _mm512_mask_storeu_ps(out[c] + 16 * r, mask(r), a[c][r]);
  for (int c = 0; c < NQ - 1 && nk[c] > nk[NQ - 1]; ++c) {  // the causal tail, query by query
    __m512 t[NR];
    for (int r = 0; r < NR; ++r) t[r] = _mm512_maskz_loadu_ps(mask(r), out[c] + 16 * r);
    for (int64_t j = nk[NQ - 1]; j < nk[c]; ++j) {
      const __m512 pj = _mm512_set1_ps(p[c][j]);
      for (int r = 0; r < NR; ++r) t[r] = _mm512_fmadd_ps(pj, _mm512_maskz_loadu_ps(mask(r), v + j * stride + 16 * r), t[r]);
    }
    for (int r = 0; r < NR; ++r) _mm512_mask_storeu_ps(out[c] + 16 * r, mask(r), t[r]);
  }
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
  if (n >= kQueryMajorMin) {
    thread_local Scratch<float> qt_buf, kb_buf;
    float* qt = qt_buf.get(size_t(head_dim * 16));
    float* kb = kb_buf.get(size_t(16 * kSlab));
    for (int64_t c0 = 0; c0 < n; c0 += 16) {
      const int64_t nq = std::min<int64_t>(16, n - c0);
      transpose_queries(q + c0, nq, head_dim, qt);
      for (int64_t j0 = 0, active = nq; j0 < nk[c0]; j0 += 16) {
        while (nk[c0 + active - 1] <= j0) --active;
        query_major_scores(qt, k_cache, kv_stride, head_dim, scale, nk + c0, active, score + c0, j0, kb);
      }
    }
  } else {
    thread_local Scratch<float> kt_buf;
    float* kt = kt_buf.get(size_t(head_dim * kKeyBlock));
    for (int64_t j0 = 0, active = n; j0 < nk[0]; j0 += kKeyBlock) {
      while (nk[active - 1] <= j0) --active;
      transpose_keys(k_cache, kv_stride, head_dim, j0, nk[0], kt);
      for (int64_t c = 0; c < active; c += kScorePass)
        kScores[std::min<int64_t>(kScorePass, active - c) - 1](q + c, kt, head_dim, scale, nk + c, score + c, j0);
    }
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
  attention_group(&q, &out, &n_keys, 1, k_cache, v_cache, head_dim, kv_stride, scratch);
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

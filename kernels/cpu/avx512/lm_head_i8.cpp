// Int8 tied head (`--head int8`), AVX-512 VNNI variant (i8_i8_lm_head__avx512vnni).
//
// Variants: one kernel, any d (masked tail), tuned for the 2B4T head quantised
// per row (vocab 128256 x d 2560 int8 = 328 MB, half the bf16 table, read once
// per decode step: bandwidth-bound, one sequential stream per thread).
//   rows are taken 16 at a time; each row is one dot product of 64-byte chunks,
//   its 16 dword partial sums reduced once per row; the 16 sums of a block are
//   scaled together (two vector divisions), so the epilogue is off the stream.
//   t > 1: every token passes over a row while the 16-row block is in L1/L2.
//
// vpdpbusd multiplies unsigned by signed bytes. The table holds signed q, so
// each loaded chunk is flipped to q + 128 (xor 0x80) and the exact correction
// 128 * Σx is subtracted once per row:  Σ (q + 128) x - 128 Σ x = Σ q x.
// Masked tail lanes load zero for both q and x, contributing (0 + 128) * 0.
// Epilogue as the reference: float(acc) / s_x / s_v, two IEEE divisions.
#include <algorithm>

#include "kernels/cpu/avx512/avx512_kernels.h"
#include "kernels/cpu/avx512/simd.h"

namespace bitlab::cpu::avx512 {
namespace {

// Prefetch distance along the table, as for the bf16 head.
constexpr int64_t kPrefetchBytes = 512;
constexpr int64_t kRows = 16;

// Σ (q + 128) * x over one row; two chains so vpdpbusd latency stays hidden.
inline int32_t row_dot_biased(const int8_t* row, const int8_t* x, int64_t d) {
  const __m512i flip = _mm512_set1_epi8(int8_t(0x80));
  __m512i a0 = _mm512_setzero_si512(), a1 = a0;
  int64_t i = 0;
  for (; i + 128 <= d; i += 128) {
    _mm_prefetch(reinterpret_cast<const char*>(row + i) + kPrefetchBytes, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(row + i) + kPrefetchBytes + 64, _MM_HINT_T0);
    const __m512i q0 = _mm512_xor_si512(_mm512_loadu_si512(row + i), flip);
    const __m512i q1 = _mm512_xor_si512(_mm512_loadu_si512(row + i + 64), flip);
    a0 = _mm512_dpbusd_epi32(a0, q0, _mm512_loadu_si512(x + i));
    a1 = _mm512_dpbusd_epi32(a1, q1, _mm512_loadu_si512(x + i + 64));
  }
  for (; i < d; i += 64) {
    const __mmask64 m = tail64(d - i);
    const __m512i q = _mm512_xor_si512(_mm512_maskz_loadu_epi8(m, row + i), flip);
    a0 = _mm512_dpbusd_epi32(a0, q, _mm512_maskz_loadu_epi8(m, x + i));
  }
  return _mm512_reduce_add_epi32(_mm512_add_epi32(a0, a1));
}

}  // namespace

void lm_head_i8(const int8_t* xq, const float* s_x, int64_t t, int64_t d, const int8_t* q, const float* s_v,
                int64_t v0, int64_t v1, float* logits, int64_t ld_logits) {
  // Σx per token; at most a few tokens in practice (decode, or the last rows of a prefill).
  constexpr int64_t kTokenChunk = 64;
  int32_t xsum[kTokenChunk];
  for (int64_t t0 = 0; t0 < t; t0 += kTokenChunk) {
    const int64_t tn = std::min(kTokenChunk, t - t0);
    for (int64_t j = 0; j < tn; ++j) xsum[j] = row_sum(xq + (t0 + j) * d, d);
    for (int64_t r0 = v0; r0 < v1; r0 += kRows) {
      const int64_t rn = std::min(kRows, v1 - r0);
      const __mmask16 m = tail16(rn);
      const __m512 sv = _mm512_maskz_loadu_ps(m, s_v + r0);
      for (int64_t j = 0; j < tn; ++j) {
        alignas(64) int32_t acc[kRows] = {};
        const int8_t* x = xq + (t0 + j) * d;
        for (int64_t r = 0; r < rn; ++r) acc[r] = row_dot_biased(q + (r0 + r) * d, x, d);
        const __m512i exact = _mm512_sub_epi32(_mm512_load_si512(acc), _mm512_set1_epi32(128 * xsum[j]));
        const __m512 y = _mm512_div_ps(_mm512_div_ps(_mm512_cvtepi32_ps(exact), _mm512_set1_ps(s_x[t0 + j])), sv);
        _mm512_mask_storeu_ps(logits + (t0 + j) * ld_logits + r0, m, y);
      }
    }
  }
}

}  // namespace bitlab::cpu::avx512

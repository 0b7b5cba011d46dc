// Tied LM head (bf16 embedding table) and argmax, AVX-512 variant
// (bf16_f32_lm_head__avx512, f32_argmax__avx512).
//
// Variants: one LM head kernel, any d (masked tail), tuned for the 2B4T head
// (vocab 128256 x d 2560 bf16 = 657 MB, read once per decode step, so it must
// stream at memory bandwidth). bf16 widens to fp32 exactly and without
// shuffles: a 64-byte load holds 32 bf16 values as 16 dwords; (dw << 16) is
// the even elements as fp32, (dw & 0xffff0000) the odd ones. The activation row
// is split once per call into matching even/odd halves per 32-element chunk,
// so the inner loop is load, shift, and, two FMAs.
//   t = 1  rows one at a time, front to back, with a software prefetch ahead:
//          one sequential stream per thread (four interleaved rows measured
//          ~40 % slower); bandwidth-bound.
//   t > 1  tiles of 4 rows x 4 tokens: each row chunk is widened once for four
//          tokens, 16 accumulators.
// fp32 accumulation agrees with the double reference to ~1e-7 relative.
#include <algorithm>
#include <utility>
#include <cmath>

#include "kernels/cpu/avx512/avx512_kernels.h"
#include "kernels/cpu/avx512/simd.h"
#include "kernels/cpu/scalar/scalar_kernels.h"

namespace bitlab::cpu::avx512 {
namespace {

// Software prefetch distance in bytes along a row: measured on Zen 4 with two
// threads, hardware prefetch alone leaves ~10-15 % of the bandwidth unused.
constexpr int64_t kPrefetchBytes = 512;

// xs[c * 32 + 0..15] = x[32c + 2i], xs[c * 32 + 16..31] = x[32c + 2i + 1]; zero past d.
void split_even_odd(const float* x, int64_t d, float* xs) {
  const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  for (int64_t c = 0; c * 32 < d; ++c) {
    const __m512 a = _mm512_maskz_loadu_ps(tail16(d - 32 * c), x + 32 * c);
    const __m512 b = _mm512_maskz_loadu_ps(tail16(d - 32 * c - 16), x + 32 * c + 16);
    _mm512_storeu_ps(xs + 32 * c, _mm512_permutex2var_ps(a, even, b));
    _mm512_storeu_ps(xs + 32 * c + 16, _mm512_permutex2var_ps(a, odd, b));
  }
}

// One row, read front to back as one sequential stream; four FMA chains.
void row_dot(const uint16_t* row, int64_t d, const float* xs, float* out) {
  const __m512i hi_mask = _mm512_set1_epi32(int32_t(0xffff0000u));
  __m512 a0 = _mm512_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
  int64_t c = 0;
  for (; c + 64 <= d; c += 64) {
    _mm_prefetch(reinterpret_cast<const char*>(row + c) + kPrefetchBytes, _MM_HINT_T0);
    _mm_prefetch(reinterpret_cast<const char*>(row + c) + kPrefetchBytes + 64, _MM_HINT_T0);
    const __m512i v0 = _mm512_loadu_si512(row + c), v1 = _mm512_loadu_si512(row + c + 32);
    a0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v0, 16)), _mm512_loadu_ps(xs + c), a0);
    a1 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v0, hi_mask)), _mm512_loadu_ps(xs + c + 16), a1);
    a2 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v1, 16)), _mm512_loadu_ps(xs + c + 32), a2);
    a3 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v1, hi_mask)), _mm512_loadu_ps(xs + c + 48), a3);
  }
  for (; c < d; c += 32) {
    const __m512i v = _mm512_maskz_loadu_epi16(tail32(d - c), row + c);
    a0 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_slli_epi32(v, 16)), _mm512_loadu_ps(xs + c), a0);
    a1 = _mm512_fmadd_ps(_mm512_castsi512_ps(_mm512_and_si512(v, hi_mask)), _mm512_loadu_ps(xs + c + 16), a1);
  }
  *out = _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(a0, a1), _mm512_add_ps(a2, a3)));
}

// R rows x TB tokens (t > 1): each 64-byte row chunk is widened once and used by
// TB tokens; R * TB accumulators, one per (row, token). The R rows (R x 5 KB)
// stay in L1 while the token tiles pass over them; the activations stream from
// L2, which holds this to ~40 % of FMA peak at t = 128 (4x4 measured within
// 15 % of 8x2 and 6x3 on Zen 4). Only teacher-forced runs (all logits) use it.
template <int R, int TB>
void tile_dot(const uint16_t* rows, int64_t d, const float* xs, int64_t ldx, float* out, int64_t ld_out) {
  const __m512i hi_mask = _mm512_set1_epi32(int32_t(0xffff0000u));
  __m512 acc[R][TB];
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < TB; ++t) acc[r][t] = _mm512_setzero_ps();
  for (int64_t c = 0; c < d; c += 32) {
    const __mmask32 m = tail32(d - c);
    __m512 lo[R], hi[R];
#pragma GCC unroll 8
    for (int r = 0; r < R; ++r) {
      const __m512i v = _mm512_maskz_loadu_epi16(m, rows + r * d + c);
      lo[r] = _mm512_castsi512_ps(_mm512_slli_epi32(v, 16));
      hi[r] = _mm512_castsi512_ps(_mm512_and_si512(v, hi_mask));
    }
#pragma GCC unroll 8
    for (int t = 0; t < TB; ++t) {
      const __m512 xe = _mm512_loadu_ps(xs + t * ldx + c), xo = _mm512_loadu_ps(xs + t * ldx + c + 16);
#pragma GCC unroll 8
      for (int r = 0; r < R; ++r) acc[r][t] = _mm512_fmadd_ps(hi[r], xo, _mm512_fmadd_ps(lo[r], xe, acc[r][t]));
    }
  }
#pragma GCC unroll 8
  for (int r = 0; r < R; ++r)
#pragma GCC unroll 8
    for (int t = 0; t < TB; ++t) out[t * ld_out + r] = _mm512_reduce_add_ps(acc[r][t]);
}

using TileFn = void (*)(const uint16_t*, int64_t, const float*, int64_t, float*, int64_t);
constexpr int kTileRows = 4, kTileTokens = 4;
// Plain arrays, not std::array: its operator[] is an inline function, which
// an unoptimised or instrumented build emits as a weak symbol in this object.
struct TileRow {
  TileFn fn[kTileTokens];
};
struct TileTable {
  TileRow rows[kTileRows];
};
template <int R, size_t... T>
constexpr TileRow tiles_for_rows(std::index_sequence<T...>) {
  return {{&tile_dot<R, int(T) + 1>...}};
}
template <size_t... R>
constexpr TileTable make_tiles(std::index_sequence<R...>) {
  return {{tiles_for_rows<int(R) + 1>(std::make_index_sequence<kTileTokens>{})...}};
}
// kTiles.rows[r - 1].fn[tb - 1]: r rows by tb tokens.
constexpr TileTable kTiles = make_tiles(std::make_index_sequence<kTileRows>{});

}  // namespace

void lm_head(const float* x, int64_t t, int64_t d, const uint16_t* table, int64_t v0, int64_t v1, float* logits,
             int64_t ld_logits) {
  const int64_t dp = (d + 31) / 32 * 32;
  thread_local Scratch<float> scratch;
  float* xs = scratch.get(size_t(t * dp));
  for (int64_t tok = 0; tok < t; ++tok) split_even_odd(x + tok * d, d, xs + tok * dp);
  if (t == 1) {
    for (int64_t v = v0; v < v1; ++v) row_dot(table + v * d, d, xs, logits + v);
    return;
  }
  for (int64_t v = v0; v < v1; v += kTileRows) {
    const int64_t r = std::min<int64_t>(kTileRows, v1 - v);
    for (int64_t t0 = 0; t0 < t; t0 += kTileTokens) {
      const int64_t tb = std::min<int64_t>(kTileTokens, t - t0);
      kTiles.rows[r - 1].fn[tb - 1](table + v * d, d, xs + t0 * dp, dp, logits + t0 * ld_logits + v,
                                            ld_logits);
    }
  }
}

int64_t argmax(const float* logits, int64_t v) {
  // Largest non-NaN value, then its first index: the scalar rule (lowest index
  // on ties, NaN never chosen). All-NaN rows keep the scalar answer.
  __m512 best = _mm512_set1_ps(-INFINITY);
  __mmask16 seen = 0;
  for (int64_t i = 0; i < v; i += 16) {
    const __m512 l = _mm512_maskz_loadu_ps(tail16(v - i), logits + i);
    const __mmask16 ok = _mm512_cmp_ps_mask(l, l, _CMP_ORD_Q) & tail16(v - i);
    seen |= ok;
    best = _mm512_mask_max_ps(best, ok, l, best);
  }
  if (!seen) return scalar::argmax(logits, v);
  const __m512 mx = _mm512_set1_ps(_mm512_reduce_max_ps(best));
  for (int64_t i = 0; i < v; i += 16) {
    const __mmask16 eq = _mm512_cmp_ps_mask(_mm512_maskz_loadu_ps(tail16(v - i), logits + i), mx, _CMP_EQ_OQ) &
                         tail16(v - i);
    if (eq) return i + __builtin_ctz(eq);
  }
  return scalar::argmax(logits, v);
}

}  // namespace bitlab::cpu::avx512

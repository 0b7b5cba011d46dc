// Ternary x int8 matmul over the 1.6-bit layout, AVX-512 VNNI
// (t1p6i8_matmul_b3r16k20__avx512vnni): five weights per byte, so decode (one
// token, bound by the weight stream) reads 20 % fewer bytes than r16k16. Built
// with -mavx512vnni.
//
// Paths, picked by the token count t:
//   t = 1   GEMV (gemv_group): no digit is extracted at all. With p0 = q and
//           p_{j+1} = 3 p_j mod 256 (two byte adds; the wrap is the point),
//           c_j = (3 p_j - p_{j+1}) / 256 exactly (base3.h), so per block ten
//           vpdpbusd against the five broadcast activation quads build
//             A = sum_j p_j . x_j   and   B = sum_j p_{j+1} . x_j
//           and sum_j c_j . x_j = (3A - B) / 256. Ten independent accumulators
//           (A_j, B_j) keep vpdpbusd latency off the critical path.
//           Range: 3A - B is computed mod 2^32 (vpdpbusd and vpaddd wrap), and
//           equals 256 * sum(c * x) exactly while that is within int32, i.e.
//           -2^23 <= sum(c * x) < 2^23; with c <= 2 and -128 <= x <= 127 that
//           holds for 2 * 128 * k <= 2^23, k <= 32768 columns. Longer rows are taken in
//           chunks of kChunkBlocks blocks (32760 columns), each reduced to its
//           exact sum before the next starts.
//           Why this decode: every 512-bit operation costs about the same
//           here (Zen 4 issues two per cycle, vpdpbusd or byte add alike), and
//           this is 20 per 64-byte block (10 vpdpbusd, 10 vpaddb) against 35
//           for compares and masks or 21 for an AVX512-VBMI table lookup
//           (2 vpermi2b and a blend per digit), which measured 2.7, 5.1 and
//           4.3 ns per block in L1. That is about the time DRAM takes to
//           deliver 64 bytes to one core, so one token stays bound by the
//           weight stream, not by the decode.
//   t > 1   GEMM (gemm_tile<TB, Decode>): each 64-byte block is decoded into
//           five code registers (decode_b3, b3r16k20.h) once per call, by the
//           first token tile of its row group, which also stores them in a
//           per-thread scratch (320 bytes per block: 40 KB at k = 2560) that
//           the group's other tiles read. Decoding inside the first tile's
//           loop, not in a pass of its own, lets the byte operations issue
//           beside that tile's vpdpbusd. A tile of up to 16 tokens keeps one
//           accumulator per token, 80 vpdpbusd per block and no other vector
//           arithmetic, so at 128 tokens it runs at the 2-bit GEMM's speed.
//           Activations are interleaved per tile exactly as r16k16's GEMM does
//           (4-column groups are 64 bytes apart), so the 16 broadcasts of one
//           code register read one 64-byte line, and prepared once per matmul
//           by the backend the same way (prepare_b3).
//
// Since codes are T + 1, acc = sum(c * x) - sum(x), sum(x) computed once per
// token (for t > 1, prepared with the tiles). Activations past k are read
// from a zero-padded copy, so the kernel never reads past the end of xq.
//
// Epilogue: store_b3_rows, y = float(acc - sum(x)) / s[t] * w_scale, a
// division then a multiply, so y is bit-identical to ref::matmul_w2a8.
#include <algorithm>
#include <cstring>
#include <utility>

#include "kernels/cpu/avx512/avx512_kernels.h"
#include "kernels/cpu/avx512/b3r16k20.h"
#include "kernels/cpu/avx512/simd.h"

namespace bitlab::cpu::avx512 {
namespace {

constexpr int kMaxTile = int(kGemmTileTokens);  // tokens per GEMM tile
constexpr int64_t kChunkBlocks = 1638;  // 32760 columns: 256 * 2 * 128 * 32760 < 2^31

// acc += sum_i c[4l+i] * x[i] per dword lane l, x = four int8 at p broadcast to
// every lane (inline asm: see matmul_w2a8.cpp).
inline void dpbusd_bcast(__m512i& acc, __m512i c, const int8_t* p) {
  asm("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(c), "m"(*reinterpret_cast<const int32_t*>(p)));
}

inline void store_b3_rows(__m512i acc, int32_t xsum, float s, __m512 w_scale, float* y, __mmask16 store) {
  acc = _mm512_sub_epi32(acc, _mm512_set1_epi32(xsum));
  _mm512_mask_storeu_ps(y, store, _mm512_mul_ps(_mm512_div_ps(_mm512_cvtepi32_ps(acc), _mm512_set1_ps(s)), w_scale));
}

// One digit of a GEMV block: a += p_j . x_j, p <- p_{j+1}, b += p_{j+1} . x_j.
inline void gemv_digit(__m512i& a, __m512i& b, __m512i& p, const int8_t* xj) {
  dpbusd_bcast(a, p, xj);
  p = times3(p);
  dpbusd_bcast(b, p, xj);
}

// sum(c * x) over blocks [kb0, kb1) of one group, kb1 - kb0 <= kChunkBlocks.
// Named accumulators, not an array: GCC keeps an array of them, updated
// through the inline asm, in memory.
inline __m512i gemv_chunk(const uint8_t* w, int64_t kb0, int64_t kb1, const int8_t* x) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0, a4 = a0;
  __m512i b0 = a0, b1 = a0, b2 = a0, b3 = a0, b4 = a0;
  for (int64_t kb = kb0; kb < kb1; ++kb) {
    __m512i p = _mm512_load_si512(w + kb * kB3BlockBytes);
    const int8_t* xk = x + kb * kB3ColBlock;
    gemv_digit(a0, b0, p, xk);
    gemv_digit(a1, b1, p, xk + 4);
    gemv_digit(a2, b2, p, xk + 8);
    gemv_digit(a3, b3, p, xk + 12);
    gemv_digit(a4, b4, p, xk + 16);
  }
  const __m512i sa = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)), a4);
  const __m512i sb = _mm512_add_epi32(_mm512_add_epi32(_mm512_add_epi32(b0, b1), _mm512_add_epi32(b2, b3)), b4);
  // 3A - B, wrapping, is 256 * sum(c * x) exactly (see the file comment).
  return _mm512_srai_epi32(_mm512_sub_epi32(_mm512_add_epi32(sa, _mm512_add_epi32(sa, sa)), sb), 8);
}

// GEMV: one token, one 16-row group; x zero-padded to 20 * nkb.
void gemv_group(const uint8_t* w, int64_t nkb, const int8_t* x, int32_t xsum, float s, __m512 w_scale, float* y,
                __mmask16 store) {
  __m512i acc = _mm512_setzero_si512();
  for (int64_t kb0 = 0; kb0 < nkb; kb0 += kChunkBlocks)
    acc = _mm512_add_epi32(acc, gemv_chunk(w, kb0, std::min(nkb, kb0 + kChunkBlocks), x));
  store_b3_rows(acc, xsum, s, w_scale, y, store);
}

// GEMM tile: TB tokens (1..16) x one 16-row group. The first tile of a group
// (Decode) decodes each weight block of w and writes its five code registers to
// `codes`, the others read them from there; xt: the tile's activations
// interleaved, xt[(5kb + j) * 64 + 4t + i] = x[t, 20kb + 4j + i]. Decoding inside
// the first tile's loop, not in a pass of its own, lets the decode's byte
// operations issue beside that tile's vpdpbusd.
template <int TB, bool Decode>
void gemm_tile(const uint8_t* w, uint8_t* codes, int64_t nkb, const int8_t* xt, const int32_t* xsum, const float* s,
               float w_scale, float* y, int64_t ldy, __mmask16 store) {
  // 1-3 tokens: two chains per token, so vpdpbusd latency stays mostly hidden.
  constexpr int S = TB >= 4 ? 1 : 2;
  __m512i acc[TB][S];
#pragma GCC unroll 16
  for (int t = 0; t < TB; ++t)
#pragma GCC unroll 2
    for (int j = 0; j < S; ++j) acc[t][j] = _mm512_setzero_si512();
  for (int64_t kb = 0; kb < nkb; ++kb) {
    uint8_t* cb = codes + kb * kB3Digits * 64;
    __m512i c[kB3Digits];
    if constexpr (Decode) {
      decode_b3(w + kb * kB3BlockBytes, c);
#pragma GCC unroll 5
      for (int j = 0; j < kB3Digits; ++j) _mm512_store_si512(cb + j * 64, c[j]);
    }
#pragma GCC unroll 5
    for (int j = 0; j < kB3Digits; ++j) {  // one code register: a 4-column group
      if constexpr (!Decode) c[j] = _mm512_load_si512(cb + j * 64);
      const int8_t* xg = xt + (kb * kB3Digits + j) * 64;
#pragma GCC unroll 16
      for (int t = 0; t < TB; ++t) dpbusd_bcast(acc[t][j % S], c[j], xg + 4 * t);
    }
  }
#pragma GCC unroll 16
  for (int t = 0; t < TB; ++t) {
    __m512i a = acc[t][0];
    if constexpr (S == 2) a = _mm512_add_epi32(a, acc[t][1 % S]);
    store_b3_rows(a, xsum[t], s[t], _mm512_set1_ps(w_scale), y + t * ldy, store);
  }
}

using TileFn = void (*)(const uint8_t*, uint8_t*, int64_t, const int8_t*, const int32_t*, const float*, float, float*,
                        int64_t, __mmask16);

struct TileTable {
  TileFn fn[2][kMaxTile];  // [decode][tb - 1]
};
template <size_t... I>
constexpr TileTable make_tiles(std::index_sequence<I...>) {
  return {{{&gemm_tile<int(I) + 1, false>...}, {&gemm_tile<int(I) + 1, true>...}}};
}
// kTiles.fn[decode][tb - 1] handles tb tokens.
constexpr TileTable kTiles = make_tiles(std::make_index_sequence<kMaxTile>{});

}  // namespace

size_t prepared_bytes_b3(int64_t t, int64_t k) { return prepared_size(t, b3_col_blocks(k) * kB3ColBlock); }

void prepare_b3(const int8_t* xq, int64_t t, int64_t k, int64_t t0, int64_t t1, uint8_t* out) {
  prepare_tiles(xq, t, k, b3_col_blocks(k) * kB3ColBlock, t0, t1, out);
}

void matmul_b3(const MatmulArgs& a, int64_t n0, int64_t n1) {
  const int64_t nkb = b3_col_blocks(a.k), kp = nkb * kB3ColBlock, group_bytes = nkb * kB3BlockBytes;
  if (a.t == 1) {
    // The activations are read in place, except for a zero-padded copy when k
    // is not a multiple of 20, so nothing past k is read.
    thread_local Scratch<int8_t> xpad;
    const int8_t* x = padded_row(a.xq, a.k, kp, xpad);
    const int32_t xsum = row_sum(a.xq, a.k);
    const __m512 w_scale = _mm512_set1_ps(a.w_scale);
    for (int64_t r0 = n0; r0 < n1; r0 += kRowGroup)
      gemv_group(a.packed + (r0 / kRowGroup) * group_bytes, nkb, x, xsum, a.s[0], w_scale, a.y + r0,
                 __mmask16((1u << std::min(kRowGroup, n1 - r0)) - 1u));
    return;
  }

  // Activations interleaved per tile of 16 tokens (see gemm_tile), with their
  // sums: prepared once per call by the backend, else here.
  const uint8_t* prep = prepared_or_own(a.prepared, a.xq, a.t, a.k, kp);
  const int32_t* xsum = prepared_sums(prep);
  const int8_t* xt = prepared_tiles(prep, a.t);
  const int64_t tiles = (a.t + kMaxTile - 1) / kMaxTile, tile_bytes = kp * kMaxTile;
  thread_local Scratch<uint8_t> codes_scratch;
  uint8_t* codes = codes_scratch.get(size_t(tile_bytes));
  for (int64_t r0 = n0; r0 < n1; r0 += kRowGroup) {
    const auto store = __mmask16((1u << std::min(kRowGroup, n1 - r0)) - 1u);
    const uint8_t* w = a.packed + (r0 / kRowGroup) * group_bytes;
    for (int64_t i = 0; i < tiles; ++i) {
      const int64_t t0 = i * kMaxTile, tb = std::min<int64_t>(kMaxTile, a.t - t0);
      kTiles.fn[i == 0][tb - 1](w, codes, nkb, xt + i * tile_bytes, xsum + t0, a.s + t0, a.w_scale,
                                a.y + t0 * a.ldy + r0, a.ldy, store);
    }
  }
}

}  // namespace bitlab::cpu::avx512

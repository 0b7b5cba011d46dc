// Ternary x int8 matmul, AVX-512 VNNI variant (t2i8_matmul_r16k16__avx512vnni),
// the avx512 backend's default matmul where the CPU has VNNI. The only files of
// this folder built with -mavx512vnni are this one, matmul_b3r16k20.cpp and lm_head_i8.cpp.
//
// Paths, picked by the token count t:
//   t = 1   GEMV (gemv_group): one 16-row group at a time with four independent
//           accumulators (one per 4-column slice), so vpdpbusd latency never
//           limits the 2-bit weight stream; tuned for the 2B4T decode shapes
//           (N x K = 3840x2560, 2560x2560, 13824x2560, 2560x6912), which it
//           reads at DRAM bandwidth.
//   t > 1   GEMM (gemm_tile<TB>, TB = 1..16): each 64-byte weight block is
//           decoded once into four registers and reused by a tile of up to 16
//           tokens (one accumulator each, 64 vpdpbusd per block). A weight row
//           group (10 KB at k = 2560, 27 KB at 6912) stays in L1/L2 while every
//           token tile passes over it, so each weight byte comes from DRAM once
//           and prefill of 128 tokens is bound by vpdpbusd throughput (figures
//           below), not by bandwidth.
//           Activations are interleaved per tile so that the 16 broadcasts of
//           one code register read one 64-byte line. The interleaved tiles and
//           the token sums are prepared once per matmul (prepare, by the
//           backend, spread over its threads), not by every row block's call:
//           at 128 tokens a private copy per call cost each thread ~10 % of an
//           o/qkv/down projection (a 320 KB transpose per call, 8 calls).
//           Measured (Zen 4 VM, 128 tokens, against the run's own vpdpbusd
//           probe): one thread alone over a whole matrix, best of 7, 95-98 %
//           for the four shapes (a plain driver around this kernel); in
//           `bitlab bench` (medians, the backend's threads and chunks),
//           93-96 % with one thread and 90-96 % with two. The rest: the
//           per-tile epilogue (16 divisions, masked stores) and, with two
//           threads, the hand-over between the activation preparation and the
//           row blocks and the wait for the last chunk. Decoding each weight
//           block once per tile (8 of every 72 vector operations) costs
//           nothing measurable: the same driver fed pre-expanded 8-bit codes
//           ran no faster (they issue beside the vpdpbusd).
//           Replacing the per-token inline asm with one asm statement per
//           block (no register copies) measured the same.
//
// Layout "r16k16": see r16k16.h (repack_r16k16.cpp writes it). Since codes
// are T + 1, acc = sum(c * x) - sum(x), where sum(x) is computed once per
// token (prepared with the tiles). Activations past k are read from a
// zero-padded copy, so the kernel never reads past the end of xq.
//
// Epilogue: y = float(acc) / s[t] * w_scale, a division then a multiply (no FMA,
// no reciprocal), so y is bit-identical to ref::matmul_w2a8.
#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "kernels/cpu/avx512/avx512_kernels.h"
#include "kernels/cpu/avx512/r16k16.h"
#include "kernels/cpu/avx512/simd.h"

namespace bitlab::cpu::avx512 {
namespace {

constexpr int kMaxTile = int(kGemmTileTokens);  // tokens per GEMM tile

// acc += Σ_i c[4l+i] * x[i] per dword lane l, x = four int8 at p broadcast to
// every lane. Inline asm so that the broadcast stays a memory operand and the
// accumulator is updated in place (GCC 12 copies it around the intrinsic).
inline void dpbusd_bcast(__m512i& acc, __m512i c, const int8_t* p) {
  asm("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(c), "m"(*reinterpret_cast<const int32_t*>(p)));
}

// GEMV: one token, one 16-row group over all column blocks; x zero-padded to
// 16 * nkb. Four accumulators (one per column slice) keep four independent
// vpdpbusd chains, so the loop runs at the speed of the weight stream.
void gemv_group(const uint8_t* w, int64_t nkb, const int8_t* x, int32_t xsum, float s, __m512 w_scale, float* y,
                __mmask16 store) {
  __m512i a0 = _mm512_setzero_si512(), a1 = a0, a2 = a0, a3 = a0;
  for (int64_t kb = 0; kb < nkb; ++kb) {
    const Codes c = decode(w + kb * kBlockBytes);
    const int8_t* xk = x + kb * kColBlock;
    dpbusd_bcast(a0, c.c0, xk);
    dpbusd_bcast(a1, c.c1, xk + 4);
    dpbusd_bcast(a2, c.c2, xk + 8);
    dpbusd_bcast(a3, c.c3, xk + 12);
  }
  store_rows(_mm512_add_epi32(_mm512_add_epi32(a0, a1), _mm512_add_epi32(a2, a3)), xsum, s, w_scale, y, store);
}

// GEMM tile: TB tokens (1..16) x one 16-row group. xt is the tile's activations
// interleaved by 4-column groups: xt[(4kb + j) * 64 + 4t + i] = x[t, 16kb + 4j + i],
// so all TB broadcasts of one code register read one 64-byte line.
template <int TB>
void gemm_tile(const uint8_t* w, int64_t nkb, const int8_t* xt, const int32_t* xsum, const float* s, float w_scale,
               float* y, int64_t ldy, __mmask16 store) {
  // 1-3 tokens: two chains per token, so vpdpbusd latency stays mostly hidden.
  constexpr int S = TB >= 4 ? 1 : 2;
  __m512i acc[TB][S];
#pragma GCC unroll 16
  for (int t = 0; t < TB; ++t)
#pragma GCC unroll 2
    for (int j = 0; j < S; ++j) acc[t][j] = _mm512_setzero_si512();
  for (int64_t kb = 0; kb < nkb; ++kb) {
    const Codes c = decode(w + kb * kBlockBytes);
    const int8_t* xk = xt + kb * 4 * kBlockBytes;
#pragma GCC unroll 16
    for (int t = 0; t < TB; ++t) dpbusd_bcast(acc[t][0], c.c0, xk + 4 * t);
#pragma GCC unroll 16
    for (int t = 0; t < TB; ++t) dpbusd_bcast(acc[t][1 % S], c.c1, xk + 64 + 4 * t);
#pragma GCC unroll 16
    for (int t = 0; t < TB; ++t) dpbusd_bcast(acc[t][0], c.c2, xk + 128 + 4 * t);
#pragma GCC unroll 16
    for (int t = 0; t < TB; ++t) dpbusd_bcast(acc[t][1 % S], c.c3, xk + 192 + 4 * t);
  }
#pragma GCC unroll 16
  for (int t = 0; t < TB; ++t) {
    __m512i a = acc[t][0];
    if constexpr (S == 2) a = _mm512_add_epi32(a, acc[t][1 % S]);
    store_rows(a, xsum[t], s[t], _mm512_set1_ps(w_scale), y + t * ldy, store);
  }
}

using TileFn = void (*)(const uint8_t*, int64_t, const int8_t*, const int32_t*, const float*, float, float*, int64_t,
                        __mmask16);

struct TileTable {
  TileFn fn[kMaxTile];
};
template <size_t... I>
constexpr TileTable make_tiles(std::index_sequence<I...>) {
  return {{&gemm_tile<int(I) + 1>...}};
}
// kTiles.fn[tb - 1] handles tb tokens.
constexpr TileTable kTiles = make_tiles(std::make_index_sequence<kMaxTile>{});

}  // namespace

size_t prepared_bytes(int64_t t, int64_t k) { return prepared_size(t, col_blocks(k) * kColBlock); }

void prepare(const int8_t* xq, int64_t t, int64_t k, int64_t t0, int64_t t1, uint8_t* out) {
  prepare_tiles(xq, t, k, col_blocks(k) * kColBlock, t0, t1, out);
}

void matmul(const MatmulArgs& a, int64_t n0, int64_t n1) {
  const int64_t nkb = col_blocks(a.k), kp = nkb * kColBlock, group_bytes = nkb * kBlockBytes;
  if (a.t == 1) {
    // The activations are read in place, except for a zero-padded copy of the
    // last partial block, so nothing past k is read.
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
  for (int64_t r0 = n0; r0 < n1; r0 += kRowGroup) {
    const auto store = __mmask16((1u << std::min(kRowGroup, n1 - r0)) - 1u);
    const uint8_t* w = a.packed + (r0 / kRowGroup) * group_bytes;
    for (int64_t i = 0; i < tiles; ++i) {
      const int64_t t0 = i * kMaxTile, tb = std::min<int64_t>(kMaxTile, a.t - t0);
      kTiles.fn[tb - 1](w, nkb, xt + i * tile_bytes, xsum + t0, a.s + t0, a.w_scale,
                             a.y + t0 * a.ldy + r0, a.ldy, store);
    }
  }
}

}  // namespace bitlab::cpu::avx512

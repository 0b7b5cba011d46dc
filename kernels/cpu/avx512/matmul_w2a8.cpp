// Ternary x int8 matmul, AVX-512 VNNI variant (t2i8_matmul_r16k16__avx512vnni).
//
// Variants, picked by the token count t:
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
//           and prefill of 128 tokens is bound by vpdpbusd throughput (~90 % of
//           one zmm vpdpbusd per cycle measured on Zen 4), not by bandwidth.
//           Activations are interleaved per tile so that the 16 broadcasts of
//           one code register read one 64-byte line.
//
// Layout "r16k16" (what repack writes for one part of [n, k]):
//   rows are taken in groups of 16 (group g = rows 16g..16g+15), columns in blocks
//   of 16; one group is ceil(k/16) consecutive 64-byte blocks, groups follow each
//   other. In block (g, kb), byte 4r + i (r = 0..15, i = 0..3) holds, in bits
//   2j..2j+1 (j = 0..3), the code c = T + 1 of row 16g + r, column 16kb + 4j + i.
//   Rows past n and columns past k hold code 1 (a zero weight). Size:
//   ceil(n/16) * ceil(k/16) * 64 bytes, a multiple of 64, so every part and every
//   block starts 64-byte aligned.
//
// Why this layout: (v >> 2j) & 3 of one 64-byte load is, for every row r in
// dword lane r, the four unsigned codes of columns 16kb+4j .. 16kb+4j+3, which is
// exactly the unsigned operand of vpdpbusd against a broadcast of those four
// int8 activations. One load feeds 4 x 64 multiply-adds, the stream is purely
// sequential, and the kernel needs no shuffles. Since codes are T + 1,
//   acc = sum(c * x) - sum(x),
// where sum(x) is computed once per token per call. Activations past k are
// read from a zero-padded copy, so the kernel never reads past the end of xq.
//
// Epilogue: y = float(acc) / s[t] * w_scale, a division then a multiply (no FMA,
// no reciprocal), so y is bit-identical to ref::matmul_w2a8.
#include <algorithm>
#include <array>
#include <cstring>
#include <utility>

#include "kernels/cpu/avx512/avx512_kernels.h"
#include "kernels/cpu/avx512/simd.h"

namespace bitlab::cpu::avx512 {
namespace {

constexpr int64_t kBlockBytes = 64;
constexpr int kMaxTile = 16;  // tokens per GEMM tile

int64_t col_blocks(int64_t k) { return (k + kColBlock - 1) / kColBlock; }
int64_t row_groups(int64_t n) { return (n + kRowGroup - 1) / kRowGroup; }

// One canonical byte (four 2-bit codes) spread to one code per byte lane.
// The tables here are plain arrays, not std::array: its operator[] is an
// inline function, which an instrumented build (-O1, sanitizers) emits as a
// weak symbol in this object (cmake/check_isa_isolation.cmake).
struct SpreadTable {
  uint32_t v[256];
};
constexpr SpreadTable make_spread() {
  SpreadTable t{};
  for (uint32_t b = 0; b < 256; ++b)
    for (uint32_t i = 0; i < 4; ++i) t.v[b] |= ((b >> (2 * i)) & 3u) << (8 * i);
  return t;
}
constexpr SpreadTable kSpread = make_spread();

// acc += Σ_i c[4l+i] * x[i] per dword lane l, x = four int8 at p broadcast to
// every lane. Inline asm so that the broadcast stays a memory operand and the
// accumulator is updated in place (GCC 12 copies it around the intrinsic).
inline void dpbusd_bcast(__m512i& acc, __m512i c, const int8_t* p) {
  asm("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(c), "m"(*reinterpret_cast<const int32_t*>(p)));
}

// The four code registers of one 64-byte block: c[j] holds, in dword lane r,
// the codes of row r for columns 4j..4j+3 of the block.
struct Codes {
  __m512i c0, c1, c2, c3;
};
inline Codes decode(const uint8_t* block) {
  const __m512i m3 = _mm512_set1_epi8(3);
  const __m512i v = _mm512_load_si512(block);
  return {_mm512_and_si512(v, m3), _mm512_and_si512(_mm512_srli_epi16(v, 2), m3),
          _mm512_and_si512(_mm512_srli_epi16(v, 4), m3), _mm512_and_si512(_mm512_srli_epi16(v, 6), m3)};
}

// y[t, r] = (acc - Σx[t]) / s[t] * w_scale for the group's rows selected by `store`.
inline void store_rows(__m512i acc, int32_t xsum, float s, __m512 w_scale, float* y, __mmask16 store) {
  acc = _mm512_sub_epi32(acc, _mm512_set1_epi32(xsum));
  _mm512_mask_storeu_ps(y, store, _mm512_mul_ps(_mm512_div_ps(_mm512_cvtepi32_ps(acc), _mm512_set1_ps(s)), w_scale));
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

size_t packed_bytes(int64_t n, int64_t k) { return size_t(row_groups(n) * col_blocks(k) * kBlockBytes); }

// flatten: CanonicalTernary's inline accessors are inlined here, never emitted
// as weak functions compiled for AVX-512.
[[gnu::flatten]] void repack(const CanonicalTernary& w, uint8_t* out) {
  const int64_t nkb = col_blocks(w.k), rb = w.row_bytes();
  for (int64_t g = 0; g < row_groups(w.n); ++g)
    for (int64_t r = 0; r < kRowGroup; ++r) {
      const int64_t row = g * kRowGroup + r;
      const uint8_t* src = row < w.n ? w.row(row) : nullptr;
      for (int64_t kb = 0; kb < nkb; ++kb) {
        uint32_t v = 0;
        for (int64_t j = 0; j < 4; ++j) {
          const int64_t b = 4 * kb + j;  // canonical byte: columns 4b..4b+3
          const uint8_t codes = (src && b < rb) ? src[b] : kZeroCodeByte;
          v |= kSpread.v[codes] << (2 * j);
        }
        std::memcpy(out + (g * nkb + kb) * kBlockBytes + 4 * r, &v, 4);
      }
    }
}

int code_at(const uint8_t* packed, int64_t /*n*/, int64_t k, int64_t r, int64_t i) {
  const int64_t g = r / kRowGroup, kb = i / kColBlock, c = i % kColBlock;
  const uint8_t b = packed[(g * col_blocks(k) + kb) * kBlockBytes + 4 * (r % kRowGroup) + c % 4];
  return (b >> (2 * (c / 4))) & 3;
}

void matmul(const MatmulArgs& a, int64_t n0, int64_t n1) {
  const int64_t nkb = col_blocks(a.k), kp = nkb * kColBlock, group_bytes = nkb * kBlockBytes;
  const __m512 w_scale = _mm512_set1_ps(a.w_scale);
  thread_local Scratch<int32_t> xsum_scratch;
  int32_t* xsum = xsum_scratch.get(size_t(a.t));
  for (int64_t t = 0; t < a.t; ++t) xsum[t] = row_sum(a.xq + t * a.k, a.k);

  if (a.t == 1) {
    // The activations are read in place, except for a zero-padded copy of the
    // last partial block, so nothing past k is read.
    thread_local Scratch<int8_t> xpad;
    const int8_t* x = a.xq;
    if (kp != a.k) {
      int8_t* p = xpad.get(size_t(kp));
      std::memset(p + a.k, 0, size_t(kp - a.k));
      std::memcpy(p, a.xq, size_t(a.k));
      x = p;
    }
    for (int64_t r0 = n0; r0 < n1; r0 += kRowGroup)
      gemv_group(a.packed + (r0 / kRowGroup) * group_bytes, nkb, x, xsum[0], a.s[0], w_scale, a.y + r0,
                 __mmask16((1u << std::min(kRowGroup, n1 - r0)) - 1u));
    return;
  }

  // Activations interleaved per tile of 16 tokens (see gemm_tile), zero past k
  // and past the last token.
  const int64_t tiles = (a.t + kMaxTile - 1) / kMaxTile, tile_bytes = nkb * 4 * kBlockBytes;
  thread_local Scratch<int8_t> xt_scratch;
  int8_t* xt = xt_scratch.get(size_t(tiles * tile_bytes));
  std::memset(xt, 0, size_t(tiles * tile_bytes));
  // Each 64 bytes of a token row are 16 four-byte groups, scattered 64 bytes apart.
  const __m512i group_offsets =
      _mm512_setr_epi32(0, 64, 128, 192, 256, 320, 384, 448, 512, 576, 640, 704, 768, 832, 896, 960);
  for (int64_t t = 0; t < a.t; ++t) {
    int8_t* dst = xt + (t / kMaxTile) * tile_bytes + 4 * (t % kMaxTile);
    const int8_t* src = a.xq + t * a.k;
    for (int64_t i = 0; i < a.k; i += 64) {
      const int64_t left = a.k - i;
      const __mmask64 bytes = tail64(left);
      const __m512i v = _mm512_maskz_loadu_epi8(bytes, src + i);
      _mm512_mask_i32scatter_epi32(dst + i * 16, tail16((left + 3) / 4), group_offsets, v, 1);
    }
  }
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

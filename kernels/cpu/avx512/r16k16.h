// Layout "r16k16" of the AVX-512 ternary matmuls (what repack writes for one
// part of [n, k]; repack_r16k16.cpp), and the helpers every kernel reading it
// shares, with internal linkage (see simd.h for why).
//
//   Rows are taken in groups of 16 (group g = rows 16g..16g+15), columns in blocks
//   of 16; one group is ceil(k/16) consecutive 64-byte blocks, groups follow each
//   other. In block (g, kb), byte 4r + i (r = 0..15, i = 0..3) holds, in bits
//   2j..2j+1 (j = 0..3), the code c = T + 1 of row 16g + r, column 16kb + 4j + i.
//   Rows past n and columns past k hold code 1 (a zero weight). Size:
//   ceil(n/16) * ceil(k/16) * 64 bytes, a multiple of 64, so every part and every
//   block starts 64-byte aligned.
//
// Why this layout: (v >> 2j) & 3 of one 64-byte load is, for every row r in
// dword lane r, the four unsigned codes of columns 16kb+4j .. 16kb+4j+3, which is
// exactly the unsigned operand of vpdpbusd (VNNI) or of vpmaddubsw (BW) against
// a broadcast of those four int8 activations. One load feeds 4 x 64
// multiply-adds, the stream is purely sequential, and no kernel needs shuffles.
#pragma once
#include "kernels/cpu/avx512/avx512_kernels.h"
#include "kernels/cpu/avx512/simd.h"

namespace bitlab::cpu::avx512 {
namespace {

inline constexpr int64_t kBlockBytes = 64;

inline int64_t col_blocks(int64_t k) { return (k + kColBlock - 1) / kColBlock; }
inline int64_t row_groups(int64_t n) { return (n + kRowGroup - 1) / kRowGroup; }

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

// y[t, r] = (acc - Σx[t]) / s[t] * w_scale for the group's rows selected by
// `store`: a division then a multiply (no FMA, no reciprocal), so y is
// bit-identical to ref::matmul_w2a8.
inline void store_rows(__m512i acc, int32_t xsum, float s, __m512 w_scale, float* y, __mmask16 store) {
  acc = _mm512_sub_epi32(acc, _mm512_set1_epi32(xsum));
  _mm512_mask_storeu_ps(y, store, _mm512_mul_ps(_mm512_div_ps(_mm512_cvtepi32_ps(acc), _mm512_set1_ps(s)), w_scale));
}

}  // namespace
}  // namespace bitlab::cpu::avx512

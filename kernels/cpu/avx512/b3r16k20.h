// Layout "b3r16k20" of the 1.6-bit AVX-512 ternary matmul (what repack_b3 writes
// for one part of [n, k]; repack_b3r16k20.cpp), and the helpers the kernels
// reading it share, with internal linkage (see simd.h for why).
//
//   Rows are taken in groups of 16 (group g = rows 16g..16g+15), columns in blocks
//   of 20; one group is ceil(k/20) consecutive 64-byte blocks, groups follow each
//   other. In block (g, kb), byte 4r + i (r = 0..15, i = 0..3) is the base-3 byte
//   (kernels/cpu/base3.h) of the five codes c = T + 1 of row 16g + r at columns
//   20kb + 4j + i, j = 0..4, digit j (j = 0 most significant) holding column
//   slice j. Rows past n and columns past k hold code 1 (a zero weight); a byte
//   wholly in the padding is base3::kZeroByte. Size:
//   ceil(n/16) * ceil(k/20) * 64 bytes, a multiple of 64, so every part and every
//   block starts 64-byte aligned. 5 weights per byte: 1.6 bits per weight.
//
// Why this layout: digit j of one 64-byte load is, for every row r in dword lane
// r, the four codes of columns 20kb+4j .. 20kb+4j+3, which is exactly the
// unsigned operand of vpdpbusd against a broadcast of those four int8
// activations, as in r16k16 (r16k16.h); the stream stays purely sequential.
// Digits come out of the byte by repeated multiplication by 3 (base3.h): with
// p0 = q and p_{j+1} = 3 p_j mod 256 (two byte adds), c_j = (3 p_j - p_{j+1}) / 256.
#pragma once
#include "kernels/cpu/avx512/avx512_kernels.h"
#include "kernels/cpu/avx512/simd.h"

namespace bitlab::cpu::avx512 {
namespace {

inline constexpr int64_t kB3BlockBytes = 64;
inline constexpr int kB3Digits = 5;  // column slices of 4 per block

inline int64_t b3_col_blocks(int64_t k) { return (k + kB3ColBlock - 1) / kB3ColBlock; }
inline int64_t b3_row_groups(int64_t n) { return (n + kRowGroup - 1) / kRowGroup; }

// 3 p mod 256 in every byte: the next digit's remainder.
inline __m512i times3(__m512i p) { return _mm512_add_epi8(_mm512_add_epi8(p, p), p); }

// The five code registers of one block: c[j] holds, in dword lane r, the codes
// of row r for columns 4j..4j+3 of the block. c_j = (3 p_j) >> 8, i.e. 1 where
// p_j >= 86 plus 1 where p_j >= 171 (3 * 86 = 258, 3 * 171 = 513).
inline void decode_b3(const uint8_t* block, __m512i (&c)[kB3Digits]) {
  const __m512i one = _mm512_set1_epi8(1), lo = _mm512_set1_epi8(86), hi = _mm512_set1_epi8(char(171));
  __m512i p = _mm512_load_si512(block);
  for (__m512i& cj : c) {
    const __m512i ge1 = _mm512_maskz_mov_epi8(_mm512_cmpge_epu8_mask(p, lo), one);
    cj = _mm512_mask_add_epi8(ge1, _mm512_cmpge_epu8_mask(p, hi), ge1, one);
    p = times3(p);
  }
}

}  // namespace
}  // namespace bitlab::cpu::avx512

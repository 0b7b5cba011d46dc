// Inner tiles of the NEON ternary matmul, Armv8-A baseline path
// (t2i8_matmul_r8c16__neon): no dot-product instruction, so each row's codes
// (v >> 2j) & 3 are multiplied with the activations by widening
// multiply-accumulate (SMLAL/SMLAL2, int8 x int8 -> int16 lanes) and the int16
// lanes are folded into int32 (SADALP) before they can overflow. Layout and
// driver: matmul_w2a8.cpp.
//
// Overflow bound: a product c * x lies in [-256, 254]; each int16 lane takes
// two products per 16-column block (SMLAL and SMLAL2 into one accumulator), so
// 64 blocks reach at most 128 * 256 = 32768 in magnitude on the negative side
// (-32768 fits) and 128 * 254 = 32512 on the positive side: fold every 64 blocks.
#include <arm_neon.h>

#include <algorithm>

#include "kernels/cpu/neon/matmul_tiles.h"

namespace bitlab::cpu::neon {
namespace {

constexpr int64_t kFoldBlocks = 64;

// The four rows of a group register: row j = (v >> 2j) & 3.
struct RowCodes {
  int8x16_t c0, c1, c2, c3;
};
inline RowCodes decode(uint8x16_t v) {
  const uint8x16_t m3 = vdupq_n_u8(3);
  return {vreinterpretq_s8_u8(vandq_u8(v, m3)), vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 2), m3)),
          vreinterpretq_s8_u8(vandq_u8(vshrq_n_u8(v, 4), m3)), vreinterpretq_s8_u8(vshrq_n_u8(v, 6))};
}

// acc (8 int16 lanes) += the 16 products c * x, two per lane.
inline int16x8_t mac16(int16x8_t acc, int8x16_t c, int8x16_t x) {
  return vmlal_high_s8(vmlal_s8(acc, vget_low_s8(c), vget_low_s8(x)), c, x);
}

// Row totals of four int32x4 accumulators: lane r = Σ lanes of acc r.
inline int32x4_t row_totals(int32x4_t a0, int32x4_t a1, int32x4_t a2, int32x4_t a3) {
  return vpaddq_s32(vpaddq_s32(a0, a1), vpaddq_s32(a2, a3));
}

template <int TB>
void gemm_group(const uint8_t* group, int64_t nkb, const int8_t* x, int64_t ldx, int32_t* sums) {
  int32x4_t wide[TB][4];
  for (int t = 0; t < TB; ++t)
    for (int r = 0; r < 4; ++r) wide[t][r] = vdupq_n_s32(0);
  for (int64_t c0 = 0; c0 < nkb; c0 += kFoldBlocks) {
    const int64_t c1 = std::min(nkb, c0 + kFoldBlocks);
    int16x8_t acc[TB][4];
#pragma GCC unroll 4
    for (int t = 0; t < TB; ++t)
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) acc[t][r] = vdupq_n_s16(0);
    for (int64_t kb = c0; kb < c1; ++kb) {
      const RowCodes c = decode(vld1q_u8(group + 32 * kb));
#pragma GCC unroll 4
      for (int t = 0; t < TB; ++t) {
        const int8x16_t xv = vld1q_s8(x + t * ldx + 16 * kb);
        acc[t][0] = mac16(acc[t][0], c.c0, xv);
        acc[t][1] = mac16(acc[t][1], c.c1, xv);
        acc[t][2] = mac16(acc[t][2], c.c2, xv);
        acc[t][3] = mac16(acc[t][3], c.c3, xv);
      }
    }
#pragma GCC unroll 4
    for (int t = 0; t < TB; ++t)
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) wide[t][r] = vpadalq_s16(wide[t][r], acc[t][r]);
  }
  for (int t = 0; t < TB; ++t) vst1q_s32(sums + 4 * t, row_totals(wide[t][0], wide[t][1], wide[t][2], wide[t][3]));
}

}  // namespace

void gemv_tile_baseline(const uint8_t* tile, int64_t nkb, const int8_t* x, int32_t* sums) {
  int32x4_t w0 = vdupq_n_s32(0), w1 = w0, w2 = w0, w3 = w0, w4 = w0, w5 = w0, w6 = w0, w7 = w0;
  for (int64_t c0 = 0; c0 < nkb; c0 += kFoldBlocks) {
    const int64_t c1 = std::min(nkb, c0 + kFoldBlocks);
    int16x8_t a0 = vdupq_n_s16(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    // One 16-column block: both groups' registers against one activation register.
    auto block = [&](uint8x16_t v0, uint8x16_t v1, int8x16_t xv) {
      const RowCodes lo = decode(v0), hi = decode(v1);
      a0 = mac16(a0, lo.c0, xv);
      a1 = mac16(a1, lo.c1, xv);
      a2 = mac16(a2, lo.c2, xv);
      a3 = mac16(a3, lo.c3, xv);
      a4 = mac16(a4, hi.c0, xv);
      a5 = mac16(a5, hi.c1, xv);
      a6 = mac16(a6, hi.c2, xv);
      a7 = mac16(a7, hi.c3, xv);
    };
    int64_t kb = c0;
    // Four blocks per step: 128 weight bytes and 64 activation bytes in three
    // four-register loads (LD1 {v.16b-v.16b}).
    for (; kb + 4 <= c1; kb += 4) {
      const uint8x16x4_t w01 = vld1q_u8_x4(tile + 32 * kb), w23 = vld1q_u8_x4(tile + 32 * kb + 64);
      const int8x16x4_t xv = vld1q_s8_x4(x + 16 * kb);
      block(w01.val[0], w01.val[1], xv.val[0]);
      block(w01.val[2], w01.val[3], xv.val[1]);
      block(w23.val[0], w23.val[1], xv.val[2]);
      block(w23.val[2], w23.val[3], xv.val[3]);
    }
    for (; kb < c1; ++kb) block(vld1q_u8(tile + 32 * kb), vld1q_u8(tile + 32 * kb + 16), vld1q_s8(x + 16 * kb));
    w0 = vpadalq_s16(w0, a0);
    w1 = vpadalq_s16(w1, a1);
    w2 = vpadalq_s16(w2, a2);
    w3 = vpadalq_s16(w3, a3);
    w4 = vpadalq_s16(w4, a4);
    w5 = vpadalq_s16(w5, a5);
    w6 = vpadalq_s16(w6, a6);
    w7 = vpadalq_s16(w7, a7);
  }
  vst1q_s32(sums, row_totals(w0, w1, w2, w3));
  vst1q_s32(sums + 4, row_totals(w4, w5, w6, w7));
}

void gemm_group_baseline(const uint8_t* group, int64_t nkb, const int8_t* x, int64_t ldx, int tb, int32_t* sums) {
  switch (tb) {
    case 1: return gemm_group<1>(group, nkb, x, ldx, sums);
    case 2: return gemm_group<2>(group, nkb, x, ldx, sums);
    case 3: return gemm_group<3>(group, nkb, x, ldx, sums);
    default: return gemm_group<4>(group, nkb, x, ldx, sums);
  }
}

}  // namespace bitlab::cpu::neon

// Inner tiles of the NEON ternary matmul, dot-product path
// (t2i8_matmul_r8c16__neondot). This file alone is compiled with
// -march=armv8.2-a+dotprod (kernels/cpu/CMakeLists.txt) and is only reached after
// probe_neon_backend found HWCAP_ASIMDDP. It includes nothing but arm_neon.h and
// the tile interface, and defines only non-inline functions, so no code built
// for +dotprod can be picked by the linker for a caller elsewhere.
//
// SDOT (vector form) adds, per int32 lane, the products of four int8 pairs: the
// lane's row sums four adjacent columns, and the four lanes are added at the
// end. Row j of a group register is taken as v & (3 << 2j) for j = 0..2 (4^j
// times the code, at most 32) and v >> 6 for j = 3: one instruction per row,
// and row j's total is shifted right by 2j at the end, which is exact. Layout
// and driver: matmul_w2a8.cpp.
//
// Overflow bound: per lane and 16-column block, row 2 adds four products of
// magnitude <= 16 * 2 * 128, i.e. <= 2^14; blocks are summed in chunks of 2^14
// (<= 2^28 per lane, <= 2^30 for the four lanes of a row) and then shifted, so
// nothing overflows for any k the int32 result itself can hold.
#include <arm_neon.h>

#include "kernels/cpu/neon/matmul_tiles.h"

namespace bitlab::cpu::neon {
namespace {

constexpr int64_t kChunkBlocks = int64_t(1) << 14;

struct RowPlanes {
  int8x16_t c0, c1, c2, c3;  // 1, 4, 16 and 1 times the codes of rows 0..3
};
inline RowPlanes planes(uint8x16_t v) {
  return {vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x03))), vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x0c))),
          vreinterpretq_s8_u8(vandq_u8(v, vdupq_n_u8(0x30))), vreinterpretq_s8_u8(vshrq_n_u8(v, 6))};
}

// Exact code sums of rows 0..3 from their scaled accumulators.
inline int32x4_t group_totals(int32x4_t a0, int32x4_t a1, int32x4_t a2, int32x4_t a3) {
  const int32x4_t scaled = vpaddq_s32(vpaddq_s32(a0, a1), vpaddq_s32(a2, a3));
  const int32_t shifts[4] = {0, -2, -4, 0};  // SSHL by a negative count: arithmetic shift right
  return vshlq_s32(scaled, vld1q_s32(shifts));
}

template <int TB>
void gemm_group(const uint8_t* group, int64_t nkb, const int8_t* x, int64_t ldx, int32_t* sums) {
  int32x4_t total[TB];
  for (int t = 0; t < TB; ++t) total[t] = vdupq_n_s32(0);
  for (int64_t c0 = 0; c0 < nkb; c0 += kChunkBlocks) {
    const int64_t c1 = nkb < c0 + kChunkBlocks ? nkb : c0 + kChunkBlocks;
    int32x4_t acc[TB][4];
#pragma GCC unroll 4
    for (int t = 0; t < TB; ++t)
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) acc[t][r] = vdupq_n_s32(0);
    for (int64_t kb = c0; kb < c1; ++kb) {
      const RowPlanes c = planes(vld1q_u8(group + 32 * kb));
#pragma GCC unroll 4
      for (int t = 0; t < TB; ++t) {
        const int8x16_t xv = vld1q_s8(x + t * ldx + 16 * kb);
        acc[t][0] = vdotq_s32(acc[t][0], c.c0, xv);
        acc[t][1] = vdotq_s32(acc[t][1], c.c1, xv);
        acc[t][2] = vdotq_s32(acc[t][2], c.c2, xv);
        acc[t][3] = vdotq_s32(acc[t][3], c.c3, xv);
      }
    }
#pragma GCC unroll 4
    for (int t = 0; t < TB; ++t)
      total[t] = vaddq_s32(total[t], group_totals(acc[t][0], acc[t][1], acc[t][2], acc[t][3]));
  }
  for (int t = 0; t < TB; ++t) vst1q_s32(sums + 4 * t, total[t]);
}

}  // namespace

void gemv_tile_dotprod(const uint8_t* tile, int64_t nkb, const int8_t* x, int32_t* sums) {
  int32x4_t lo = vdupq_n_s32(0), hi = lo;
  for (int64_t c0 = 0; c0 < nkb; c0 += kChunkBlocks) {
    const int64_t c1 = nkb < c0 + kChunkBlocks ? nkb : c0 + kChunkBlocks;
    int32x4_t a0 = vdupq_n_s32(0), a1 = a0, a2 = a0, a3 = a0, a4 = a0, a5 = a0, a6 = a0, a7 = a0;
    // One 16-column block: both groups' registers against one activation register.
    auto block = [&](uint8x16_t v0, uint8x16_t v1, int8x16_t xv) {
      const RowPlanes g0 = planes(v0), g1 = planes(v1);
      a0 = vdotq_s32(a0, g0.c0, xv);
      a1 = vdotq_s32(a1, g0.c1, xv);
      a2 = vdotq_s32(a2, g0.c2, xv);
      a3 = vdotq_s32(a3, g0.c3, xv);
      a4 = vdotq_s32(a4, g1.c0, xv);
      a5 = vdotq_s32(a5, g1.c1, xv);
      a6 = vdotq_s32(a6, g1.c2, xv);
      a7 = vdotq_s32(a7, g1.c3, xv);
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
    lo = vaddq_s32(lo, group_totals(a0, a1, a2, a3));
    hi = vaddq_s32(hi, group_totals(a4, a5, a6, a7));
  }
  vst1q_s32(sums, lo);
  vst1q_s32(sums + 4, hi);
}

void gemm_group_dotprod(const uint8_t* group, int64_t nkb, const int8_t* x, int64_t ldx, int tb, int32_t* sums) {
  switch (tb) {
    case 1: return gemm_group<1>(group, nkb, x, ldx, sums);
    case 2: return gemm_group<2>(group, nkb, x, ldx, sums);
    case 3: return gemm_group<3>(group, nkb, x, ldx, sums);
    default: return gemm_group<4>(group, nkb, x, ldx, sums);
  }
}

}  // namespace bitlab::cpu::neon

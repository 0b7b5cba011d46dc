// Inner tile of the NEON 1.6-bit ternary matmul, Armv8-A baseline path
// (t1p6i8_matmul_r4c80__neon): the dot-product path's decoding (one byte
// multiply and two compares per 16 codes give -c, matmul_b3_dotprod.cpp), then
// widening multiply-accumulate (SMLAL/SMLAL2, int8 x int8 -> int16 lanes),
// folded into int32 (SADALP) before the int16 lanes can overflow.
//
// Overflow bound: a product -c * x lies in [-254, 256]; each int16 lane takes
// two products per digit plane, ten per 80-column block, so 12 blocks reach at
// most 120 * 256 = 30720 < 32767 in magnitude: fold every 12 blocks.
#include <arm_neon.h>

#include <algorithm>

#include "kernels/cpu/neon/matmul_b3_tiles.h"

namespace bitlab::cpu::neon {
namespace {

constexpr int64_t kFoldBlocks = 12;

inline int8x16_t neg_codes(uint8x16_t p) {
  return vreinterpretq_s8_u8(vaddq_u8(vcgeq_u8(p, vdupq_n_u8(86)), vcgeq_u8(p, vdupq_n_u8(171))));
}

struct Planes {
  int8x16_t d[5];  // -c of columns 16j .. 16j + 15 of the block, j = 0..4
};
inline Planes decode(uint8x16_t q) {
  return {{neg_codes(q), neg_codes(vmulq_u8(q, vdupq_n_u8(3))), neg_codes(vmulq_u8(q, vdupq_n_u8(9))),
           neg_codes(vmulq_u8(q, vdupq_n_u8(27))), neg_codes(vmulq_u8(q, vdupq_n_u8(81)))}};
}

// acc (8 int16 lanes) += the 16 products c * x, two per lane.
inline int16x8_t mac16(int16x8_t acc, int8x16_t c, int8x16_t x) {
  return vmlal_high_s8(vmlal_s8(acc, vget_low_s8(c), vget_low_s8(x)), c, x);
}

template <int TB>
void tile(const uint8_t* w, int64_t nkb, const int8_t* x, int64_t ldx, int32_t* sums) {
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
      const uint8_t* block = w + 64 * kb;
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) {
        const Planes c = decode(vld1q_u8(block + 16 * r));
#pragma GCC unroll 4
        for (int t = 0; t < TB; ++t) {
          const int8_t* xt = x + t * ldx + 80 * kb;
#pragma GCC unroll 5
          for (int j = 0; j < 5; ++j) acc[t][r] = mac16(acc[t][r], c.d[j], vld1q_s8(xt + 16 * j));
        }
      }
    }
#pragma GCC unroll 4
    for (int t = 0; t < TB; ++t)
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) wide[t][r] = vpadalq_s16(wide[t][r], acc[t][r]);
  }
  for (int t = 0; t < TB; ++t) {
    const int32x4_t neg = vpaddq_s32(vpaddq_s32(wide[t][0], wide[t][1]), vpaddq_s32(wide[t][2], wide[t][3]));
    vst1q_s32(sums + 4 * t, vnegq_s32(neg));
  }
}

}  // namespace

void b3_tile_baseline(const uint8_t* w, int64_t nkb, const int8_t* x, int64_t ldx, int tb, int32_t* sums) {
  switch (tb) {
    case 1: return tile<1>(w, nkb, x, ldx, sums);
    case 2: return tile<2>(w, nkb, x, ldx, sums);
    case 3: return tile<3>(w, nkb, x, ldx, sums);
    default: return tile<4>(w, nkb, x, ldx, sums);
  }
}

}  // namespace bitlab::cpu::neon

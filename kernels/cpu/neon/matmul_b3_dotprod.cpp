// Inner tile of the NEON 1.6-bit ternary matmul, dot-product path
// (t1p6i8_matmul_r4c80__neondot). Compiled alone with -march=armv8.2-a+dotprod
// (kernels/cpu/CMakeLists.txt) and reached only where the CPU reports
// HWCAP_ASIMDDP; it includes nothing but arm_neon.h and the tile interface and
// defines only non-inline functions outside its anonymous namespace.
//
// Decoding (kernels/cpu/base3.h): digit j of a byte q is (3 p_j) >> 8 with
// p_j = 3^j q mod 256, which one byte multiply (MUL by 1, 3, 9, 27, 81, each
// independent of the others) gives. (3p) >> 8 is 1 for p >= 86 and 2 for
// p >= 171, so two unsigned compares, each all-ones (-1 as int8) when true,
// added give -c in {0, -1, -2}: four instructions per 16 codes, no shifts or
// tables. SDOT adds -c * x per lane, and the row's sum is negated at the end.
//
// Overflow bound: |c * x| <= 256, so a lane's partial sum is bounded by 256
// times the columns it covers, and the four lanes' total by 256 * 80 * nkb:
// exact in int32 for every k the reference's own int32 sum can hold.
#include <arm_neon.h>

#include "kernels/cpu/neon/matmul_b3_tiles.h"

namespace bitlab::cpu::neon {
namespace {

// -c for the 16 codes of digit plane p (p = 3^j q mod 256).
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

template <int TB>
void tile(const uint8_t* w, int64_t nkb, const int8_t* x, int64_t ldx, int32_t* sums) {
  int32x4_t acc[TB][4];
#pragma GCC unroll 4
  for (int t = 0; t < TB; ++t)
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) acc[t][r] = vdupq_n_s32(0);
  for (int64_t kb = 0; kb < nkb; ++kb) {
    const uint8_t* block = w + 64 * kb;
#pragma GCC unroll 4
    for (int r = 0; r < 4; ++r) {
      const Planes c = decode(vld1q_u8(block + 16 * r));
#pragma GCC unroll 4
      for (int t = 0; t < TB; ++t) {
        const int8_t* xt = x + t * ldx + 80 * kb;
#pragma GCC unroll 5
        for (int j = 0; j < 5; ++j) acc[t][r] = vdotq_s32(acc[t][r], c.d[j], vld1q_s8(xt + 16 * j));
      }
    }
  }
#pragma GCC unroll 4
  for (int t = 0; t < TB; ++t) {
    const int32x4_t neg = vpaddq_s32(vpaddq_s32(acc[t][0], acc[t][1]), vpaddq_s32(acc[t][2], acc[t][3]));
    vst1q_s32(sums + 4 * t, vnegq_s32(neg));
  }
}

}  // namespace

void b3_tile_dotprod(const uint8_t* w, int64_t nkb, const int8_t* x, int64_t ldx, int tb, int32_t* sums) {
  switch (tb) {
    case 1: return tile<1>(w, nkb, x, ldx, sums);
    case 2: return tile<2>(w, nkb, x, ldx, sums);
    case 3: return tile<3>(w, nkb, x, ldx, sums);
    default: return tile<4>(w, nkb, x, ldx, sums);
  }
}

}  // namespace bitlab::cpu::neon

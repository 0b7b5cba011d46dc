// Inner tile of the NEON 1.6-bit ternary matmul, dot-product path
// (t1p6i8_matmul_r4c80__neondot). Compiled alone with -march=armv8.2-a+dotprod
// (kernels/cpu/CMakeLists.txt) and reached only where the CPU reports
// HWCAP_ASIMDDP; it includes nothing but arm_neon.h and the tile interface and
// defines only non-inline functions outside its anonymous namespace.
//
// No digit is extracted: the linear identity of kernels/cpu/base3.h,
// 256 c_j = 3 p_j - p_{j+1} with p_j = 3^j q mod 256, turns each code into two
// byte planes that SDOT multiplies directly. SDOT is signed, so the planes are
// taken as p'_j = p_j - 128 (the byte XOR 0x80; since 3^j is odd,
// p'_j = 3^j (q XOR 0x80) mod 256, one XOR per register), and
//   3 p'_j - p'_{j+1} = 3 p_j - p_{j+1} - 256 = 256 (c_j - 1) = 256 T_j.
// With A = Σ_j SDOT(p'_j, x_j) and B = Σ_j SDOT(p'_{j+1}, x_j) (j = 0..4, x_j
// the activations of columns 16j..16j+15 of the block), 3A - B is 256 times
// the signed dot product T·x in every int32 lane (a lane holds whole bytes), so
// an arithmetic shift right by 8 is exact. Per 16 bytes (80 weights) of a row:
// one XOR, five byte multiplies, ten SDOT; no compares, no Σx correction.
//
// Overflow bound: NEON integer lanes wrap, so A and B may wrap freely; only
// 3A - B must fit int32, and it is 256 times a lane's share of T·x, at most
// 256 * 128 * 20 columns per block. Chunks of 2048 blocks keep it below
// 2^28 * 5 < 2^31; each chunk's lanes are shifted and added to the row's
// total, which holds at most 128 * k, as the reference's int32 sum does.
#include <arm_neon.h>

#include "kernels/cpu/neon/matmul_b3_tiles.h"

namespace bitlab::cpu::neon {
namespace {

constexpr int64_t kChunkBlocks = 2048;

struct Planes {
  int8x16_t p[6];  // p'_0 .. p'_5 of one 16-byte register
};
inline Planes planes(uint8x16_t q) {
  const uint8x16_t s = veorq_u8(q, vdupq_n_u8(0x80));
  return {{vreinterpretq_s8_u8(s), vreinterpretq_s8_u8(vmulq_u8(s, vdupq_n_u8(3))),
           vreinterpretq_s8_u8(vmulq_u8(s, vdupq_n_u8(9))), vreinterpretq_s8_u8(vmulq_u8(s, vdupq_n_u8(27))),
           vreinterpretq_s8_u8(vmulq_u8(s, vdupq_n_u8(81))), vreinterpretq_s8_u8(vmulq_u8(s, vdupq_n_u8(243)))}};
}

// (3A - B) / 256 per lane, exact.
inline int32x4_t lane_dots(int32x4_t a, int32x4_t b) {
  return vshrq_n_s32(vsubq_s32(vmulq_n_s32(a, 3), b), 8);
}

template <int TB>
void tile(const uint8_t* w, int64_t nkb, const int8_t* x, int64_t ldx, int32_t* sums) {
  int32x4_t total[TB][4];
  for (int t = 0; t < TB; ++t)
    for (int r = 0; r < 4; ++r) total[t][r] = vdupq_n_s32(0);
  for (int64_t c0 = 0; c0 < nkb; c0 += kChunkBlocks) {
    const int64_t c1 = nkb < c0 + kChunkBlocks ? nkb : c0 + kChunkBlocks;
    int32x4_t a[TB][4], b[TB][4];
#pragma GCC unroll 4
    for (int t = 0; t < TB; ++t)
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) a[t][r] = b[t][r] = vdupq_n_s32(0);
    for (int64_t kb = c0; kb < c1; ++kb) {
      const uint8_t* block = w + 64 * kb;
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) {
        const Planes c = planes(vld1q_u8(block + 16 * r));
#pragma GCC unroll 4
        for (int t = 0; t < TB; ++t) {
          const int8_t* xt = x + t * ldx + 80 * kb;
#pragma GCC unroll 5
          for (int j = 0; j < 5; ++j) {
            const int8x16_t xv = vld1q_s8(xt + 16 * j);
            a[t][r] = vdotq_s32(a[t][r], c.p[j], xv);
            b[t][r] = vdotq_s32(b[t][r], c.p[j + 1], xv);
          }
        }
      }
    }
#pragma GCC unroll 4
    for (int t = 0; t < TB; ++t)
#pragma GCC unroll 4
      for (int r = 0; r < 4; ++r) total[t][r] = vaddq_s32(total[t][r], lane_dots(a[t][r], b[t][r]));
  }
  for (int t = 0; t < TB; ++t)
    vst1q_s32(sums + 4 * t,
              vpaddq_s32(vpaddq_s32(total[t][0], total[t][1]), vpaddq_s32(total[t][2], total[t][3])));
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

// Ternary x int8 matmul for AVX-512 CPUs without VNNI
// (t2i8_matmul_r16k16__avx512bw): Skylake-SP/X and Cascade Lake's AVX-512
// predecessors run the avx512 backend with this as their default matmul, and
// on a VNNI CPU it is a pinnable variant to measure what VNNI buys. Built with
// AVX-512 F/BW/VL/DQ only (no -mavx512vnni), so it cannot execute a VNNI
// instruction by accident.
//
// Same layout as the VNNI kernel (r16k16.h, repacked by repack_r16k16.cpp), same
// arithmetic without vpdpbusd: per code register,
//   vpmaddubsw(c, x4)  u8 codes x int8 activations, adjacent pairs -> int16;
// then the four registers of a block are added in int16 and
//   vpmaddwd(sum, 1)   adjacent int16 pairs -> int32, added to the accumulator.
// With c = T + 1 in {0, 1, 2} and |x| <= 127 (quantize_act's range; padding is
// 0), a pair is at most 2 * 2 * 127 = 508 in magnitude and a block's four
// registers 2032, far from int16's saturation at 32767, so every sum is exact
// and acc equals the VNNI kernel's (and the reference's) int32 sum.
//
// Paths: one for every t. Per 16-row group, each token passes over the group's
// weights while they sit in L1/L2 (10 KB at k = 2560, 27 KB at 6912), so the
// weights come from DRAM once per call whatever t is. Tuned for t = 1 (decode,
// bandwidth-bound at the 2B4T shapes); prefill decodes each block once per token
// (no GEMM tiling as in the VNNI kernel): the worked example of a variant, not
// the fastest GEMM.
//
// Epilogue: store_rows (r16k16.h), y = float(acc - Σx) / s[t] * w_scale, as the
// reference.
#include <algorithm>
#include <cstring>

#include "kernels/cpu/avx512/avx512_kernels.h"
#include "kernels/cpu/avx512/r16k16.h"
#include "kernels/cpu/avx512/simd.h"

namespace bitlab::cpu::avx512 {
namespace {

// Σ_i c[4l+i] * x[i] per dword lane l as int16 pairs: x = four int8 at p,
// broadcast to every lane.
inline __m512i pair_products(__m512i c, const int8_t* p) {
  int32_t x4;
  std::memcpy(&x4, p, 4);
  return _mm512_maddubs_epi16(c, _mm512_set1_epi32(x4));
}

// One token, one 16-row group over all column blocks; x zero-padded to 16 * nkb.
// Two accumulators alternate between blocks, so vpmaddwd/vpaddd latency is
// hidden behind the next block's loads.
void gemv_group_bw(const uint8_t* w, int64_t nkb, const int8_t* x, int32_t xsum, float s, __m512 w_scale, float* y,
                   __mmask16 store) {
  const __m512i ones16 = _mm512_set1_epi16(1);
  __m512i acc[2] = {_mm512_setzero_si512(), _mm512_setzero_si512()};
  for (int64_t kb = 0; kb < nkb; ++kb) {
    const Codes c = decode(w + kb * kBlockBytes);
    const int8_t* xk = x + kb * kColBlock;
    const __m512i p = _mm512_add_epi16(_mm512_add_epi16(pair_products(c.c0, xk), pair_products(c.c1, xk + 4)),
                                       _mm512_add_epi16(pair_products(c.c2, xk + 8), pair_products(c.c3, xk + 12)));
    acc[kb & 1] = _mm512_add_epi32(acc[kb & 1], _mm512_madd_epi16(p, ones16));
  }
  store_rows(_mm512_add_epi32(acc[0], acc[1]), xsum, s, w_scale, y, store);
}

}  // namespace

void matmul_bw(const MatmulArgs& a, int64_t n0, int64_t n1) {
  const int64_t nkb = col_blocks(a.k), kp = nkb * kColBlock, group_bytes = nkb * kBlockBytes;
  const __m512 w_scale = _mm512_set1_ps(a.w_scale);
  thread_local Scratch<int32_t> xsum_scratch;
  int32_t* xsum = xsum_scratch.get(size_t(a.t));
  for (int64_t t = 0; t < a.t; ++t) xsum[t] = row_sum(a.xq + t * a.k, a.k);

  // Rows of x zero-padded to kp columns, so the kernel never reads past k; read
  // in place when k is already a multiple of 16.
  const int8_t* x = a.xq;
  if (kp != a.k) {
    thread_local Scratch<int8_t> xpad;
    int8_t* p = xpad.get(size_t(a.t * kp));
    for (int64_t t = 0; t < a.t; ++t) {
      std::memcpy(p + t * kp, a.xq + t * a.k, size_t(a.k));
      std::memset(p + t * kp + a.k, 0, size_t(kp - a.k));
    }
    x = p;
  }
  for (int64_t r0 = n0; r0 < n1; r0 += kRowGroup) {
    const auto store = __mmask16((1u << std::min(kRowGroup, n1 - r0)) - 1u);
    const uint8_t* w = a.packed + (r0 / kRowGroup) * group_bytes;
    for (int64_t t = 0; t < a.t; ++t)
      gemv_group_bw(w, nkb, x + t * kp, xsum[t], a.s[t], w_scale, a.y + t * a.ldy + r0, store);
  }
}

}  // namespace bitlab::cpu::avx512

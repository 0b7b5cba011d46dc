// The int8 tied LM head (ops.h HeadTable): logits = float(Σ q·xq) / s_x / s_v,
// bit-exact with the reference since the sum is an exact int32 and the two
// divisions are IEEE (div.rn; all .cu files build with -fmad=false).
//
//   lm_head_i8_rows<true>    one warp per vocabulary row: lanes stream the row
//                            in 16-byte chunks (16 codes; streaming hint) and
//                            reuse each chunk for up to 4 tokens, four dp4a a
//                            token; needs d % 16 == 0 and 16-byte aligned rows
//   lm_head_i8_rows<false>   any width or alignment: four bytes per lane and
//                            step, one dp4a
// Both are signed x signed, so no offset is needed (unlike the CPU's vpdpbusd).
// Tuned for 2B4T decode: 128256 rows x 2560 (328 MB of int8 plus 0.5 MB of
// scales per token, half the bf16 head's read).
#include "kernels/cuda/device_common.cuh"

namespace bitlab::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kTokensPerPass = 4;

__device__ __forceinline__ uint32_t load_s8x4(const int8_t* p, int64_t i, int64_t end) {
  uint32_t w = 0;
#pragma unroll
  for (int b = 0; b < 4; ++b)
    if (i + b < end) w |= uint32_t(uint8_t(p[i + b])) << (8 * b);
  return w;
}

template <bool Vec>
__global__ void __launch_bounds__(kThreads) lm_head_i8_rows(LmHeadI8Args a) {
  enter_kernel();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t d = a.d;
  for (int64_t v = int64_t(blockIdx.x) * kWarps + warp; v < a.vocab; v += int64_t(gridDim.x) * kWarps) {
    const int8_t* row = a.table + v * d;
    for (int64_t t0 = 0; t0 < a.t; t0 += kTokensPerPass) {
      const int nt = int(min64(kTokensPerPass, a.t - t0));
      int32_t acc[kTokensPerPass] = {};
      if constexpr (Vec) {
#pragma unroll 4
        for (int64_t c = lane; c < d / 16; c += 32) {
          const uint4 w = __ldcs(reinterpret_cast<const uint4*>(row) + c);
#pragma unroll
          for (int tt = 0; tt < kTokensPerPass; ++tt) {
            if (tt >= nt) break;
            const uint4 x = __ldg(reinterpret_cast<const uint4*>(a.x + (t0 + tt) * d) + c);
            int32_t s = acc[tt];
            s = __dp4a(int(w.x), int(x.x), s);
            s = __dp4a(int(w.y), int(x.y), s);
            s = __dp4a(int(w.z), int(x.z), s);
            s = __dp4a(int(w.w), int(x.w), s);
            acc[tt] = s;
          }
        }
      } else {
        for (int64_t i = 4 * int64_t(lane); i < d; i += 4 * 32) {
          const uint32_t w = load_s8x4(row, i, d);
#pragma unroll
          for (int tt = 0; tt < kTokensPerPass; ++tt)
            if (tt < nt) acc[tt] = __dp4a(int(w), int(load_s8x4(a.x + (t0 + tt) * d, i, d)), acc[tt]);
        }
      }
#pragma unroll
      for (int tt = 0; tt < kTokensPerPass; ++tt) {
        const int32_t sum = warp_reduce(acc[tt], SumOp{});  // exact: any order gives the same int32
        if (lane == 0 && tt < nt) {
          const int64_t r = t0 + tt;
          a.logits[r * a.vocab + v] = __fdiv_rn(__fdiv_rn(__int2float_rn(sum), a.s_x[r]), a.s_v[v]);
        }
      }
    }
  }
}

}  // namespace

void launch_lm_head_i8(const LmHeadI8Args& a, const LaunchTarget& to) {
  if (a.t == 0 || a.vocab == 0) return;
  const bool vec = a.d % 16 == 0 && aligned16(a.table) && aligned16(a.x);
  const unsigned blocks = blocks_for(a.vocab, kWarps);
  if (vec)
    launch_kernel(to, "lm_head_i8_rows", lm_head_i8_rows<true>, blocks, kThreads, 0, a);
  else
    launch_kernel(to, "lm_head_i8_rows", lm_head_i8_rows<false>, blocks, kThreads, 0, a);
}

}  // namespace bitlab::cuda

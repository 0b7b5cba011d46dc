// The tied LM head (bf16 embedding table as the output matrix) and argmax.
//
//   lm_head_rows<true>    one warp per vocabulary row: lanes stream the row in
//                         16-byte chunks (8 bf16), streaming hint, and reuse each
//                         chunk for up to 4 tokens per pass; fp32 FMA chains,
//                         lane sums reduced in a fixed butterfly (lane 0 writes)
//   lm_head_rows<false>   any width or alignment: one element per lane and step
//   argmax_partial/final  each block keeps the best (value, index) of its slice
//                         as one 64-bit key that orders by value, then by lowest
//                         index (NaN below every number); a second tiny kernel
//                         takes the best of the blocks. No atomics: same answer
//                         every run.
// Tuned for 2B4T decode: 128256 rows x 2560 (656 MB of bf16 per token), the
// largest read of a decode step; a row's sum does not depend on the token count.
#include "kernels/cuda/device_common.cuh"

namespace bitlab::cuda {
namespace {

constexpr int kHeadThreads = 256;
constexpr int kHeadWarps = kHeadThreads / 32;
constexpr int kTokensPerPass = 4;
constexpr int kArgmaxThreads = 256;

template <bool Vec>
__global__ void __launch_bounds__(kHeadThreads) lm_head_rows(LmHeadArgs a) {
  enter_kernel();
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t d = a.d;
  for (int64_t v = int64_t(blockIdx.x) * kHeadWarps + warp; v < a.vocab; v += int64_t(gridDim.x) * kHeadWarps) {
    for (int64_t t0 = 0; t0 < a.t; t0 += kTokensPerPass) {
      const int nt = int(min64(kTokensPerPass, a.t - t0));
      float acc[kTokensPerPass] = {};
      if constexpr (Vec) {
        const uint4* row = reinterpret_cast<const uint4*>(a.table + v * d);
#pragma unroll 4
        for (int64_t c = lane; c < d / 8; c += 32) {
          const uint4 w = __ldcs(row + c);
          const float wf[8] = {__uint_as_float(w.x << 16), __uint_as_float(w.x & 0xffff0000u),
                               __uint_as_float(w.y << 16), __uint_as_float(w.y & 0xffff0000u),
                               __uint_as_float(w.z << 16), __uint_as_float(w.z & 0xffff0000u),
                               __uint_as_float(w.w << 16), __uint_as_float(w.w & 0xffff0000u)};
#pragma unroll
          for (int tt = 0; tt < kTokensPerPass; ++tt) {
            if (tt >= nt) break;
            const float4* xp = reinterpret_cast<const float4*>(a.x + (t0 + tt) * d) + 2 * c;
            const float4 x0 = __ldg(xp), x1 = __ldg(xp + 1);
            float s = acc[tt];
            s = fmaf(x0.x, wf[0], s);
            s = fmaf(x0.y, wf[1], s);
            s = fmaf(x0.z, wf[2], s);
            s = fmaf(x0.w, wf[3], s);
            s = fmaf(x1.x, wf[4], s);
            s = fmaf(x1.y, wf[5], s);
            s = fmaf(x1.z, wf[6], s);
            s = fmaf(x1.w, wf[7], s);
            acc[tt] = s;
          }
        }
      } else {
        const uint16_t* row = a.table + v * d;
        for (int64_t i = lane; i < d; i += 32) {
          const float w = bf16_bits_to_float(row[i]);
#pragma unroll
          for (int tt = 0; tt < kTokensPerPass; ++tt)
            if (tt < nt) acc[tt] = fmaf(a.x[(t0 + tt) * d + i], w, acc[tt]);
        }
      }
#pragma unroll
      for (int tt = 0; tt < kTokensPerPass; ++tt) {
        const float sum = warp_reduce(acc[tt], SumOp{});
        if (lane == 0 && tt < nt) a.logits[(t0 + tt) * a.vocab + v] = sum;
      }
    }
  }
}

// Orders by value (−0 ties +0), then by lowest index; NaN sorts below -inf,
// and among NaNs the last one wins, as in the reference's scan.
__device__ __forceinline__ uint64_t argmax_key(float x, int64_t i) {
  if (isnan(x)) return uint64_t(uint32_t(i));
  if (x == 0.0f) x = 0.0f;
  uint32_t u = __float_as_uint(x);
  u = (u & 0x80000000u) ? ~u : (u | 0x80000000u);
  return (uint64_t(u) << 32) | uint64_t(0xffffffffu - uint32_t(i));
}
__device__ __forceinline__ int32_t argmax_index(uint64_t key) {
  const uint32_t hi = uint32_t(key >> 32), lo = uint32_t(key);
  return int32_t(hi == 0 ? lo : 0xffffffffu - lo);
}
struct KeyMax {
  __device__ __forceinline__ uint64_t operator()(uint64_t a, uint64_t b) const { return a > b ? a : b; }
};

__global__ void __launch_bounds__(kArgmaxThreads) argmax_partial(ArgmaxArgs a) {
  enter_kernel();
  __shared__ uint64_t scratch[32];
  const int64_t r = blockIdx.x, b = blockIdx.y;  // rows on x: gridDim.y stops at 65535
  const int64_t per = (a.v + a.blocks - 1) / a.blocks;
  const int64_t begin = b * per, end = min64(a.v, begin + per);
  const float* row = a.logits + r * a.v;
  uint64_t best = 0;
  for (int64_t i = begin + threadIdx.x; i < end; i += kArgmaxThreads) {
    const uint64_t k = argmax_key(row[i], i);
    best = k > best ? k : best;
  }
  best = block_reduce(best, scratch, KeyMax{});
  if (threadIdx.x == 0) a.partial[r * a.blocks + b] = best;
}

__global__ void argmax_final(ArgmaxArgs a) {
  enter_kernel();
  const int64_t r = blockIdx.x;
  uint64_t best = 0;
  for (int b = threadIdx.x; b < a.blocks; b += 32) {
    const uint64_t k = a.partial[r * a.blocks + b];
    best = k > best ? k : best;
  }
  best = warp_reduce(best, KeyMax{});
  if (threadIdx.x == 0) a.ids[r] = argmax_index(best);
}

}  // namespace

void launch_lm_head(const LmHeadArgs& a, const LaunchTarget& to) {
  if (a.t == 0 || a.vocab == 0) return;
  const bool vec = a.d % 8 == 0 && aligned16(a.table) && aligned16(a.x);
  const unsigned blocks = blocks_for(a.vocab, kHeadWarps);
  if (vec)
    launch_kernel(to, "lm_head_rows", lm_head_rows<true>, blocks, kHeadThreads, 0, a);
  else
    launch_kernel(to, "lm_head_rows", lm_head_rows<false>, blocks, kHeadThreads, 0, a);
}

int argmax_blocks(int64_t v) {
  const int64_t b = (v + 8191) / 8192;
  return int(b < 1 ? 1 : (b > 64 ? 64 : b));
}

void launch_argmax(const ArgmaxArgs& a, const LaunchTarget& to) {
  if (a.t == 0) return;
  launch_kernel(to, "argmax_partial", argmax_partial, dim3(unsigned(a.t), unsigned(a.blocks)), kArgmaxThreads, 0, a);
  launch_kernel(to, "argmax_final", argmax_final, unsigned(a.t), 32, 0, a);
}

}  // namespace bitlab::cuda

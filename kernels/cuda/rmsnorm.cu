// RMSNorm, int8 activation quantisation, and the two fused (rmsnorm_quant).
// One block of kRowThreads threads per token row, for every row count, so a
// row's result never depends on how many rows came with it (prefill and decode
// give the same bits).
//
//   rmsnorm_rows<false>   y = x / sqrt(mean(x^2) + eps) * w, in double like the
//                         reference, rounded to fp32 once
//   rmsnorm_rows<true>    the same normed values, never stored: their absmax,
//                         then q = quantize(value, s) — exactly what rmsnorm
//                         followed by quantize_act gives on this backend
//   quantize_rows         s = 127 / max(absmax, 1e-5) (IEEE division),
//                         q = clamp(rint(x * s), -128, 127), round half to even
// Tuned for d = 2560 and 6912: 256 threads, 10-27 elements each; the row is
// read three times (sum of squares, absmax, output), from L1/L2 after the first.
#include "kernels/cuda/device_common.cuh"

namespace bitlab::cuda {
namespace {

constexpr int kRowThreads = 256;

__device__ __forceinline__ float act_scale(float absmax) { return __fdiv_rn(127.0f, fmaxf(absmax, 1e-5f)); }

__device__ __forceinline__ int8_t quantize_one(float x, float s) {
  const float r = rintf(__fmul_rn(x, s));
  return int8_t(fminf(fmaxf(r, -128.0f), 127.0f));
}

template <bool Quantize>
__global__ void __launch_bounds__(kRowThreads) rmsnorm_rows(RmsnormArgs a) {
  __shared__ double dscratch[32];
  __shared__ float fscratch[32];
  const int64_t r = blockIdx.x, d = a.d;
  const float* x = a.x + r * d;
  double sum_sq = 0.0;
  for (int64_t i = threadIdx.x; i < d; i += kRowThreads) sum_sq = __dadd_rn(sum_sq, __dmul_rn(double(x[i]), x[i]));
  sum_sq = block_reduce(sum_sq, dscratch, SumOp{});
  const double inv_rms = 1.0 / sqrt(sum_sq / double(d) + double(a.eps));
  auto normed = [&](int64_t i) { return __double2float_rn(__dmul_rn(__dmul_rn(double(x[i]), inv_rms), a.w[i])); };
  if constexpr (!Quantize) {
    for (int64_t i = threadIdx.x; i < d; i += kRowThreads) a.y[r * d + i] = normed(i);
  } else {
    float absmax = 0.0f;
    for (int64_t i = threadIdx.x; i < d; i += kRowThreads) absmax = fmaxf(absmax, fabsf(normed(i)));
    absmax = block_reduce(absmax, fscratch, MaxOp{});
    const float s = act_scale(absmax);
    for (int64_t i = threadIdx.x; i < d; i += kRowThreads) a.q[r * d + i] = quantize_one(normed(i), s);
    if (threadIdx.x == 0) a.s[r] = s;
  }
}

__global__ void __launch_bounds__(kRowThreads) quantize_rows(QuantizeArgs a) {
  __shared__ float fscratch[32];
  const int64_t r = blockIdx.x, k = a.k;
  const float* x = a.x + r * k;
  float absmax = 0.0f;
  for (int64_t i = threadIdx.x; i < k; i += kRowThreads) absmax = fmaxf(absmax, fabsf(x[i]));
  absmax = block_reduce(absmax, fscratch, MaxOp{});
  const float s = act_scale(absmax);
  for (int64_t i = threadIdx.x; i < k; i += kRowThreads) a.q[r * k + i] = quantize_one(x[i], s);
  if (threadIdx.x == 0) a.s[r] = s;
}

}  // namespace

void launch_rmsnorm(const RmsnormArgs& a, cudaStream_t s) {
  if (a.t == 0) return;
  if (a.q) {
    rmsnorm_rows<true><<<unsigned(a.t), kRowThreads, 0, s>>>(a);
    check_launch("rmsnorm_rows<quantize>");
  } else {
    rmsnorm_rows<false><<<unsigned(a.t), kRowThreads, 0, s>>>(a);
    check_launch("rmsnorm_rows");
  }
}

void launch_quantize(const QuantizeArgs& a, cudaStream_t s) {
  if (a.t == 0) return;
  quantize_rows<<<unsigned(a.t), kRowThreads, 0, s>>>(a);
  check_launch("quantize_rows");
}

}  // namespace bitlab::cuda

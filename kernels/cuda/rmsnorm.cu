// RMSNorm, int8 activation quantisation, and the ops fused into the norm.
// One block of kRowThreads threads per token row, for every row count, so a
// row's result never depends on how many rows came with it (prefill and decode
// give the same bits).
//
//   rmsnorm_rows<Plain, false>   y = x / sqrt(mean(x^2) + eps) * w, in double like
//                                the reference, rounded to fp32 once
//   rmsnorm_rows<Plain, true>    the same normed values, never stored: their
//                                absmax, then q = quantize(value, s) — exactly
//                                what rmsnorm followed by quantize_act gives
//   rmsnorm_rows<AddResidual, true>  h = x + r (one fp32 add, stored), then as
//                                above: add followed by rmsnorm_quant
//   rmsnorm_rows<Relu2Mul, true> the input max(x, 0)^2 * r from relu2_mul_one
//                                (device_common.cuh), as relu2_mul_f64 does,
//                                never stored: relu2_mul followed by rmsnorm_quant
//   quantize_rows                s = 127 / max(absmax, 1e-5) (IEEE division),
//                                q = clamp(rint(x * s), -128, 127), round half to even
// Both quantisers follow the non-finite rule of model/reference.h (a row holding
// a NaN gets s = NaN, one holding ±Inf s = +0, either all-zero codes). fmaxf
// drops a NaN, so the absmax is an unsigned max of the |x| bit patterns: the
// numeric order for non-negative floats, with every NaN above +Inf.
// Tuned for d = 2560 and 6912: 256 threads, 10-27 elements each; the row is
// read three times (sum of squares, absmax, output), from L1/L2 after the first.
// The fused forms save a launch each in a decode step (three per layer).
#include "kernels/cuda/device_common.cuh"

namespace bitlab::cuda {
namespace {

constexpr int kRowThreads = 256;

constexpr unsigned kInfBits = 0x7f800000u;

struct MaxBitsOp {
  __device__ __forceinline__ unsigned operator()(unsigned a, unsigned b) const { return umax(a, b); }
};

__device__ __forceinline__ unsigned abs_bits(float x) { return __float_as_uint(x) & 0x7fffffffu; }

// s = 127 / max(absmax, 1e-5); NaN (the canonical 0x7fc00000) or +0 for a non-finite row.
__device__ __forceinline__ float act_scale(unsigned absmax_bits) {
  if (absmax_bits > kInfBits) return __uint_as_float(0x7fc00000u);
  if (absmax_bits == kInfBits) return 0.0f;
  return __fdiv_rn(127.0f, fmaxf(__uint_as_float(absmax_bits), 1e-5f));
}

// The code of x in a row whose absmax pattern is absmax_bits: 0 for every
// element of a non-finite row, where x * s would be 0 or NaN.
__device__ __forceinline__ int8_t quantize_one(float x, float s, unsigned absmax_bits) {
  if (absmax_bits >= kInfBits) return 0;
  const float r = rintf(__fmul_rn(x, s));
  return int8_t(fminf(fmaxf(r, -128.0f), 127.0f));
}

// Element i of the row the norm reads. AddResidual reads h, which the first
// pass of the same thread stored.
template <RmsnormInput In>
__device__ __forceinline__ float input_at(const RmsnormArgs& a, int64_t i) {
  if constexpr (In == RmsnormInput::Plain) {
    return a.x[i];
  } else if constexpr (In == RmsnormInput::AddResidual) {
    return a.h[i];
  } else {
    return relu2_mul_one(a.x[i], a.r[i]);
  }
}

template <RmsnormInput In, bool Quantize>
__global__ void __launch_bounds__(kRowThreads) rmsnorm_rows(RmsnormArgs a) {
  enter_kernel();
  __shared__ double dscratch[32];
  __shared__ unsigned uscratch[32];
  const int64_t r = blockIdx.x, d = a.d, row = r * d;
  double sum_sq = 0.0;
  for (int64_t i = threadIdx.x; i < d; i += kRowThreads) {
    float v;
    if constexpr (In == RmsnormInput::AddResidual) {
      v = __fadd_rn(a.x[row + i], a.r[row + i]);
      a.h[row + i] = v;
    } else {
      v = input_at<In>(a, row + i);
    }
    sum_sq = __dadd_rn(sum_sq, __dmul_rn(double(v), v));
  }
  sum_sq = block_reduce(sum_sq, dscratch, SumOp{});
  const double inv_rms = 1.0 / sqrt(sum_sq / double(d) + double(a.eps));
  auto normed = [&](int64_t i) {
    return __double2float_rn(__dmul_rn(__dmul_rn(double(input_at<In>(a, row + i)), inv_rms), a.w[i]));
  };
  if constexpr (!Quantize) {
    for (int64_t i = threadIdx.x; i < d; i += kRowThreads) a.y[row + i] = normed(i);
  } else {
    unsigned absmax = 0u;
    for (int64_t i = threadIdx.x; i < d; i += kRowThreads) absmax = umax(absmax, abs_bits(normed(i)));
    absmax = block_reduce(absmax, uscratch, MaxBitsOp{});
    const float s = act_scale(absmax);
    for (int64_t i = threadIdx.x; i < d; i += kRowThreads) a.q[row + i] = quantize_one(normed(i), s, absmax);
    if (threadIdx.x == 0) a.s[r] = s;
  }
}

__global__ void __launch_bounds__(kRowThreads) quantize_rows(QuantizeArgs a) {
  enter_kernel();
  __shared__ unsigned uscratch[32];
  const int64_t r = blockIdx.x, k = a.k;
  const float* x = a.x + r * k;
  unsigned absmax = 0u;
  for (int64_t i = threadIdx.x; i < k; i += kRowThreads) absmax = umax(absmax, abs_bits(x[i]));
  absmax = block_reduce(absmax, uscratch, MaxBitsOp{});
  const float s = act_scale(absmax);
  for (int64_t i = threadIdx.x; i < k; i += kRowThreads) a.q[r * k + i] = quantize_one(x[i], s, absmax);
  if (threadIdx.x == 0) a.s[r] = s;
}

}  // namespace

void launch_rmsnorm(const RmsnormArgs& a, const LaunchTarget& to) {
  if (a.t == 0) return;
  const unsigned blocks = unsigned(a.t);
  switch (a.input) {
    case RmsnormInput::Plain:
      if (a.q) {
        launch_kernel(to, "rmsnorm_rows<quantize>", rmsnorm_rows<RmsnormInput::Plain, true>, blocks, kRowThreads, 0, a);
      } else {
        launch_kernel(to, "rmsnorm_rows", rmsnorm_rows<RmsnormInput::Plain, false>, blocks, kRowThreads, 0, a);
      }
      break;
    case RmsnormInput::AddResidual:
      launch_kernel(to, "rmsnorm_rows<add, quantize>", rmsnorm_rows<RmsnormInput::AddResidual, true>, blocks,
                    kRowThreads, 0, a);
      break;
    case RmsnormInput::Relu2Mul:
      launch_kernel(to, "rmsnorm_rows<relu2_mul, quantize>", rmsnorm_rows<RmsnormInput::Relu2Mul, true>, blocks,
                    kRowThreads, 0, a);
      break;
  }
}

void launch_quantize(const QuantizeArgs& a, const LaunchTarget& to) {
  if (a.t == 0) return;
  launch_kernel(to, "quantize_rows", quantize_rows, unsigned(a.t), kRowThreads, 0, a);
}

}  // namespace bitlab::cuda

// RMSNorm and RMSNorm fused with int8 quantisation, NEON variant
// (f32_rmsnorm__neon, f32_i8_rmsnorm_quant__neon).
//
// Variants: one each, any d (scalar tail); tuned for d = 2560 (hidden) and 6912
// (FFN sub-norm). The sum of squares and the scaling run in double, two lanes
// per register, as the reference computes them up to summation order, so the
// output matches ref::rmsnorm to the last bit almost always. The fused op
// normalises into a per-thread scratch row while taking its absmax, then
// quantises it: the same values and the same scale as rmsnorm_row followed by
// quantize_row, in one pass over x fewer.
#include <arm_neon.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "kernels/cpu/neon/neon_kernels.h"
#include "kernels/cpu/neon/neon_ops.h"

namespace bitlab::cpu::neon {
namespace {

// y = float(double(x) * r * w); returns the bit pattern of max |y| when
// kTrackMax (else 0), an integer max that propagates a NaN (neon_ops.h).
template <bool kTrackMax>
uint32_t normalize(const float* x, const float* w, int64_t d, double r, float* y) {
  const float64x2_t rv = vdupq_n_f64(r);
  const uint32x4_t abs_mask = vdupq_n_u32(0x7fffffffu);
  uint32x4_t m = vdupq_n_u32(0);
  int64_t i = 0;
  for (; i + 4 <= d; i += 4) {
    const float32x4_t xv = vld1q_f32(x + i), wv = vld1q_f32(w + i);
    const float64x2_t lo = vmulq_f64(vmulq_f64(vcvt_f64_f32(vget_low_f32(xv)), rv), vcvt_f64_f32(vget_low_f32(wv)));
    const float64x2_t hi = vmulq_f64(vmulq_f64(vcvt_high_f64_f32(xv), rv), vcvt_high_f64_f32(wv));
    const float32x4_t out = vcvt_high_f32_f64(vcvt_f32_f64(lo), hi);
    vst1q_f32(y + i, out);
    if constexpr (kTrackMax) m = vmaxq_u32(m, vandq_u32(vreinterpretq_u32_f32(out), abs_mask));
  }
  uint32_t mx = kTrackMax ? vmaxvq_u32(m) : 0u;
  for (; i < d; ++i) {
    y[i] = float(double(x[i]) * r * w[i]);
    if constexpr (kTrackMax) {
      uint32_t bits;
      std::memcpy(&bits, y + i, sizeof bits);
      mx = std::max(mx, bits & 0x7fffffffu);
    }
  }
  return mx;
}

}  // namespace

double inv_rms(const float* x, int64_t d, float eps) {
  float64x2_t s0 = vdupq_n_f64(0.0), s1 = s0, s2 = s0, s3 = s0;
  int64_t i = 0;
  for (; i + 8 <= d; i += 8) {
    const float32x4_t a = vld1q_f32(x + i), b = vld1q_f32(x + i + 4);
    const float64x2_t a0 = vcvt_f64_f32(vget_low_f32(a)), a1 = vcvt_high_f64_f32(a);
    const float64x2_t b0 = vcvt_f64_f32(vget_low_f32(b)), b1 = vcvt_high_f64_f32(b);
    s0 = vfmaq_f64(s0, a0, a0);  // exact product: a float squared fits a double
    s1 = vfmaq_f64(s1, a1, a1);
    s2 = vfmaq_f64(s2, b0, b0);
    s3 = vfmaq_f64(s3, b1, b1);
  }
  double sum_sq = vaddvq_f64(vaddq_f64(vaddq_f64(s0, s1), vaddq_f64(s2, s3)));
  for (; i < d; ++i) sum_sq += double(x[i]) * x[i];
  return 1.0 / std::sqrt(sum_sq / double(d) + double(eps));
}

void rmsnorm_row(const float* x, const float* w, int64_t d, float eps, float* y) {
  normalize<false>(x, w, d, inv_rms(x, d, eps), y);
}

void rmsnorm_quant_row(const float* x, const float* w, int64_t d, float eps, int8_t* q, float* s) {
  thread_local std::vector<float> normed;
  normed.resize(size_t(d));
  const uint32_t mx = normalize<true>(x, w, d, inv_rms(x, d, eps), normed.data());
  quantize_with_absmax(normed.data(), d, mx, q, s);  // non-finite rows too (model/reference.h)
}

}  // namespace bitlab::cpu::neon

#version 460
// RMSNorm and the ops fused into it, one workgroup per row:
//   rmsnorm                   (INPUT=0, FUSE_QUANT=0)  y = x / sqrt(mean(x^2) + eps) * w
//   rmsnorm_quant             (INPUT=0, FUSE_QUANT=1)  the same normalised values,
//                             never stored, quantised to int8 as quantize.comp
//                             does (act_quant.glsl: absmax, s = 127 / absmax, round
//                             half to even, clamp; NaN and ±Inf rows as the reference)
//   add_rmsnorm_quant         (INPUT=1, FUSE_QUANT=1)  x = x + r stored in place
//                             (the residual stream), then rmsnorm_quant of it
//   relu2_mul_rmsnorm_quant   (INPUT=2, FUSE_QUANT=1)  rmsnorm_quant of
//                             max(x, 0)^2 * r (gate x, up r), never stored
// Every variant computes its input as elementwise.comp does (relu2_mul_one in
// common.glsl), the normalised value with the same precise expressions as the
// plain variants, and the same reduction, so a fused op gives exactly what its
// parts give.
// Sizes: any d; WG threads stride over the row (d = 2560 or 6912 in 2B4T).
#include "common.glsl"
#include "reduce.glsl"
#include "exact_div.glsl"
#if FUSE_QUANT
#include "act_quant.glsl"
#endif

layout(push_constant) uniform Args {
  F32s x;      // [t, d]
  F32s r;      // [t, d] (INPUT=1: the residual branch; INPUT=2: the up projection)
  F32s w;      // [d]
  F32s y;      // [t, d] (FUSE_QUANT=0)
  I8s q;       // [t, d] (FUSE_QUANT=1)
  F32s scale;  // [t]    (FUSE_QUANT=1)
  uint d;
  float eps;
} a;

// The row's input element i (i counts from the start of the tensor).
float input_at(uint i) {
#if INPUT == 2
  return relu2_mul_one(a.x.v[i], a.r.v[i]);
#else
  return a.x.v[i];  // INPUT=1: the sum, stored by the first pass of this invocation
#endif
}

void main() {
  const uint row = gl_WorkGroupID.x, tid = gl_LocalInvocationIndex, base = row * a.d;
  precise float sum_sq = 0.0;
  for (uint i = tid; i < a.d; i += WG) {
#if INPUT == 1
    precise float v = a.x.v[base + i] + a.r.v[base + i];
    a.x.v[base + i] = v;  // read back below by this same invocation only
#else
    const float v = input_at(base + i);
#endif
    sum_sq += v * v;
  }
  const float total = workgroup_sum(sum_sq);
  precise float inv_rms = 1.0 / sqrt(total / float(a.d) + a.eps);
#if FUSE_QUANT
  uint absmax = 0u;
  for (uint i = tid; i < a.d; i += WG) {
    precise float v = input_at(base + i) * inv_rms * a.w.v[i];
    absmax = max(absmax, act_abs_bits(v));
  }
  absmax = workgroup_max_bits(absmax);
  const float s = act_scale(absmax);
  const bool finite = act_row_finite(absmax);
  for (uint i = tid; i < a.d; i += WG) {
    precise float v = input_at(base + i) * inv_rms * a.w.v[i];
    a.q.v[base + i] = int8_t(finite ? act_code(v, s) : 0);
  }
  if (tid == 0) a.scale.v[row] = s;
#else
  for (uint i = tid; i < a.d; i += WG) {
    precise float v = input_at(base + i) * inv_rms * a.w.v[i];
    a.y.v[base + i] = v;
  }
#endif
}

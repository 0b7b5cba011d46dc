#version 460
// rmsnorm (FUSE_QUANT=0): y = x / sqrt(mean(x^2) + eps) * w, one workgroup per row.
// rmsnorm_quant (FUSE_QUANT=1): the same normalised values, never stored,
// quantised to int8 as quantize.comp does (absmax, s = 127 / absmax, round
// half to even, clamp). Both variants compute the normalised value with the
// same precise expressions and the same reduction, so the fused op gives
// exactly what rmsnorm followed by quantize_act gives.
// Sizes: any d; WG threads stride over the row (d = 2560 or 6912 in 2B4T).
#include "common.glsl"
#include "reduce.glsl"
#include "exact_div.glsl"

layout(push_constant) uniform Args {
  F32s x;      // [t, d]
  F32s w;      // [d]
  F32s y;      // [t, d] (FUSE_QUANT=0)
  I8s q;       // [t, d] (FUSE_QUANT=1)
  F32s scale;  // [t]    (FUSE_QUANT=1)
  uint d;
  float eps;
} a;

void main() {
  const uint row = gl_WorkGroupID.x, tid = gl_LocalInvocationIndex, base = row * a.d;
  precise float sum_sq = 0.0;
  for (uint i = tid; i < a.d; i += WG) {
    const float v = a.x.v[base + i];
    sum_sq += v * v;
  }
  const float total = workgroup_sum(sum_sq);
  precise float inv_rms = 1.0 / sqrt(total / float(a.d) + a.eps);
#if FUSE_QUANT
  float absmax = 0.0;
  for (uint i = tid; i < a.d; i += WG) {
    precise float v = a.x.v[base + i] * inv_rms * a.w.v[i];
    absmax = max(absmax, abs(v));
  }
  absmax = workgroup_max(absmax);
  const float s = div_rn(127.0, max(absmax, 1e-5));
  for (uint i = tid; i < a.d; i += WG) {
    precise float v = a.x.v[base + i] * inv_rms * a.w.v[i];
    precise float p = v * s;
    a.q.v[base + i] = int8_t(int(clamp(roundEven(p), -128.0, 127.0)));
  }
  if (tid == 0) a.scale.v[row] = s;
#else
  for (uint i = tid; i < a.d; i += WG) {
    precise float v = a.x.v[base + i] * inv_rms * a.w.v[i];
    a.y.v[base + i] = v;
  }
#endif
}

#version 460
// quantize_act: per token row, s = 127 / max(absmax, 1e-5) (a true division,
// exact_div.glsl) and q = clamp(round_half_even(x * s), -128, 127), bit-exact
// with the reference, rows holding NaN or ±Inf included (act_quant.glsl).
// One workgroup per row; any k.
#include "common.glsl"
#include "exact_div.glsl"
#include "act_quant.glsl"

layout(push_constant) uniform Args {
  F32s x;      // [t, k]
  I8s q;       // [t, k]
  F32s scale;  // [t]
  uint k;
} a;

void main() {
  const uint row = gl_WorkGroupID.x, tid = gl_LocalInvocationIndex, base = row * a.k;
  uint absmax = 0u;
  for (uint i = tid; i < a.k; i += WG) absmax = max(absmax, act_abs_bits(a.x.v[base + i]));
  absmax = workgroup_max_bits(absmax);
  const float s = act_scale(absmax);
  const bool finite = act_row_finite(absmax);
  for (uint i = tid; i < a.k; i += WG) a.q.v[base + i] = int8_t(finite ? act_code(a.x.v[base + i], s) : 0);
  if (tid == 0) a.scale.v[row] = s;
}

#version 460
// quantize_act: per token row, s = 127 / max(absmax, 1e-5) (a true division,
// exact_div.glsl) and q = clamp(round_half_even(x * s), -128, 127), bit-exact
// with the reference. One workgroup per row; any k.
#include "common.glsl"
#include "reduce.glsl"
#include "exact_div.glsl"

layout(push_constant) uniform Args {
  F32s x;      // [t, k]
  I8s q;       // [t, k]
  F32s scale;  // [t]
  uint k;
} a;

void main() {
  const uint row = gl_WorkGroupID.x, tid = gl_LocalInvocationIndex, base = row * a.k;
  float absmax = 0.0;
  for (uint i = tid; i < a.k; i += WG) absmax = max(absmax, abs(a.x.v[base + i]));
  absmax = workgroup_max(absmax);
  const float s = div_rn(127.0, max(absmax, 1e-5));
  for (uint i = tid; i < a.k; i += WG) {
    precise float p = a.x.v[base + i] * s;
    a.q.v[base + i] = int8_t(int(clamp(roundEven(p), -128.0, 127.0)));
  }
  if (tid == 0) a.scale.v[row] = s;
}

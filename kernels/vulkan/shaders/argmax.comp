#version 460
// argmax per row of logits [t, v]: the lowest index of the largest value; NaN
// is never chosen (a row of only NaN gives v - 1, as the reference does).
// One workgroup per row; each invocation scans a stride, then a tree picks.
#include "common.glsl"

layout(push_constant) uniform Args {
  F32s logits;
  I32s ids;
  uint v;
} a;

shared float best_value[WG];
shared int best_index[WG];

// Is candidate (v1, i1) better than (v0, i0)? Index -1 means none.
bool better(float v1, int i1, float v0, int i0) {
  if (i1 < 0) return false;
  if (i0 < 0) return true;
  return v1 > v0 || (v1 == v0 && i1 < i0);
}

void main() {
  const uint row = gl_WorkGroupID.x, tid = gl_LocalInvocationIndex, base = row * a.v;
  float bv = 0.0;
  int bi = -1;
  for (uint i = tid; i < a.v; i += WG) {
    const float x = a.logits.v[base + i];
    if (!isnan(x) && (bi < 0 || x > bv)) {
      bv = x;
      bi = int(i);
    }
  }
  best_value[tid] = bv;
  best_index[tid] = bi;
  barrier();
  for (uint s = WG / 2; s > 0; s >>= 1) {
    if (tid < s && better(best_value[tid + s], best_index[tid + s], best_value[tid], best_index[tid])) {
      best_value[tid] = best_value[tid + s];
      best_index[tid] = best_index[tid + s];
    }
    barrier();
  }
  if (tid == 0) a.ids.v[row] = best_index[0] < 0 ? int(a.v) - 1 : best_index[0];
}

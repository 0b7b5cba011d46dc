#version 460
// Rotate-half RoPE in place on x [t, n_heads * head_dim]: dim i pairs with
// i + head_dim/2. cos and sin come from a table the host computes in double
// per position (fp32 angles at positions in the thousands would be off by
// 1e-4 rad), laid out [position][head_dim/2][cos, sin].
// One invocation per (row, head, pair).
#include "common.glsl"

layout(push_constant) uniform Args {
  F32s x;
  F32s table;
  uint t;
  uint n_heads;
  uint head_dim;
  uint pos0;
} a;

void main() {
  const uint half_dim = a.head_dim / 2u;
  const uint id = gl_GlobalInvocationID.x;
  if (id >= a.t * a.n_heads * half_dim) return;
  const uint i = id % half_dim, head = (id / half_dim) % a.n_heads, row = id / (half_dim * a.n_heads);
  const uint base = (row * a.n_heads + head) * a.head_dim;
  const uint cs = ((a.pos0 + row) * half_dim + i) * 2u;
  const float c = a.table.v[cs], sn = a.table.v[cs + 1u];
  const float x0 = a.x.v[base + i], x1 = a.x.v[base + i + half_dim];
  precise float r0 = x0 * c - x1 * sn;
  precise float r1 = x0 * sn + x1 * c;
  a.x.v[base + i] = r0;
  a.x.v[base + i + half_dim] = r1;
}

#version 460
// Rotate-half RoPE in place on x [t, n_heads * head_dim], and (rope_qk) on a
// second tensor x2 [t, n_heads2 * head_dim] at the same positions in the same
// dispatch (n_heads2 = 0 for plain rope): dim i pairs with i + head_dim/2.
// cos and sin come from a table the host computes in double per position
// (fp32 angles at positions in the thousands would be off by 1e-4 rad), laid
// out [position][head_dim/2][cos, sin].
// One invocation per (tensor, row, head, pair): x's pairs first, then x2's.
#include "common.glsl"

layout(push_constant) uniform Args {
  F32s x;
  F32s x2;
  F32s table;
  uint t;
  uint n_heads;
  uint n_heads2;
  uint head_dim;
  uint pos0;
} a;

void main() {
  const uint half_dim = a.head_dim / 2u;
  const uint first = a.t * a.n_heads * half_dim;
  uint id = gl_GlobalInvocationID.x;
  if (id >= first + a.t * a.n_heads2 * half_dim) return;
  const bool second = id >= first;
  F32s x = second ? a.x2 : a.x;
  const uint heads = second ? a.n_heads2 : a.n_heads;
  if (second) id -= first;
  const uint i = id % half_dim, head = (id / half_dim) % heads, row = id / (half_dim * heads);
  const uint base = (row * heads + head) * a.head_dim;
  const uint cs = ((a.pos0 + row) * half_dim + i) * 2u;
  const float c = a.table.v[cs], sn = a.table.v[cs + 1u];
  const float x0 = x.v[base + i], x1 = x.v[base + i + half_dim];
  precise float r0 = x0 * c - x1 * sn;
  precise float r1 = x0 * sn + x1 * c;
  x.v[base + i] = r0;
  x.v[base + i + half_dim] = r1;
}

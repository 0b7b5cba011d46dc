#version 460
// embed: out[t, d] = bf16 table row tokens[t], as fp32.
// Grid: x strides over d, y = token row. Ids outside the vocabulary were
// refused on the host before this was recorded; the check here only keeps a
// stray id from reading outside the table.
#include "common.glsl"

layout(push_constant) uniform Args {
  I32s tokens;  // [t]
  U16s table;   // bf16 [vocab, d]
  F32s y;       // [t, d]
  uint d;
  uint vocab;
} a;

void main() {
  const uint row = gl_WorkGroupID.y;
  const int id = a.tokens.v[row];
  if (id < 0 || uint(id) >= a.vocab) return;
  const uint src = uint(id) * a.d, dst = row * a.d;
  for (uint i = gl_GlobalInvocationID.x; i < a.d; i += gl_NumWorkGroups.x * WG)
    a.y.v[dst + i] = bf16_to_f32(uint(a.table.v[src + i]));
}

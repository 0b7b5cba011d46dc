#version 460
// lm_head_i8: the int8 tied head (model/ops.h, HeadTable):
//   logits[t, v] = float(Σ_i q[v, i] * xq[t, i]) / s_x[t] / s_v[v],
// the int32 sum exact, both divisions correctly rounded (exact_div.glsl), so
// the logits are bit-identical to the reference. Like lm_head, a bandwidth
// kernel (328 MB of int8 table per 2B4T decode step): one subgroup per
// vocabulary row, lanes striding over the row, ROWS rows per workgroup,
// subgroupAdd for the row sum (integer: exact in any order), up to MAX_T tokens
// per pass (grid y = token blocks).
// Variants: WORDS=1 reads four int8 per 32-bit word (table and activations
// 4-byte aligned, d % 4 == 0, as in the model), with INT_DOT=1 (OpSDot) or
// INT_DOT=0 (portable); WORDS=0 reads one byte at a time (any d and offset).
#include "common.glsl"
#include "int_dot.glsl"
#include "exact_div.glsl"
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(constant_id = 1) const uint ROWS = 8;
const uint MAX_T = 4;

layout(push_constant) uniform Args {
#if WORDS
  U32s x;       // int8 activations [t, d / 4 words]
  F32s s_x;     // [t]
  U32s table;   // int8 table [vocab, d / 4 words]
#else
  I8s x;        // [t, d]
  F32s s_x;
  I8s table;    // [vocab, d]
#endif
  F32s s_v;     // [vocab]
  F32s logits;  // [t, ld]
  uint t;
  uint d;
  uint vocab;
  uint ld;
} a;

void main() {
  const uint lane = gl_SubgroupInvocationID, lanes = gl_SubgroupSize;
  const uint tok0 = gl_WorkGroupID.y * MAX_T;
  const uint nt = min(MAX_T, a.t - tok0);
  for (uint r = gl_SubgroupID; r < ROWS; r += gl_NumSubgroups) {
    const uint v = gl_WorkGroupID.x * ROWS + r;
    if (v >= a.vocab) break;  // uniform in the subgroup
    int acc[MAX_T];
    for (uint j = 0u; j < MAX_T; ++j) acc[j] = 0;
#if WORDS
    const uint dw = a.d / 4u;
    for (uint c = lane; c < dw; c += lanes) {
      const uint w = a.table.v[v * dw + c];
      for (uint j = 0u; j < nt; ++j) acc[j] += dot_ss(a.x.v[(tok0 + j) * dw + c], w);
    }
#else
    for (uint i = lane; i < a.d; i += lanes) {
      const int w = int(a.table.v[v * a.d + i]);
      for (uint j = 0u; j < nt; ++j) acc[j] += w * int(a.x.v[(tok0 + j) * a.d + i]);
    }
#endif
    for (uint j = 0u; j < nt; ++j) {
      const int total = subgroupAdd(acc[j]);
      if (subgroupElect()) a.logits.v[(tok0 + j) * a.ld + v] = div_rn(div_rn(float(total), a.s_x.v[tok0 + j]), a.s_v.v[v]);
    }
  }
}

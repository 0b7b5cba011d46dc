#version 460
// lm_head: logits[t, vocab] = x[t, d] · table[vocab, d]ᵀ, bf16 table (the
// tied embedding), fp32 accumulation. The table is the largest tensor of the
// model (656 MB in 2B4T) and decode reads all of it per token, so this is a
// bandwidth kernel: one subgroup per vocabulary row (lanes stride over the
// row), ROWS rows per workgroup, subgroupAdd for the row sum, up to MAX_T
// tokens per pass (grid y = token blocks).
// Variants: VEC8=1 reads 8 bf16 per 16-byte load (table and x 16-byte
// aligned, d % 8 == 0, as in the model); VEC8=0 reads one bf16 at a time (any
// d and offset).
#include "common.glsl"
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(constant_id = 1) const uint ROWS = 8;
const uint MAX_T = 4;

layout(push_constant) uniform Args {
#if VEC8
  F32x4s x;       // [t, d / 4]
  U32x4s table;   // [vocab, d / 8]
#else
  F32s x;         // [t, d]
  U16s table;     // [vocab, d]
#endif
  F32s logits;    // [t, ld]
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
    float acc[MAX_T];
    for (uint j = 0u; j < MAX_T; ++j) acc[j] = 0.0;
#if VEC8
    const uint d8 = a.d / 8u;
    for (uint c = lane; c < d8; c += lanes) {
      const uvec4 wv = a.table.v[v * d8 + c];
      const vec4 lo = vec4(bf16_to_f32(wv.x & 0xffffu), bf16_to_f32(wv.x >> 16), bf16_to_f32(wv.y & 0xffffu),
                           bf16_to_f32(wv.y >> 16));
      const vec4 hi = vec4(bf16_to_f32(wv.z & 0xffffu), bf16_to_f32(wv.z >> 16), bf16_to_f32(wv.w & 0xffffu),
                           bf16_to_f32(wv.w >> 16));
      for (uint j = 0u; j < nt; ++j) {
        const uint xb = (tok0 + j) * (a.d / 4u) + 2u * c;
        acc[j] += dot(a.x.v[xb], lo) + dot(a.x.v[xb + 1u], hi);
      }
    }
#else
    for (uint i = lane; i < a.d; i += lanes) {
      const float wv = bf16_to_f32(uint(a.table.v[v * a.d + i]));
      for (uint j = 0u; j < nt; ++j) acc[j] += a.x.v[(tok0 + j) * a.d + i] * wv;
    }
#endif
    for (uint j = 0u; j < nt; ++j) {
      const float total = subgroupAdd(acc[j]);
      if (subgroupElect()) a.logits.v[(tok0 + j) * a.ld + v] = total;
    }
  }
}

#version 460
// matmul_w2a8, GEMV form (decode: t = 1, and up to MAX_T tokens per pass):
// y[t, n] = (T · xq[t]) / s[t] * w_scale, the int32 accumulator exact.
//
// Variants: INT_DOT=1 (OpSUDot on packed bytes) and INT_DOT=0 (portable
// int32 arithmetic); see int_dot.glsl. Weights stay 2-bit in memory: a row is
// kw words of 16 codes (c = T + 1, layout in int_dot.glsl), kw a multiple of 4,
// read 4 words (64 weights) per 16-byte load; the activation words are read as
// they are, 16 per weight load, also 16 bytes at a time. With unsigned codes
// the dot product gives Σ c·x, and Σ (c - 1)·x = Σ c·x - Σ x; both sums are
// exact. Padding codes are 1 (T = 0), so activation bytes past k, whatever
// they hold, add c·x - x = 0.
//
// One subgroup per output row (its lanes stride over the row's 16-byte
// blocks, so a 32-lane warp reads 512 contiguous bytes of weights per step),
// ROWS rows per workgroup, the partial sums added with subgroupAdd: no shared
// memory, no barriers. Rows are assigned by subgroup id, so any subgroup size
// works. Grid: x = row blocks of ROWS, y = blocks of MAX_T tokens.
// Tuned for 2B4T decode: k = 2560 (40 blocks a row) or 6912 (108), 32 lanes.
#include "common.glsl"
#include "int_dot.glsl"
#include "exact_div.glsl"
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(constant_id = 1) const uint ROWS = 8;
const uint MAX_T = 4;
const uint ONES = 0x01010101u;

layout(push_constant) uniform Args {
  U32x4s x;    // int8 activations [t, x_stride words], rows 16-byte aligned
  F32s s;      // [t] activation scales
  U32x4s w;    // this part's codes [n, kw words]
  F32s y;      // [t, ldy]
  uint n;
  uint kw;
  uint x_stride;
  uint t;
  uint ldy;
  float w_scale;
} a;

void main() {
  const uint lane = gl_SubgroupInvocationID, lanes = gl_SubgroupSize;
  const uint tok0 = gl_WorkGroupID.y * MAX_T;
  const uint nt = min(MAX_T, a.t - tok0);
  for (uint r = gl_SubgroupID; r < ROWS; r += gl_NumSubgroups) {
    const uint row = gl_WorkGroupID.x * ROWS + r;
    if (row >= a.n) break;  // uniform in the subgroup
    int acc[MAX_T];
    for (uint j = 0u; j < MAX_T; ++j) acc[j] = 0;
    const uint kq = a.kw / 4u, wrow = row * kq;
    for (uint q = lane; q < kq; q += lanes) {
      const uvec4 words = a.w.v[wrow + q];
      for (uint j = 0u; j < nt; ++j) {
        const uint xb = ((tok0 + j) * a.x_stride) / 4u + 4u * q;
        for (uint i = 0u; i < 4u; ++i) {
          const uvec4 xv = a.x.v[xb + i];
          const uint word = words[i];
          acc[j] += dot_su(xv.x, codes_of(word, 0u)) + dot_su(xv.y, codes_of(word, 1u)) +
                    dot_su(xv.z, codes_of(word, 2u)) + dot_su(xv.w, codes_of(word, 3u));
          acc[j] -= dot_su(xv.x, ONES) + dot_su(xv.y, ONES) + dot_su(xv.z, ONES) + dot_su(xv.w, ONES);
        }
      }
    }
    for (uint j = 0u; j < nt; ++j) {
      const int total = subgroupAdd(acc[j]);
      if (subgroupElect()) a.y.v[(tok0 + j) * a.ldy + row] = bitlinear_output(total, a.s.v[tok0 + j], a.w_scale);
    }
  }
}

#version 460
// matmul_w2a8 on 1.6-bit weights (b3x80, base3.glsl), GEMV form (decode: up to
// MAX_T tokens per pass): y[t, n] = (T · xq[t]) / s[t] * w_scale, the int32
// accumulator exact, the same bits as matmul_gemv.comp.
//
// Variants: INT_DOT=1 (OpSUDot) and INT_DOT=0 (portable int32); int_dot.glsl.
// A row is kw words, kw / 4 blocks of 80 weights read one 16-byte load each;
// block q meets activation vectors 5q .. 5q + 4 (16 bytes each), vector j
// against digit j of the block's bytes. With the codes c = T + 1 the dot
// product gives Σ c·x, and Σ (c - 1)·x = Σ c·x - Σ x, both exact. Padding
// codes are 1, so they add c·x - x = 0; activation vectors past the row's
// x_stride words are read as 0 (a row of k = 6912 ends inside a block).
//
// As matmul_gemv.comp: one subgroup per output row, its lanes striding over the
// row's blocks, partial sums added with subgroupAdd, ROWS rows per workgroup.
// Grid: x = row blocks of ROWS, y = blocks of MAX_T tokens.
#include "common.glsl"
#include "int_dot.glsl"
#include "exact_div.glsl"
#include "base3.glsl"
#extension GL_KHR_shader_subgroup_arithmetic : require

layout(constant_id = 1) const uint ROWS = 8;
const uint MAX_T = 4;
const uint ONES = 0x01010101u;

layout(push_constant) uniform Args {
  U32x4s x;    // int8 activations [t, x_stride words], rows 16-byte aligned, x_stride a multiple of 4
  F32s s;      // [t] activation scales
  U32x4s w;    // this part's blocks [n, kw words]
  F32s y;      // [t, ldy]
  uint n;
  uint kw;
  uint x_stride;
  uint t;
  uint ldy;
  float w_scale;
} a;

int dot4(uvec4 x, uvec4 c) { return dot_su(x.x, c.x) + dot_su(x.y, c.y) + dot_su(x.z, c.z) + dot_su(x.w, c.w); }

void main() {
  const uint lane = gl_SubgroupInvocationID, lanes = gl_SubgroupSize;
  const uint tok0 = gl_WorkGroupID.y * MAX_T;
  const uint nt = min(MAX_T, a.t - tok0);
  const uint xvecs = a.x_stride / 4u;  // activation vectors per token row
  for (uint r = gl_SubgroupID; r < ROWS; r += gl_NumSubgroups) {
    const uint row = gl_WorkGroupID.x * ROWS + r;
    if (row >= a.n) break;  // uniform in the subgroup
    int acc[MAX_T];
    for (uint j = 0u; j < MAX_T; ++j) acc[j] = 0;
    const uint kq = a.kw / 4u, wrow = row * kq;
    for (uint q = lane; q < kq; q += lanes) {
      B3Digits d = b3_start(a.w.v[wrow + q]);
      for (uint j = 0u; j < 5u; ++j) {
        const uvec4 codes = b3_next_codes(d);
        const uint xi = 5u * q + j;
        if (xi >= xvecs) break;  // the rest of the block is padding
        for (uint tt = 0u; tt < nt; ++tt) {
          const uvec4 xv = a.x.v[(tok0 + tt) * xvecs + xi];
          acc[tt] += dot4(xv, codes) - dot4(xv, uvec4(ONES));
        }
      }
    }
    for (uint j = 0u; j < nt; ++j) {
      const int total = subgroupAdd(acc[j]);
      if (subgroupElect()) a.y.v[(tok0 + j) * a.ldy + row] = bitlinear_output(total, a.s.v[tok0 + j], a.w_scale);
    }
  }
}

#version 460
// matmul_w2a8 on 1.6-bit weights (b3x80, base3.glsl), GEMM form (prefill):
// y[t, n] = (T · xq[t]) / s[t] * w_scale, the same bits as matmul_gemm.comp.
//
// Variants: INT_DOT=1 (OpSDot) and INT_DOT=0 (portable). As matmul_gemm.comp:
// a workgroup of 256 computes a tile of TM = 32 tokens x TN = 128 rows, each
// invocation a 4 x 4 block (tokens 4tt..4tt+3, rows tr + 32i), but k advances
// one block of 80 weights (20 activation words) at a time. Each block's words
// are decoded once into signed int8 lanes in shared memory (digit j of word i
// of the block lands at word 4j + i, beside activation word 4j + i), so no Σx
// correction is needed. Shared rows are padded to 21 words (odd, so the 32
// invocations reading different rows hit different banks); 13 KB in all.
// Padding codes decode to 0; tokens past t and activation words past the
// row's x_stride read as 0.
#include "common.glsl"
#include "int_dot.glsl"
#include "exact_div.glsl"
#include "base3.glsl"

const uint TM = 32u, TN = 128u, KB = 20u;  // KB: activation words per block
const uint KS = KB + 1u;                    // padded shared row, in words

layout(push_constant) uniform Args {
  U32s x;  // int8 activations [t, x_stride words]
  F32s s;  // [t]
  U32s w;  // blocks [n, kw words]
  F32s y;  // [t, ldy]
  uint n;
  uint kw;
  uint x_stride;
  uint t;
  uint ldy;
  float w_scale;
} a;

shared uint wtile[TN * KS];
shared uint xtile[TM * KS];

void main() {
  const uint tid = gl_LocalInvocationIndex;
  const uint row0 = gl_WorkGroupID.x * TN, tok0 = gl_WorkGroupID.y * TM;
  const uint tr = tid % 32u, tt = tid / 32u;
  ivec4 acc[4] = ivec4[4](ivec4(0), ivec4(0), ivec4(0), ivec4(0));  // [token i][row tr + 32 r]
  for (uint blk = 0u; blk < a.kw / 4u; ++blk) {
    // Weights: TN rows x 4 words, two per invocation, each decoded into 5 words.
    for (uint e = tid; e < TN * 4u; e += WG) {
      const uint r = e / 4u, i = e % 4u, row = row0 + r;
      uvec2 d = b3_start_word(row < a.n ? a.w.v[row * a.kw + 4u * blk + i] : B3_ZERO_WORD);
      for (uint j = 0u; j < 5u; ++j) wtile[r * KS + 4u * j + i] = weights_of_codes(b3_next_codes_word(d));
    }
    // Activations: TM tokens x KB words.
    for (uint e = tid; e < TM * KB; e += WG) {
      const uint r = e / KB, c = e % KB;
      const uint tok = tok0 + r, xw = KB * blk + c;
      xtile[r * KS + c] = (tok < a.t && xw < a.x_stride) ? a.x.v[tok * a.x_stride + xw] : 0u;
    }
    barrier();
    for (uint c = 0u; c < KB; ++c) {
      const uvec4 wv = uvec4(wtile[tr * KS + c], wtile[(tr + 32u) * KS + c], wtile[(tr + 64u) * KS + c],
                             wtile[(tr + 96u) * KS + c]);
      for (uint i = 0u; i < 4u; ++i) {
        const uint xv = xtile[(4u * tt + i) * KS + c];
        acc[i] += ivec4(dot_ss(xv, wv.x), dot_ss(xv, wv.y), dot_ss(xv, wv.z), dot_ss(xv, wv.w));
      }
    }
    barrier();
  }
  for (uint i = 0u; i < 4u; ++i) {
    const uint tok = tok0 + 4u * tt + i;
    if (tok >= a.t) break;
    const float s = a.s.v[tok];
    for (uint r = 0u; r < 4u; ++r) {
      const uint row = row0 + tr + 32u * r;
      if (row < a.n) a.y.v[tok * a.ldy + row] = bitlinear_output(acc[i][r], s, a.w_scale);
    }
  }
}

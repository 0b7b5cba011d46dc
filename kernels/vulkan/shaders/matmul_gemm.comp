#version 460
// matmul_w2a8, GEMM form (prefill: many tokens): y[t, n] = (T · xq[t]) / s[t] * w_scale.
//
// Variants: INT_DOT=1 (OpSDot on packed bytes) and INT_DOT=0 (portable).
// A workgroup of 256 computes a tile of TM = 32 tokens x TN = 128 rows, stepping
// through k in chunks of KC = 4 code words (64 weights). Each chunk's weights
// are decoded once into signed int8 lanes in shared memory (so no Σx
// correction is needed) and each invocation accumulates a 4 x 4 block (tokens
// 4tt..4tt+3, rows tr + 32i): 8 shared loads feed 16 dot products. Shared rows
// are padded to 17 words so the 32 invocations reading different rows hit
// different banks; 11 KB of shared memory in all. Padding codes decode to 0,
// tokens past t read as 0.
#include "common.glsl"
#include "int_dot.glsl"
#include "exact_div.glsl"

const uint TM = 32u, TN = 128u, KC = 4u;
const uint KS = KC * 4u + 1u;  // padded shared row, in words

layout(push_constant) uniform Args {
  U32s x;  // int8 activations [t, x_stride words]
  F32s s;  // [t]
  U32s w;  // codes [n, kw words]
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
  for (uint kc0 = 0u; kc0 < a.kw; kc0 += KC) {
    // Weights: TN x KC code words, two per invocation, each decoded into 4 words.
    for (uint e = tid; e < TN * KC; e += WG) {
      const uint r = e / KC, c = e % KC;
      const uint row = row0 + r, g = kc0 + c;
      const uint word = (row < a.n && g < a.kw) ? a.w.v[row * a.kw + g] : 0x55555555u;
      for (uint j = 0u; j < 4u; ++j) wtile[r * KS + 4u * c + j] = weights_of(word, j);
    }
    // Activations: TM tokens x 4*KC words, two per invocation.
    for (uint e = tid; e < TM * KC * 4u; e += WG) {
      const uint r = e / (KC * 4u), c = e % (KC * 4u);
      const uint tok = tok0 + r, xw = 4u * kc0 + c;
      xtile[r * KS + c] = (tok < a.t && xw < 4u * a.kw) ? a.x.v[tok * a.x_stride + xw] : 0u;
    }
    barrier();
    for (uint c = 0u; c < KC * 4u; ++c) {
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

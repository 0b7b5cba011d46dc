#version 460
// Copies int8 activations [t, k] that start at any byte offset, or whose rows
// are not whole words, into rows of `row_words` 32-bit words (4 per word, the
// tail zero), the form the matmul shaders read. Only odd shapes need it; the
// model's activations are read in place. Grid: x over words, y = token row.
#include "common.glsl"

layout(push_constant) uniform Args {
  I8s src;  // [t, k]
  U32s dst; // [t, row_words]
  uint k;
  uint row_words;
} a;

void main() {
  const uint w = gl_GlobalInvocationID.x, row = gl_WorkGroupID.y;
  if (w >= a.row_words) return;
  uint word = 0u;
  for (uint b = 0u; b < 4u; ++b) {
    const uint i = 4u * w + b;
    if (i < a.k) word |= (uint(int(a.src.v[row * a.k + i])) & 0xffu) << (8u * b);
  }
  a.dst.v[row * a.row_words + w] = word;
}

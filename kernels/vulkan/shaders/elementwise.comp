#version 460
// Elementwise over n floats, grid-stride: OP_ADD y = a + b (y may alias a),
// OP_RELU2_MUL y = max(g, 0)^2 * u. Products are precise (no fused
// multiply-add), like the CPU backends.
#include "common.glsl"

layout(push_constant) uniform Args {
  F32s lhs;  // a, or g
  F32s rhs;  // b, or u
  F32s y;
  uint n;
} a;

void main() {
  for (uint i = gl_GlobalInvocationID.x; i < a.n; i += gl_NumWorkGroups.x * WG) {
#if OP_ADD
    precise float r = a.lhs.v[i] + a.rhs.v[i];
#else
    const float r = relu2_mul_one(a.lhs.v[i], a.rhs.v[i]);
#endif
    a.y.v[i] = r;
  }
}

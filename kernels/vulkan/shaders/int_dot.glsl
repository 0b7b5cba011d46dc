// Dot products of four packed 8-bit lanes, accumulated in int32.
//   dot_su(x, c): x signed int8 lanes, c unsigned lanes (ternary codes 0..2)
//   dot_ss(x, w): both signed
// INT_DOT=1: the SPIR-V instructions of SPV_KHR_integer_dot_product (OpSUDot,
// OpSDot, packed 4x8-bit format), for devices reporting
// shaderIntegerDotProduct; they are emitted directly because glslang predates
// the GLSL extension for them. INT_DOT=0: the portable path, lanes extracted
// with shifts and multiplied in int32 (works everywhere, exact the same).
#if INT_DOT
#extension GL_EXT_spirv_intrinsics : require
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4452)
int spirv_sudot_packed(uint a, uint b, spirv_literal int packed_4x8);
spirv_instruction(extensions = ["SPV_KHR_integer_dot_product"], capabilities = [6019, 6018], id = 4450)
int spirv_sdot_packed(uint a, uint b, spirv_literal int packed_4x8);

int dot_su(uint x, uint c) { return spirv_sudot_packed(x, c, 0); }
int dot_ss(uint x, uint w) { return spirv_sdot_packed(x, w, 0); }
#else
ivec4 signed_lanes(uint v) {
  return ivec4(bitfieldExtract(int(v), 0, 8), bitfieldExtract(int(v), 8, 8), bitfieldExtract(int(v), 16, 8),
               bitfieldExtract(int(v), 24, 8));
}
ivec4 unsigned_lanes(uint v) { return ivec4((uvec4(v) >> uvec4(0u, 8u, 16u, 24u)) & 0xffu); }

int dot_su(uint x, uint c) {
  const ivec4 a = signed_lanes(x), b = unsigned_lanes(c);
  return a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
}
int dot_ss(uint x, uint w) {
  const ivec4 a = signed_lanes(x), b = signed_lanes(w);
  return a.x * b.x + a.y * b.y + a.z * b.z + a.w * b.w;
}
#endif

// The weight layout (kernels/vulkan/weights.cpp): a 32-bit word holds 16
// weights of a row, weight 16g + 4j + b in bits 8b + 2j, as the code T + 1.
// codes_of(word, j): the four codes of weights 4j..4j+3 as unsigned lanes,
// matching activation word j of the group.
uint codes_of(uint word, uint j) { return (word >> (2u * j)) & 0x03030303u; }
// Four codes (0..2, one per byte lane) as signed int8 lanes T = code - 1:
// setting each lane's top bit before subtracting keeps borrows inside the lane.
uint weights_of_codes(uint codes) { return ((codes | 0x80808080u) - 0x01010101u) ^ 0x80808080u; }
// The same weights as codes_of, as signed int8 lanes.
uint weights_of(uint word, uint j) { return weights_of_codes(codes_of(word, j)); }

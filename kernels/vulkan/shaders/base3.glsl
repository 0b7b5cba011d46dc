// The b3x80 weight layout (kernels/vulkan/weights.h): a row is blocks of 16
// bytes (one uvec4) holding 80 weights in the base-3 byte encoding of
// kernels/cpu/base3.h, byte m holding weight 16j + m of the block as digit j.
// So digit j of all 16 bytes is the codes (c = T + 1) of the 16 weights that
// meet the block's activation vector j, one per byte lane.
//
// Digits come out of a byte by p -> 3p: the digit is (3p) >> 8 and the next p is
// (3p) mod 256. 3p needs 10 bits, so the bytes are split into even and odd
// lanes of 16 bits, where it cannot carry into the neighbouring lane.

// The zero byte (five codes 1): what padding holds, four to a word.
const uint B3_ZERO_WORD = 0x80808080u;

// A block split into its even bytes (lo) and odd bytes (hi), each in the low
// half of a 16-bit lane, ready for b3_next_codes.
struct B3Digits {
  uvec4 lo, hi;
};

B3Digits b3_start(uvec4 block) { return B3Digits(block & 0x00ff00ffu, (block >> 8u) & 0x00ff00ffu); }

// The next digit's codes of all 16 bytes, packed as the block's bytes are;
// advances d to the digit after it.
uvec4 b3_next_codes(inout B3Digits d) {
  const uvec4 lo3 = d.lo * 3u, hi3 = d.hi * 3u;
  d.lo = lo3 & 0x00ff00ffu;
  d.hi = hi3 & 0x00ff00ffu;
  return ((lo3 >> 8u) & 0x00030003u) | (hi3 & 0x03000300u);
}

// The same for one word of a block (the GEMM shader decodes word by word).
uint b3_next_codes_word(inout uvec2 d) {
  const uvec2 d3 = d * 3u;
  d = d3 & 0x00ff00ffu;
  return ((d3.x >> 8u) & 0x00030003u) | (d3.y & 0x03000300u);
}
uvec2 b3_start_word(uint word) { return uvec2(word & 0x00ff00ffu, (word >> 8u) & 0x00ff00ffu); }

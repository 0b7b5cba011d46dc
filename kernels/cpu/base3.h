// Base-3 packing of ternary codes, five per byte (3^5 = 243 <= 256): the byte
// encoding every 1.6-bit weight layout shares. Which five weights share a byte
// is the layout's business (each layout's header says); this is only the byte.
//
// Five codes c0..c4 in {0, 1, 2} (code = T + 1, as in the 2-bit layouts) form
// v = c0*81 + c1*27 + c2*9 + c3*3 + c4 (c0 most significant); the byte stored is
// q = ceil(v * 256 / 243). That scaling makes the digits come out by repeated
// multiplication by 3 with no division or table:
//   p0 = q;  c_j = (3 * p_j) >> 8;  p_{j+1} = (3 * p_j) mod 256
// (exhaustively true for all 243 values; test_base3 checks it). Byte-wise that is
// two byte adds and a compare-or-shift per digit, and it gives a linear identity
// kernels can use instead of extracting digits at all:
//   c_j = (3 * p_j - p_{j+1}) / 256,  exactly, as integers.
#pragma once
#include <cstdint>

namespace bitlab::cpu::base3 {

inline constexpr int kDigits = 5;

// The byte for five codes, c[0] most significant.
constexpr uint8_t encode(const uint8_t (&c)[kDigits]) {
  unsigned v = 0;
  for (const uint8_t cj : c) v = v * 3 + cj;
  return uint8_t((v * 256 + 242) / 243);
}

// Code j (0 = most significant) of byte q.
constexpr uint8_t digit(uint8_t q, int j) {
  unsigned p = q;
  for (int i = 0; i < j; ++i) p = (3 * p) & 0xffu;
  return uint8_t((3 * p) >> 8);
}

// All five codes of byte q, c[0] most significant.
constexpr void decode(uint8_t q, uint8_t (&c)[kDigits]) {
  unsigned p = q;
  for (uint8_t& cj : c) {
    cj = uint8_t((3 * p) >> 8);
    p = (3 * p) & 0xffu;
  }
}

// The byte of five zero weights (code 1 each): what padding past n or k holds.
inline constexpr uint8_t kZeroByte = encode({1, 1, 1, 1, 1});

}  // namespace bitlab::cpu::base3

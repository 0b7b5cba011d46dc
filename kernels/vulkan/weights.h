// The Vulkan backend's ternary weight layouts.
//
// t2x16 (2 bits per weight; model/weights/ternary_formats.h), words_per_row(k)
// per row: word g holds weights 16g..16g+15, weight 16g + 4j + b in bits
// 8b + 2j .. 8b + 2j + 1 as the code T + 1. Rows are padded to a multiple of 64
// weights (16 bytes, one vector load) with code 1 (T = 0). Still 2 bits per
// weight, but one shift and one mask turn a word into the four codes that meet
// activation word j of the group as packed bytes (int_dot.glsl: codes_of),
// ready for a 4x8-bit dot product.
//
// b3x80 (1.6 bits per weight), b3_words_per_row(k) per row: 16-byte blocks of
// 80 weights, five per byte in the base-3 byte encoding of kernels/cpu/base3.h.
// Byte m (0..15: byte m % 4 of word m / 4) of block B holds weight
// 80B + 16j + m as its digit j (j = 0 most significant). So digit j of the
// block's 16 bytes is weights 80B + 16j .. 80B + 16j + 15 in order: the same
// 16 bytes as the block's activation vector j, one code per byte lane, and the
// shader takes the digits of all 16 bytes at once (base3.glsl). Rows are
// padded to a multiple of 80 weights with the zero byte (every digit code 1).
//
// In both, fused parts are stacked along n, each part's rows in order.
#pragma once
#include <cstdint>
#include <vector>

#include "model/weights/ternary_formats.h"

namespace bitlab::vk {

inline int64_t words_per_row(int64_t k) { return (k + 63) / 64 * 4; }
// Canonical codes -> t2x16 words, n * words_per_row(k) of them.
inline std::vector<uint32_t> repack_t2x16(const CanonicalTernary& w) { return pack_t2x16(w, words_per_row(w.k)); }
// The inverse, for round-trip tests: row-major values in {-1, 0, +1}.
std::vector<int8_t> unpack_t2x16(const uint32_t* words, int64_t n, int64_t k);

inline constexpr int64_t kB3BlockWeights = 80;  // per 16-byte block
inline int64_t b3_words_per_row(int64_t k) { return (k + kB3BlockWeights - 1) / kB3BlockWeights * 4; }
// Canonical codes -> b3x80 words, n * b3_words_per_row(k) of them.
std::vector<uint32_t> repack_b3x80(const CanonicalTernary& w);
// The inverse, for round-trip tests: row-major values in {-1, 0, +1}. Pass a
// k up to b3_words_per_row(k) * 20 to read the padding too.
std::vector<int8_t> unpack_b3x80(const uint32_t* words, int64_t n, int64_t k);

}  // namespace bitlab::vk

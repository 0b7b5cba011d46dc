// The Vulkan backend's ternary weight layout: t2x16 words
// (model/weights/ternary_formats.h), words_per_row(k) per row: word g holds
// weights 16g..16g+15, weight 16g + 4j + b in bits 8b + 2j .. 8b + 2j + 1 as
// the code T + 1. Rows are padded to a multiple of 64 weights (16 bytes, one
// vector load) with code 1 (T = 0). Still 2 bits per weight, but one shift and
// one mask turn a word into the four codes that meet activation word j of the
// group as packed bytes (int_dot.glsl: codes_of), ready for a 4x8-bit dot
// product. Fused parts are stacked along n, each part's rows in order.
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

}  // namespace bitlab::vk

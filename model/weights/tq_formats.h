// llama.cpp's ternary types (ggml-common.h block_tq2_0 / block_tq1_0,
// ggml-quants.c quantize_row_tq*_ref / dequantize_row_tq*), rows of k weights
// cut into blocks of 256, each block closed by an fp16 scale d. A weight is
// (code - 1) * d with codes c = T + 1 as in canonical.h.
//
//  - TQ2_0 (GGUF type 35), 66 bytes per block: qs[64] then d. Element j of a
//    block sits in byte 32 * (j / 128) + j % 32 at bit shift 2 * ((j % 128) / 32).
//  - TQ1_0 (GGUF type 34), 54 bytes per block: qs[48], qh[4], then d. Base-3
//    digits, five per byte (four in qh), the first element the most
//    significant digit, and the byte holding ceil(value * 256 / 243) so that
//    a digit comes out as ((uint8_t)(q * 3^n) * 3) >> 8. qs[0..31] hold
//    elements m + 32 n (n = 0..4) of the block, qs[32..47] elements
//    160 + m + 16 n, qh[j] elements 240 + j + 4 n (n = 0..3).
//
// The exporter stores the same d in every block of a tensor: 1 when the
// tensor's scale travels in a separate `.scale` tensor (exact), else the fp16
// of the scale.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "model/weights/canonical.h"

namespace bitlab {

inline constexpr int64_t kTqBlock = 256;

uint64_t tq2_0_bytes(int64_t n, int64_t k);  // n * k / 256 * 66; k must be a multiple of 256
uint64_t tq1_0_bytes(int64_t n, int64_t k);  // n * k / 256 * 54

// Packs `w` with `d` (rounded to fp16) in every block. Throws UsageError naming
// the matrix if k is not a multiple of 256 or `out` has the wrong size.
void encode_tq2_0(const CanonicalTernary& w, float d, std::span<uint8_t> out);
void encode_tq1_0(const CanonicalTernary& w, float d, std::span<uint8_t> out);

// The inverses; the scale is the blocks' d, which must be the same in every
// block. Throws InputError naming `name` and the block of a code 3 (TQ2_0), a
// byte that is no base-3 packing (TQ1_0) or a differing d.
CanonicalTernary decode_tq2_0(std::string name, int64_t n, int64_t k, std::span<const uint8_t> bytes);
CanonicalTernary decode_tq1_0(std::string name, int64_t n, int64_t k, std::span<const uint8_t> bytes);

}  // namespace bitlab

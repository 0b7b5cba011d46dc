// Conversions between the canonical 2-bit form (canonical.h) and the layouts
// real checkpoints use (DESIGN §3). All take and give codes c = T + 1.
//
//  - I2_S, bitnet.cpp's x86 layout (GGUF type 36): the [n, k] matrix flattened
//    row-major and cut into blocks of 128 codes held in 32 bytes; code j of a
//    block sits in byte j % 32 at bit shift 6 - 2 * (j / 32). One fp32 scale
//    for the whole tensor follows the n*k/4 packed bytes (padded to 32 bytes).
//  - Hugging Face packed uint8 (shape [n/4, k]): bits 2j..2j+1 of packed row p
//    hold output row j * (n/4) + p, i.e. four blocks of rows along n.
//  - Master weights (bf16/fp32 [n, k]): quantised with w_scale = mean|W|
//    (clamped at 1e-5) and T = clamp(round(W / w_scale), -1, 1).
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "model/weights/canonical.h"

namespace bitlab {

// Decodes I2_S bytes (codes, then the fp32 scale at offset n*k/4). Throws
// InputError naming `name` and the byte offset of a code 3 or a bad scale.
CanonicalTernary decode_i2s(std::string name, int64_t n, int64_t k, std::span<const uint8_t> bytes);
// Packs `w` into I2_S: n*k/4 code bytes, the scale, and zeros up to +32 bytes.
void encode_i2s(const CanonicalTernary& w, std::span<uint8_t> out);

// Decodes a Hugging Face packed uint8 tensor [n/4, k]; the scale comes separately.
CanonicalTernary decode_hf_packed(std::string name, int64_t n, int64_t k, std::span<const uint8_t> packed,
                                  float scale);
void encode_hf_packed(const CanonicalTernary& w, std::span<uint8_t> out);

// Absmean quantisation of master weights W [n, k] (fp32 values).
CanonicalTernary quantize_absmean(std::string name, int64_t n, int64_t k, std::span<const float> w);

}  // namespace bitlab

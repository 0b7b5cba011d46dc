// ik_llama.cpp's BitNet types (ggml-common.h block_iq2_bn / block_iq1_bn,
// iqk/iqk_quantize.cpp quantize_one_row_*bn / dequantize_row_iq*_bn). Their
// GGUF type ids are ik_llama.cpp's own (mainline llama.cpp does not read them).
// Every row of k weights starts with its scale (ggml's "row meta"), then k / 64
// blocks; codes c = T + 1 as in canonical.h.
//
//  - IQ2_BN (type 135): an fp32 row scale, then 16 bytes per block; element j
//    of a block in byte j % 16 at bit shift 2 * (j / 16). 4 + k / 4 bytes a row.
//  - IQ1_BN (type 134): an fp16 row scale, then 13 bytes per block: ql[12] and
//    extra. Group g = 0..3 of 16 elements: ql[3g + t] (t = 0..2) holds
//    elements 16g + 5t .. 16g + 5t + 4 as base-3 digits with the FIRST element
//    the LEAST significant, extra holds element 16g + 15 as digit g (least
//    significant first); each byte is ceil(value * 256 / 243), a digit comes
//    out as ((uint8_t)(q * 3^(4 - digit)) * 3) >> 8. 2 + 13 * k / 64 bytes a row.
//
// The exporter writes the tensor's scale in every row: exact for IQ2_BN, the
// fp16 rounding of it for IQ1_BN (or 1 when a `.scale` tensor carries it).
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "model/weights/canonical.h"

namespace bitlab {

inline constexpr int64_t kBnBlock = 64;

uint64_t iq2_bn_row_bytes(int64_t k);  // 4 + k / 4
uint64_t iq1_bn_row_bytes(int64_t k);  // 2 + 13 * k / 64

// Packs `w` with `row_scale` at the start of every row (fp32 for IQ2_BN, fp16
// for IQ1_BN). Throws UsageError naming the matrix if k is not a multiple of
// 64 or `out` is not n row_bytes.
void encode_iq2_bn(const CanonicalTernary& w, float row_scale, std::span<uint8_t> out);
void encode_iq1_bn(const CanonicalTernary& w, float row_scale, std::span<uint8_t> out);

// The inverses; the scale is the rows' scale, which must be the same in every
// row. InputError naming `name` and the row of a code 3, a byte that is no
// base-3 packing or a differing scale.
CanonicalTernary decode_iq2_bn(std::string name, int64_t n, int64_t k, std::span<const uint8_t> bytes);
CanonicalTernary decode_iq1_bn(std::string name, int64_t n, int64_t k, std::span<const uint8_t> bytes);

}  // namespace bitlab

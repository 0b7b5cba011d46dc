// Ternary matrices as plain fp16 values, the input llama.cpp's and
// ik_llama.cpp's llama-quantize turn into any of their own types.
//
// Element T[r, i] is stored as the fp16 of T * value_scale, row-major, ggml
// dims [k, n]. With value_scale = 1 the values are exactly -1, 0, +1 and the
// tensor scale travels separately (a `.scale` tensor); otherwise the fp16
// rounding of value_scale is what a reader gets back.
#pragma once
#include <cstdint>
#include <span>
#include <string>

#include "model/weights/canonical.h"

namespace bitlab {

// IEEE fp32 -> fp16, round to nearest even (as ggml's GGML_FP32_TO_FP16);
// overflow gives infinity, NaN stays NaN.
uint16_t f32_to_f16(float f);
// True if `f` survives fp32 -> fp16 -> fp32 unchanged.
bool exact_in_f16(float f);

// n * k * 2 bytes.
uint64_t f16_ternary_bytes(int64_t n, int64_t k);
void encode_f16_ternary(const CanonicalTernary& w, float value_scale, std::span<uint8_t> out);
// The inverse: every non-zero value must have the same magnitude, which becomes
// the scale (1 for an all-zero matrix). Throws InputError naming `name` and
// the element of a value that is not 0 or +-that magnitude.
CanonicalTernary decode_f16_ternary(std::string name, int64_t n, int64_t k, std::span<const uint8_t> bytes);

}  // namespace bitlab

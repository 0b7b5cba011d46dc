// Helpers shared by the NEON float kernels (baseline Armv8-A only).
#pragma once
#include <cstdint>

namespace bitlab::cpu::neon {

// The bit pattern of max |x_i| over k values, as an unsigned integer max of
// the |x_i| patterns: the numeric order for non-negative floats, with every
// NaN above +Inf, so a NaN propagates (FMAX/FMAXNM would not do it exactly).
uint32_t absmax_bits(const float* x, int64_t k);
// s from the absmax, then q = clamp(round_half_even(x * s), -128, 127), bit-exact
// with the reference, non-finite rows included (model/reference.h).
void quantize_with_absmax(const float* x, int64_t k, uint32_t absmax_bits, int8_t* q, float* s);
// 1 / sqrt(mean(x^2) + eps), squares summed in double as the reference does.
double inv_rms(const float* x, int64_t d, float eps);

}  // namespace bitlab::cpu::neon

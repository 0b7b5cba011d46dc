// Helpers shared by the NEON float kernels (baseline Armv8-A only).
#pragma once
#include <cstdint>

namespace bitlab::cpu::neon {

// max |x_i| over k values, NaNs ignored (as std::max(absmax, |x|) does).
float absmax(const float* x, int64_t k);
// q = clamp(round_half_even(x * scale), -128, 127), bit-exact with the reference.
void quantize_with(const float* x, int64_t k, float scale, int8_t* q);
// 1 / sqrt(mean(x^2) + eps), squares summed in double as the reference does.
double inv_rms(const float* x, int64_t d, float eps);

}  // namespace bitlab::cpu::neon

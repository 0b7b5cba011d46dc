// Tied LM head (bf16 embedding table, or its int8 quantisation) and argmax,
// scalar variant. Each vocabulary row is converted once and dotted with every
// token row.
#include <cmath>

#include "kernels/cpu/scalar/scalar_kernels.h"
#include "model/tensor.h"

namespace bitlab::cpu::scalar {

void lm_head(const float* x, int64_t t, int64_t d, const uint16_t* table, int64_t v0, int64_t v1, float* logits,
             int64_t ld_logits) {
  for (int64_t v = v0; v < v1; ++v) {
    const uint16_t* row = table + v * d;
    for (int64_t tok = 0; tok < t; ++tok) {
      const float* xr = x + tok * d;
      float dot = 0.0f;
      for (int64_t i = 0; i < d; ++i) dot += xr[i] * bf16_to_f32(row[i]);
      logits[tok * ld_logits + v] = dot;
    }
  }
}

void lm_head_i8(const int8_t* xq, const float* s_x, int64_t t, int64_t d, const int8_t* q, const float* s_v,
                int64_t v0, int64_t v1, float* logits, int64_t ld_logits) {
  for (int64_t v = v0; v < v1; ++v) {
    const int8_t* row = q + v * d;
    for (int64_t tok = 0; tok < t; ++tok) {
      const int8_t* xr = xq + tok * d;
      int32_t acc = 0;
      for (int64_t i = 0; i < d; ++i) acc += int32_t(row[i]) * int32_t(xr[i]);
      logits[tok * ld_logits + v] = float(acc) / s_x[tok] / s_v[v];
    }
  }
}

int64_t argmax(const float* logits, int64_t v) {
  int64_t best = 0;
  for (int64_t i = 1; i < v; ++i)
    if (logits[i] > logits[best] || std::isnan(logits[best])) best = i;
  return best;
}

}  // namespace bitlab::cpu::scalar

// Elementwise ops and the embedding lookup, scalar variant.
#include <algorithm>

#include "kernels/cpu/scalar/scalar_kernels.h"
#include "model/tensor.h"

namespace bitlab::cpu::scalar {

void relu2_mul(const float* g, const float* u, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    const float r = std::max(g[i], 0.0f);
    y[i] = r * r * u[i];
  }
}

void add(const float* a, const float* b, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void embed_row(const uint16_t* table_row, int64_t d, float* out) {
  for (int64_t i = 0; i < d; ++i) out[i] = bf16_to_f32(table_row[i]);
}

}  // namespace bitlab::cpu::scalar

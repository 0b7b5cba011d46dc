// Per-token absmax int8 quantisation, scalar variant; bit-exact with
// ref::quantize_act (same fp32 product, same round-half-even, same clamp).
#include <algorithm>
#include <cmath>

#include "kernels/cpu/scalar/scalar_kernels.h"

namespace bitlab::cpu::scalar {

void quantize_row(const float* x, int64_t k, int8_t* q, float* s) {
  float absmax = 0.0f;
  for (int64_t i = 0; i < k; ++i) absmax = std::max(absmax, std::fabs(x[i]));
  const float scale = 127.0f / std::max(absmax, 1e-5f);
  for (int64_t i = 0; i < k; ++i) q[i] = int8_t(std::clamp(std::nearbyint(x[i] * scale), -128.0f, 127.0f));
  *s = scale;
}

}  // namespace bitlab::cpu::scalar

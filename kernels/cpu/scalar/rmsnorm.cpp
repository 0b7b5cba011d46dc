// RMSNorm and RMSNorm fused with int8 quantisation, scalar variant.
// Sums of squares accumulate in fp32 (the reference uses double), so results
// agree with the reference to about 1e-7 relative.
#include <cmath>
#include <vector>

#include "kernels/cpu/scalar/scalar_kernels.h"

namespace bitlab::cpu::scalar {

void rmsnorm_row(const float* x, const float* w, int64_t d, float eps, float* y) {
  float sum_sq = 0.0f;
  for (int64_t i = 0; i < d; ++i) sum_sq += x[i] * x[i];
  const float inv_rms = 1.0f / std::sqrt(sum_sq / float(d) + eps);
  for (int64_t i = 0; i < d; ++i) y[i] = x[i] * inv_rms * w[i];
}

void rmsnorm_quant_row(const float* x, const float* w, int64_t d, float eps, int8_t* q, float* s) {
  thread_local std::vector<float> normed;
  normed.resize(size_t(d));
  rmsnorm_row(x, w, d, eps, normed.data());
  quantize_row(normed.data(), d, q, s);
}

}  // namespace bitlab::cpu::scalar

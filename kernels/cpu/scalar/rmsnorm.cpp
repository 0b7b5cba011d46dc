// RMSNorm and RMSNorm fused with int8 quantisation, scalar variant.
// The sum of squares and the scaling run in double, in the reference's order:
// an fp32 sum would differ from the reference in the last bits, and that is
// enough to flip an int8 rounding in the quantisation that follows and move
// the end-to-end logits by ~1e-5 NMSE. Norms are a tiny share of the work.
#include <cmath>
#include <vector>

#include "kernels/cpu/scalar/scalar_kernels.h"

namespace bitlab::cpu::scalar {

void rmsnorm_row(const float* x, const float* w, int64_t d, float eps, float* y) {
  double sum_sq = 0.0;
  for (int64_t i = 0; i < d; ++i) sum_sq += double(x[i]) * x[i];
  const double inv_rms = 1.0 / std::sqrt(sum_sq / double(d) + double(eps));
  for (int64_t i = 0; i < d; ++i) y[i] = float(double(x[i]) * inv_rms * w[i]);
}

void rmsnorm_quant_row(const float* x, const float* w, int64_t d, float eps, int8_t* q, float* s) {
  thread_local std::vector<float> normed;
  normed.resize(size_t(d));
  rmsnorm_row(x, w, d, eps, normed.data());
  quantize_row(normed.data(), d, q, s);
}

}  // namespace bitlab::cpu::scalar

// Per-token absmax int8 quantisation, scalar variant; bit-exact with
// ref::quantize_act (same fp32 product, same round-half-even, same clamp, and
// the same non-finite rule, model/reference.h: a row holding NaN gets s = NaN,
// one holding ±Inf s = +0, and either gets all-zero codes).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "kernels/cpu/scalar/scalar_kernels.h"

namespace bitlab::cpu::scalar {

void quantize_row(const float* x, int64_t k, int8_t* q, float* s) {
  float absmax = 0.0f;
  bool has_nan = false;
  for (int64_t i = 0; i < k && !has_nan; ++i) {
    has_nan = std::isnan(x[i]);
    absmax = std::max(absmax, std::fabs(x[i]));  // drops a NaN: has_nan keeps it
  }
  if (has_nan || std::isinf(absmax)) {
    *s = has_nan ? std::numeric_limits<float>::quiet_NaN() : 0.0f;
    std::memset(q, 0, size_t(k));
    return;
  }
  const float scale = 127.0f / std::max(absmax, 1e-5f);
  for (int64_t i = 0; i < k; ++i) q[i] = int8_t(std::clamp(std::nearbyint(x[i] * scale), -128.0f, 127.0f));
  *s = scale;
}

}  // namespace bitlab::cpu::scalar

// Rotate-half RoPE on one token row, scalar variant. The angle, its sine and
// cosine and the rotation are computed in double and rounded once, as the
// reference does, so the scalar backend tracks the oracle end to end; the
// sines are computed once per pair index and shared by all heads of the row.
#include <cmath>
#include <vector>

#include "kernels/cpu/scalar/scalar_kernels.h"

namespace bitlab::cpu::scalar {

void rope_row(float* x, int64_t n_heads, int64_t head_dim, int64_t pos, double theta) {
  const int64_t half = head_dim / 2;
  thread_local std::vector<double> cs;
  cs.resize(size_t(2 * half));
  for (int64_t i = 0; i < half; ++i) {
    const double angle = double(pos) * std::pow(theta, -2.0 * double(i) / double(head_dim));
    cs[size_t(2 * i)] = std::cos(angle);
    cs[size_t(2 * i + 1)] = std::sin(angle);
  }
  for (int64_t h = 0; h < n_heads; ++h) {
    float* head = x + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const double c = cs[size_t(2 * i)], sn = cs[size_t(2 * i + 1)];
      const double a = head[i], b = head[i + half];
      head[i] = float(a * c - b * sn);
      head[i + half] = float(a * sn + b * c);
    }
  }
}

}  // namespace bitlab::cpu::scalar

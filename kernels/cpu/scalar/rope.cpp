// Rotate-half RoPE on one token row, scalar variant. The angle and its sine
// and cosine are computed in double (as the reference does) once per pair
// index and shared by all heads of the row.
#include <cmath>
#include <vector>

#include "kernels/cpu/scalar/scalar_kernels.h"

namespace bitlab::cpu::scalar {

void rope_row(float* x, int64_t n_heads, int64_t head_dim, int64_t pos, double theta) {
  const int64_t half = head_dim / 2;
  thread_local std::vector<float> cs;
  cs.resize(size_t(2 * half));
  for (int64_t i = 0; i < half; ++i) {
    const double angle = double(pos) * std::pow(theta, -2.0 * double(i) / double(head_dim));
    cs[size_t(2 * i)] = float(std::cos(angle));
    cs[size_t(2 * i + 1)] = float(std::sin(angle));
  }
  for (int64_t h = 0; h < n_heads; ++h) {
    float* head = x + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const float c = cs[size_t(2 * i)], sn = cs[size_t(2 * i + 1)];
      const float a = head[i], b = head[i + half];
      head[i] = a * c - b * sn;
      head[i + half] = a * sn + b * c;
    }
  }
}

}  // namespace bitlab::cpu::scalar

// Rotate-half RoPE on one token row, scalar variant. The angle, its sine and
// cosine and the rotation are computed in double and rounded once, as the
// reference does, so the scalar backend tracks the oracle end to end. The
// angles are a table of their own (rope_angles, one row of head_dim / 2 cosine
// and sine pairs per position), which the backend computes once for the q and
// k rows of a call and keeps for every layer at the same positions.
#include <cmath>

#include "kernels/cpu/scalar/scalar_kernels.h"

namespace bitlab::cpu {

void rope_angles(int64_t pos, int64_t head_dim, double theta, double* cs) {
  for (int64_t i = 0; i < head_dim / 2; ++i) {
    const double angle = double(pos) * std::pow(theta, -2.0 * double(i) / double(head_dim));
    cs[2 * i] = std::cos(angle);
    cs[2 * i + 1] = std::sin(angle);
  }
}

namespace scalar {

void rope_row(float* x, int64_t n_heads, int64_t head_dim, const double* cs) {
  const int64_t half = head_dim / 2;
  for (int64_t h = 0; h < n_heads; ++h) {
    float* head = x + h * head_dim;
    for (int64_t i = 0; i < half; ++i) {
      const double c = cs[2 * i], sn = cs[2 * i + 1];
      const double a = head[i], b = head[i + half];
      head[i] = float(a * c - b * sn);
      head[i + half] = float(a * sn + b * c);
    }
  }
}

}  // namespace scalar
}  // namespace bitlab::cpu

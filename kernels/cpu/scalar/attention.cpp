// Attention for one query head over the KV cache, scalar variant: scores,
// max-subtracted softmax and the weighted sum of values, all in fp32.
#include <algorithm>
#include <cmath>

#include "kernels/cpu/scalar/scalar_kernels.h"

namespace bitlab::cpu::scalar {

void attention_head(const float* q, const float* k_cache, const float* v_cache, int64_t n_keys, int64_t head_dim,
                    int64_t kv_stride, float* out, float* scratch) {
  const float scale = 1.0f / std::sqrt(float(head_dim));
  float max_score = -INFINITY;
  for (int64_t j = 0; j < n_keys; ++j) {
    const float* kj = k_cache + j * kv_stride;
    float dot = 0.0f;
    for (int64_t i = 0; i < head_dim; ++i) dot += q[i] * kj[i];
    scratch[j] = dot * scale;
    max_score = std::max(max_score, scratch[j]);
  }
  float denom = 0.0f;
  for (int64_t j = 0; j < n_keys; ++j) {
    scratch[j] = std::exp(scratch[j] - max_score);
    denom += scratch[j];
  }
  std::fill(out, out + head_dim, 0.0f);
  for (int64_t j = 0; j < n_keys; ++j) {
    const float* vj = v_cache + j * kv_stride;
    const float p = scratch[j] / denom;
    for (int64_t i = 0; i < head_dim; ++i) out[i] += p * vj[i];
  }
}

}  // namespace bitlab::cpu::scalar

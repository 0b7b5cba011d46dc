// Attention for one query head over the KV cache, scalar variant: scores,
// max-subtracted softmax and the weighted sum of values. Scores and the output
// accumulate in double and the output is rounded once, so the scalar backend
// tracks the oracle closely enough that int8 roundings downstream agree.
#include <algorithm>
#include <cmath>
#include <vector>

#include "kernels/cpu/scalar/scalar_kernels.h"

namespace bitlab::cpu::scalar {

void attention_head(const float* q, const float* k_cache, const float* v_cache, int64_t n_keys, int64_t head_dim,
                    int64_t kv_stride, float* out, float* scratch) {
  (void)scratch;
  const double scale = 1.0 / std::sqrt(double(head_dim));
  thread_local std::vector<double> score, acc;
  score.resize(size_t(n_keys));
  acc.assign(size_t(head_dim), 0.0);
  double max_score = -INFINITY;
  for (int64_t j = 0; j < n_keys; ++j) {
    const float* kj = k_cache + j * kv_stride;
    double dot = 0.0;
    for (int64_t i = 0; i < head_dim; ++i) dot += double(q[i]) * kj[i];
    score[size_t(j)] = dot * scale;
    max_score = std::max(max_score, score[size_t(j)]);
  }
  double denom = 0.0;
  for (double& sc : score) {
    sc = std::exp(sc - max_score);
    denom += sc;
  }
  for (int64_t j = 0; j < n_keys; ++j) {
    const float* vj = v_cache + j * kv_stride;
    for (int64_t i = 0; i < head_dim; ++i) acc[size_t(i)] += score[size_t(j)] * vj[i];
  }
  for (int64_t i = 0; i < head_dim; ++i) out[i] = float(acc[size_t(i)] / denom);
}

}  // namespace bitlab::cpu::scalar

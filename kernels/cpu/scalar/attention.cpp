// Attention over the KV cache, scalar variant: one query head
// (attention_head), and a block of queries sharing one kv head
// (attention_group), each with scores, max-subtracted softmax and the weighted
// sum of values. Scores and the output accumulate in double and the output is
// rounded once, so the scalar backend tracks the oracle closely enough that
// int8 roundings downstream agree. The group runs each query's sums in the
// same order as attention_head, with the key loop outermost so that a key or
// value row is read once for the block: the results are bit-identical.
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

void attention_group(const float* const* q, float* const* out, const int64_t* n_keys, int64_t n_queries,
                     const float* k_cache, const float* v_cache, int64_t head_dim, int64_t kv_stride, float* scratch) {
  (void)scratch;
  const double scale = 1.0 / std::sqrt(double(head_dim));
  const size_t nq = size_t(n_queries), hd = size_t(head_dim);
  int64_t max_keys = 0;
  for (size_t c = 0; c < nq; ++c) max_keys = std::max(max_keys, n_keys[c]);
  // Query c's scores at score[c * max_keys ...], its output sums at acc[c * hd ...].
  thread_local std::vector<double> score, acc, max_score, denom;
  score.resize(nq * size_t(max_keys));
  acc.assign(nq * hd, 0.0);
  max_score.assign(nq, -INFINITY);
  denom.assign(nq, 0.0);
  for (int64_t j = 0; j < max_keys; ++j) {
    const float* kj = k_cache + j * kv_stride;
    for (size_t c = 0; c < nq; ++c) {
      if (j >= n_keys[c]) continue;
      double dot = 0.0;
      for (size_t i = 0; i < hd; ++i) dot += double(q[c][i]) * kj[i];
      double& sc = score[c * size_t(max_keys) + size_t(j)];
      sc = dot * scale;
      max_score[c] = std::max(max_score[c], sc);
    }
  }
  for (size_t c = 0; c < nq; ++c)
    for (int64_t j = 0; j < n_keys[c]; ++j) {
      double& sc = score[c * size_t(max_keys) + size_t(j)];
      sc = std::exp(sc - max_score[c]);
      denom[c] += sc;
    }
  for (int64_t j = 0; j < max_keys; ++j) {
    const float* vj = v_cache + j * kv_stride;
    for (size_t c = 0; c < nq; ++c) {
      if (j >= n_keys[c]) continue;
      const double p = score[c * size_t(max_keys) + size_t(j)];
      double* a = acc.data() + c * hd;
      for (size_t i = 0; i < hd; ++i) a[i] += p * vj[i];
    }
  }
  for (size_t c = 0; c < nq; ++c)
    for (size_t i = 0; i < hd; ++i) out[c][i] = float(acc[c * hd + i] / denom[c]);
}

}  // namespace bitlab::cpu::scalar

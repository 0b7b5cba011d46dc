#include "model/reference.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <fmt/format.h>

#include "model/error.h"
#include "model/tensor.h"

namespace bitlab::ref {

float act_absmax(const float* x, int64_t k) {
  float absmax = 0.0f;
  for (int64_t i = 0; i < k; ++i) {
    if (std::isnan(x[i])) return std::numeric_limits<float>::quiet_NaN();
    absmax = std::max(absmax, std::fabs(x[i]));
  }
  return absmax;
}

float act_scale(const float* x, int64_t k) {
  const float absmax = act_absmax(x, k);
  // Spelled out: std::max would drop the NaN, and 127 / NaN would keep its payload.
  if (std::isnan(absmax)) return std::numeric_limits<float>::quiet_NaN();
  return 127.0f / std::max(absmax, 1e-5f);  // absmax +Inf gives +0
}

int8_t quantize_one(float x, float s) {
  const float product = x * s;
  if (std::isnan(product)) return 0;  // the non-finite rule above
  // nearbyint rounds in the current mode, which is round-half-to-even by default.
  const float r = std::nearbyint(product);
  return int8_t(std::clamp(r, -128.0f, 127.0f));
}

void quantize_act(const float* x, int64_t t, int64_t k, int8_t* q, float* s) {
  for (int64_t row = 0; row < t; ++row) {
    const float* xr = x + row * k;
    s[row] = act_scale(xr, k);
    for (int64_t i = 0; i < k; ++i) q[row * k + i] = quantize_one(xr[i], s[row]);
  }
}

int32_t ternary_dot(const uint8_t* packed_row, const int8_t* xq, int64_t k) {
  int32_t acc = 0;
  for (int64_t i = 0; i < k; ++i) {
    const int code = (packed_row[i / 4] >> (2 * (i % 4))) & 3;  // T + 1
    const int t = code - 1;
    acc += t * xq[i];
  }
  return acc;
}

void matmul_w2a8(const int8_t* xq, const float* s, int64_t t, const uint8_t* packed, int64_t n, int64_t k,
                 float w_scale, float* y, int64_t ldy) {
  // Each row is decoded to T once and dotted with every token: the same exact
  // int32 sums as ternary_dot (integer addition does not depend on order), in
  // a loop the compiler vectorises, so the oracle runs 256 tokens through all
  // 30 layers in minutes rather than hours.
  const int64_t row_bytes = (k + 3) / 4;
  std::vector<int8_t> w(static_cast<size_t>(k));
  for (int64_t row = 0; row < n; ++row) {
    const uint8_t* codes = packed + row * row_bytes;
    for (int64_t i = 0; i < k; ++i) w[size_t(i)] = int8_t(((codes[i / 4] >> (2 * (i % 4))) & 3) - 1);
    for (int64_t tok = 0; tok < t; ++tok) {
      const int8_t* x = xq + tok * k;
      int32_t acc = 0;
      for (int64_t i = 0; i < k; ++i) acc += int32_t(w[size_t(i)]) * int32_t(x[i]);
      y[tok * ldy + row] = float(acc) / s[tok] * w_scale;
    }
  }
}

void rmsnorm(const float* x, const float* w, int64_t t, int64_t d, float eps, float* y) {
  for (int64_t row = 0; row < t; ++row) {
    const float* xr = x + row * d;
    double sum_sq = 0.0;
    for (int64_t i = 0; i < d; ++i) sum_sq += double(xr[i]) * xr[i];
    const double inv_rms = 1.0 / std::sqrt(sum_sq / double(d) + double(eps));
    for (int64_t i = 0; i < d; ++i) y[row * d + i] = float(double(xr[i]) * inv_rms * w[i]);
  }
}

void rope(float* x, int64_t t, const RopeParams& p) {
  const int64_t half = p.head_dim / 2;
  for (int64_t row = 0; row < t; ++row) {
    const double pos = double(p.pos0 + row);
    for (int64_t h = 0; h < p.n_heads; ++h) {
      float* head = x + row * p.n_heads * p.head_dim + h * p.head_dim;
      for (int64_t i = 0; i < half; ++i) {
        const double freq = std::pow(p.theta, -2.0 * double(i) / double(p.head_dim));
        const double c = std::cos(pos * freq), sn = std::sin(pos * freq);
        const double a = head[i], b = head[i + half];
        head[i] = float(a * c - b * sn);
        head[i + half] = float(a * sn + b * c);
      }
    }
  }
}

void attention(const float* q, const float* k_cache, const float* v_cache, int64_t t, const AttentionParams& p,
               float* out) {
  const int64_t hd = p.head_dim, group = p.n_heads / p.n_kv_heads;
  const int64_t q_dim = p.n_heads * hd, kv_dim = p.n_kv_heads * hd;
  const double scale = 1.0 / std::sqrt(double(hd));
  std::vector<double> score;
  std::vector<double> acc(static_cast<size_t>(hd));
  for (int64_t row = 0; row < t; ++row) {
    const int64_t n_keys = p.pos0 + row + 1;  // causal: positions 0..pos0+row
    score.assign(size_t(n_keys), 0.0);
    for (int64_t h = 0; h < p.n_heads; ++h) {
      const int64_t kvh = h / group;
      const float* qh = q + row * q_dim + h * hd;
      double max_score = -INFINITY;
      for (int64_t j = 0; j < n_keys; ++j) {
        const float* kj = k_cache + j * kv_dim + kvh * hd;
        double dot = 0.0;
        for (int64_t i = 0; i < hd; ++i) dot += double(qh[i]) * kj[i];
        score[size_t(j)] = dot * scale;
        max_score = std::max(max_score, score[size_t(j)]);
      }
      double denom = 0.0;
      for (double& sc : score) {
        sc = std::exp(sc - max_score);
        denom += sc;
      }
      std::fill(acc.begin(), acc.end(), 0.0);
      for (int64_t j = 0; j < n_keys; ++j) {
        const float* vj = v_cache + j * kv_dim + kvh * hd;
        for (int64_t i = 0; i < hd; ++i) acc[size_t(i)] += score[size_t(j)] * vj[i];
      }
      for (int64_t i = 0; i < hd; ++i) out[row * q_dim + h * hd + i] = float(acc[size_t(i)] / denom);
    }
  }
}

void relu2_mul(const float* g, const float* u, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) {
    const double r = std::max(g[i], 0.0f);
    y[i] = float(r * r * u[i]);
  }
}

void add(const float* a, const float* b, int64_t n, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void embed(const int32_t* tokens, int64_t t, const uint16_t* table, int64_t vocab, int64_t d, float* out) {
  for (int64_t row = 0; row < t; ++row) {
    const int32_t id = tokens[row];
    if (id < 0 || id >= vocab) throw UsageError(fmt::format("embed: token id {} outside [0, {})", id, vocab));
    for (int64_t i = 0; i < d; ++i) out[row * d + i] = bf16_to_f32(table[int64_t(id) * d + i]);
  }
}

void lm_head(const float* x, int64_t t, const uint16_t* table, int64_t vocab, int64_t d, float* logits) {
  for (int64_t row = 0; row < t; ++row)
    for (int64_t v = 0; v < vocab; ++v) {
      double dot = 0.0;
      for (int64_t i = 0; i < d; ++i) dot += double(x[row * d + i]) * bf16_to_f32(table[v * d + i]);
      logits[row * vocab + v] = float(dot);
    }
}

void quantize_head(const uint16_t* table, int64_t vocab, int64_t d, int8_t* q, float* s) {
  std::vector<float> row(static_cast<size_t>(d));
  for (int64_t v = 0; v < vocab; ++v) {
    for (int64_t i = 0; i < d; ++i) row[size_t(i)] = bf16_to_f32(table[v * d + i]);
    quantize_act(row.data(), 1, d, q + v * d, s + v);
  }
}

void lm_head_i8(const int8_t* xq, const float* s_x, int64_t t, const int8_t* q, const float* s_v, int64_t vocab,
                int64_t d, float* logits) {
  for (int64_t row = 0; row < t; ++row)
    for (int64_t v = 0; v < vocab; ++v) {
      int32_t acc = 0;
      for (int64_t i = 0; i < d; ++i) acc += int32_t(q[v * d + i]) * int32_t(xq[row * d + i]);
      logits[row * vocab + v] = float(acc) / s_x[row] / s_v[v];
    }
}

void argmax(const float* logits, int64_t t, int64_t v, int32_t* ids) {
  for (int64_t row = 0; row < t; ++row) {
    const float* l = logits + row * v;
    int64_t best = 0;
    for (int64_t i = 1; i < v; ++i)
      if (l[i] > l[best] || std::isnan(l[best])) best = i;
    ids[row] = int32_t(best);
  }
}

}  // namespace bitlab::ref

#include "model/certified_head.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "model/tensor.h"
#include "model/transformer.h"

namespace bitlab {
namespace {

constexpr double kUnit = 0x1p-24;         // fp32 unit roundoff
constexpr double kMinNormal = 0x1p-126;   // an fp32 op's absolute error bound under underflow, flush-to-zero too
constexpr double kSafety = 1.0 + 0x1p-20; // the double arithmetic of the norms and of the bound itself
// ||x|| max_v ||w_v|| above this could overflow an fp32 partial sum of the bf16
// head, where the rounding model (and so the bound) no longer holds.
constexpr double kOverflowGuard = 0x1p100;

// The float at or above v.
float round_up(double v) {
  auto f = float(v);
  if (double(f) < v) f = std::nextafter(f, std::numeric_limits<float>::infinity());
  return f;
}

// gamma_d = d u / (1 - d u): the relative bound of an fp32 dot product of
// length d in any summation order (each term passes at most d roundings).
double gamma(int64_t d) {
  const double du = double(d) * kUnit;
  return du < 0.5 ? du / (1.0 - du) : std::numeric_limits<double>::infinity();
}

void norms_of_rows(const uint16_t* table, const int8_t* q, const float* s, int64_t v0, int64_t v1, int64_t d,
                   CertifiedRowNorms& n, bool& finite, double& max_exact) {
  for (int64_t v = v0; v < v1; ++v) {
    double err = 0, quant = 0, exact = 0;
    // w^_i = q_i / s_v as a real number: that is what the int8 head's epilogue
    // divides by (ops.h HeadTable), up to A_v's own roundings.
    const double sv = double(s[v]);
    for (int64_t i = 0; i < d; ++i) {
      const double w = double(bf16_to_f32(table[v * d + i]));
      const double wq = double(q[v * d + i]) / sv;
      if (!std::isfinite(w)) finite = false;
      err += (w - wq) * (w - wq);
      quant += wq * wq;
      exact += w * w;
    }
    n.err[size_t(v)] = round_up(std::sqrt(err));
    n.quant[size_t(v)] = round_up(std::sqrt(quant));
    n.exact[size_t(v)] = round_up(std::sqrt(exact));
    max_exact = std::max(max_exact, double(n.exact[size_t(v)]));
  }
}

bool all_finite(const float* p, int64_t n) {
  for (int64_t i = 0; i < n; ++i)
    if (!std::isfinite(p[i])) return false;
  return true;
}

}  // namespace

CertifiedRowNorms certified_row_norms(const uint16_t* table, const int8_t* q, const float* s, int64_t vocab,
                                      int64_t d) {
  CertifiedRowNorms n;
  n.err.resize(size_t(vocab));
  n.quant.resize(size_t(vocab));
  n.exact.resize(size_t(vocab));
  constexpr int64_t kBlock = 1024;
  bool finite = true;
  double max_exact = 0;
#pragma omp parallel for schedule(dynamic) reduction(&& : finite) reduction(max : max_exact)
  for (int64_t v0 = 0; v0 < vocab; v0 += kBlock)
    norms_of_rows(table, q, s, v0, std::min(vocab, v0 + kBlock), d, n, finite, max_exact);
  n.finite = finite;
  n.max_exact = round_up(max_exact);
  return n;
}

CertifiedHead::CertifiedHead(Backend& be, const Tensor& table, const uint16_t* host_table)
    : be_(be), table_(table), vocab_(table.shape.rows), d_(table.shape.cols) {
  std::vector<int8_t> q(size_t(vocab_ * d_));
  std::vector<float> s(static_cast<size_t>(vocab_));
  quantize_head_parallel(host_table, vocab_, d_, q.data(), s.data());
  norms_ = certified_row_norms(host_table, q.data(), s.data(), vocab_, d_);
  i8_.q = be_.upload_tensor(q.data(), DType::I8, {vocab_, d_});
  i8_.scale = be_.upload_tensor(s.data(), DType::F32, {vocab_, 1});
  id_ = be_.new_tensor(DType::I32, {1, 1});
}

void CertifiedHead::approximate(const Tensor& x, QuantAct& xq, Tensor& approx) {
  be_.quantize_act(x, xq);
  be_.lm_head_i8(xq, i8_, approx);
}

int32_t CertifiedHead::full_head(const Tensor& x, Tensor& logits) {
  be_.lm_head(x, table_, logits);
  be_.argmax(logits, id_);
  int32_t id = 0;
  be_.download(id_, &id);
  ++stats_.full_head_steps;
  stats_.last_rows = vocab_;
  stats_.rows_rescored += vocab_;
  return id;
}

std::vector<float> CertifiedHead::rescore(const Tensor& x, const std::vector<int32_t>& rows) {
  const auto n = int64_t(rows.size());
  if (!exact_.buf || exact_.shape.cols < n) exact_ = be_.new_tensor(DType::F32, {1, std::max<int64_t>(n, 64)});
  // One lm_head per run of consecutive rows, each into its own columns of
  // exact_, and one read back: a GPU waits once per step, not once per row.
  for (int64_t i = 0; i < n;) {
    int64_t j = i + 1;
    while (j < n && rows[size_t(j)] == rows[size_t(j - 1)] + 1) ++j;
    Tensor out = exact_;
    out.offset += size_t(i) * sizeof(float);
    out.shape = {1, j - i};
    be_.lm_head(x, table_.rows(rows[size_t(i)], j - i), out);
    i = j;
  }
  std::vector<float> all(size_t(exact_.shape.cols));
  be_.download(exact_, all.data());
  all.resize(size_t(n));
  return all;
}

int32_t CertifiedHead::finish(const Tensor& x, const QuantAct& xq, Tensor& approx) {
  ++stats_.steps;
  if (!norms_.finite) return full_head(x, approx);
  // Per-step buffers kept between steps: a decode step should not allocate
  // and fault in a vocabulary's worth of memory.
  std::vector<float>& xs = host_x_;
  std::vector<float>& a = host_approx_;
  std::vector<int8_t>& q = host_xq_;
  std::vector<double>& b = host_bound_;
  xs.resize(size_t(d_));
  q.resize(size_t(d_));
  a.resize(size_t(vocab_));
  b.resize(size_t(vocab_));
  float sx = 0;
  be_.download(x, xs.data());
  be_.download(xq.q, q.data());
  be_.download(xq.scale, &sx);
  be_.download(approx, a.data());
  // A non-finite x (its factor s_x is then NaN or 0) or logit leaves no bound:
  // the exact head decides, with argmax's own rules.
  if (!all_finite(xs.data(), d_) || !std::isfinite(sx) || sx == 0.0f || !all_finite(a.data(), vocab_))
    return full_head(x, approx);

  // ||x|| and ||x - x^|| in double, x^_i = q_i / s_x as a real number.
  double xx = 0, dd = 0;
  for (int64_t i = 0; i < d_; ++i) {
    const double xi = xs[size_t(i)], diff = xi - double(q[size_t(i)]) / double(sx);
    xx += xi * xi;
    dd += diff * diff;
  }
  const double xn = std::sqrt(xx), dn = std::sqrt(dd);
  if (xn * double(norms_.max_exact) > kOverflowGuard) return full_head(x, approx);

  const double g = gamma(d_);
  const double root_d = std::sqrt(double(d_));
  // Underflow: at most 2^-126 per rounding of the dot product (2d), of A_v
  // (its two divisions, the first scaled by 1/s_v <= ||w^_v|| / 127 + 1e-7),
  // and of inputs flushed to zero (|w_i| 2^-126 or |x_i| 2^-126 each).
  const double tiny_fixed = kMinNormal * (2.0 * double(d_) + 4.0 + root_d * xn);
  auto bound = [&](int64_t v) {
    const auto r = size_t(v);
    const double quant = norms_.quant[r], exact = norms_.exact[r];
    const double sum = (double(norms_.err[r]) + g * exact) * xn + quant * dn +
                       4.0 * kUnit * std::fabs(double(a[r])) + tiny_fixed + kMinNormal * (quant + root_d * exact);
    return sum * kSafety;
  };
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t v = 0; v < vocab_; ++v) {
    b[size_t(v)] = bound(v);
    m = std::max(m, double(a[size_t(v)]) - b[size_t(v)]);
  }
  std::vector<int32_t>& cand = candidates_;
  cand.clear();
  for (int64_t v = 0; v < vocab_; ++v)
    if (double(a[size_t(v)]) + b[size_t(v)] >= m) cand.push_back(int32_t(v));

  const std::vector<float> exact = rescore(x, cand);
  // argmax's rule over C, in ascending row order: lowest index on ties, NaN never chosen.
  size_t best = 0;
  for (size_t i = 1; i < cand.size(); ++i)
    if (exact[i] > exact[best] || std::isnan(exact[best])) best = i;
  stats_.last_rows = int64_t(cand.size());
  stats_.rows_rescored += int64_t(cand.size());
  return cand[best];
}

}  // namespace bitlab

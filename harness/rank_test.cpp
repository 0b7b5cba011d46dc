#include "harness/rank_test.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "harness/stats.h"

namespace bitlab {
namespace {

void check_samples(std::span<const double> s, const char* which) {
  if (s.empty()) throw std::invalid_argument(std::string("rank test: no samples in ") + which);
  for (double v : s)
    if (std::isnan(v)) throw std::invalid_argument(std::string("rank test: NaN in ") + which);
}

// P(U ≤ u) under H0 by counting rank subsets (header comment); u is an integer
// here because without ties every pair contributes 0 or 1.
double exact_cdf(int64_t n1, int64_t n2, int64_t u) {
  const int64_t n = n1 + n2;
  const int64_t min_w = n1 * (n1 + 1) / 2;
  const int64_t max_w = n1 * (2 * n - n1 + 1) / 2;
  // ways[k][w]: subsets of size k of the ranks seen so far with rank sum w.
  // Doubles: C(N, n1) passes 2^64 near N = 68, and a p-value needs no more
  // than double's 53 bits of each count.
  std::vector<std::vector<double>> ways(size_t(n1 + 1), std::vector<double>(size_t(max_w + 1), 0.0));
  ways[0][0] = 1;
  for (int64_t r = 1; r <= n; ++r)
    for (int64_t k = std::min(r, n1); k >= 1; --k)
      for (int64_t w = max_w; w >= r; --w) ways[size_t(k)][size_t(w)] += ways[size_t(k - 1)][size_t(w - r)];
  double total = 0, below = 0;
  for (int64_t w = min_w; w <= max_w; ++w) {
    const double c = ways[size_t(n1)][size_t(w)];
    total += c;
    if (w - min_w <= u) below += c;
  }
  return below / total;
}

}  // namespace

RankTestResult mann_whitney_u(std::span<const double> x, std::span<const double> y, RankMethod method) {
  check_samples(x, "the first sample");
  check_samples(y, "the second sample");
  const auto n1 = int64_t(x.size()), n2 = int64_t(y.size()), n = n1 + n2;

  // Pool, sort, give tied runs their mean rank; R1 sums the first sample's ranks.
  std::vector<std::pair<double, bool>> pooled;  // (value, from x)
  pooled.reserve(size_t(n));
  for (double v : x) pooled.emplace_back(v, true);
  for (double v : y) pooled.emplace_back(v, false);
  std::sort(pooled.begin(), pooled.end());
  double r1 = 0, tie_sum = 0;  // tie_sum = Σ (t³ − t)
  bool ties = false;
  for (size_t i = 0; i < pooled.size();) {
    size_t j = i;
    while (j < pooled.size() && pooled[j].first == pooled[i].first) ++j;
    const double t = double(j - i);
    const double mean_rank = (double(i + 1) + double(j)) / 2;  // ranks i+1 .. j
    for (size_t k = i; k < j; ++k)
      if (pooled[k].second) r1 += mean_rank;
    if (j - i > 1) {
      ties = true;
      tie_sum += t * t * t - t;
    }
    i = j;
  }

  RankTestResult res;
  res.u = r1 - double(n1 * (n1 + 1)) / 2;
  const double mean_u = double(n1) * double(n2) / 2;

  const bool small = n1 <= kExactMaxSamples && n2 <= kExactMaxSamples;
  if (method == RankMethod::Exact && ties)
    throw std::invalid_argument("rank test: the exact distribution assumes no ties");
  res.exact = method == RankMethod::Exact || (method == RankMethod::Automatic && small && !ties);
  if (res.exact) {
    const double u_low = std::min(res.u, double(n1) * double(n2) - res.u);
    res.p_value = std::min(1.0, 2 * exact_cdf(n1, n2, int64_t(std::llround(u_low))));
    return res;
  }
  const double var = double(n1) * double(n2) / 12 * (double(n + 1) - tie_sum / (double(n) * double(n - 1)));
  if (var <= 0) return res;  // every value equal: p = 1, z = 0
  res.z = std::max(0.0, std::abs(res.u - mean_u) - 0.5) / std::sqrt(var);
  res.p_value = std::min(1.0, std::erfc(res.z / std::sqrt(2.0)));
  return res;
}

Change judge_change(std::span<const double> base, std::span<const double> current, double threshold, double alpha) {
  Change c;
  c.base_median = summarize(base).median;
  c.new_median = summarize(current).median;
  c.ratio = c.base_median > 0 ? c.new_median / c.base_median
                              : (c.new_median > 0 ? std::numeric_limits<double>::infinity() : 1.0);
  // x = new, y = base: U large when new is slower; p is two-sided either way.
  c.test = mann_whitney_u(current, base);
  const bool significant = c.test.p_value < alpha;
  if (significant && c.new_median > c.base_median * (1 + threshold))
    c.verdict = Verdict::Regression;
  else if (significant && c.new_median < c.base_median * (1 - threshold))
    c.verdict = Verdict::Improvement;
  return c;
}

const char* to_string(Verdict v) {
  switch (v) {
    case Verdict::Regression: return "regression";
    case Verdict::Improvement: return "improvement";
    case Verdict::Same: break;
  }
  return "same";
}

}  // namespace bitlab

// The Mann–Whitney U test (two-sided) and the rule `bitlab compare` uses to
// call a change in timing samples a regression, an improvement or noise.
//
// Why a rank test: timing samples are skewed (a long tail of preempted runs)
// and few (9–30 repetitions); a rank test needs no normality and one outlier
// moves it by one rank at most.
//
// Definitions, for samples x (n1 values) and y (n2 values), N = n1 + n2:
//   U = #{(i, j) : x_i > y_j} + ½ #{(i, j) : x_i = y_j}
//     = R1 − n1(n1 + 1)/2, R1 the sum of x's ranks in the pooled sample (ties
//       take the mean of the ranks they span);   U(x, y) + U(y, x) = n1·n2.
//   Under H0 (both from one distribution) E[U] = n1·n2/2.
//
// Normal approximation, with tie and continuity corrections:
//   σ² = n1·n2/12 · ((N + 1) − Σ_t (t³ − t) / (N(N − 1)))
//        t runs over the sizes of the groups of tied values;
//   z  = max(0, |U − n1·n2/2| − ½) / σ;        p = 2·(1 − Φ(z)) = erfc(z/√2).
//   σ = 0 (every value equal) gives p = 1: nothing tells the samples apart.
//
// Exact distribution (no ties only): under H0 every choice of which n1 of the
// ranks 1..N belong to x is equally likely, C(N, n1) choices. Counting the
// choices whose rank sum is W (a subset-sum count) gives P(U = W − n1(n1+1)/2).
// U is symmetric about n1·n2/2, so
//   p = min(1, 2·P(U ≤ min(U, n1·n2 − U))).
#pragma once
#include <cstdint>
#include <span>

namespace bitlab {

enum class RankMethod {
  Automatic,  // Exact when n1, n2 ≤ kExactMaxSamples and no ties, else Normal
  Exact,      // throws std::invalid_argument when there are ties
  Normal,
};

// Both samples at most this size and tie-free: the exact distribution is used.
inline constexpr int64_t kExactMaxSamples = 10;

struct RankTestResult {
  double u = 0;        // U of the first sample (see above)
  double z = 0;        // continuity-corrected z of the normal approximation (0 when exact)
  double p_value = 1;  // two-sided
  bool exact = false;  // p_value from the exact distribution
};

// Throws std::invalid_argument if either sample is empty or holds a NaN.
RankTestResult mann_whitney_u(std::span<const double> x, std::span<const double> y,
                              RankMethod method = RankMethod::Automatic);

// The verdict on timing samples (lower is better), base → new:
//   regression   new median > base median × (1 + threshold) and p < alpha
//   improvement  new median < base median × (1 − threshold) and p < alpha
//   same         otherwise: too small a change to matter, or not distinguishable from noise.
// Both conditions, because a significant 0.3 % shift is not worth a failure and
// a 20 % shift in three noisy samples is not evidence.
enum class Verdict { Same, Regression, Improvement };

struct Change {
  double base_median = 0, new_median = 0;  // summarize() (stats.h) medians
  double ratio = 1;  // new / base median
  RankTestResult test;
  Verdict verdict = Verdict::Same;
};

Change judge_change(std::span<const double> base, std::span<const double> current, double threshold, double alpha);

const char* to_string(Verdict v);

}  // namespace bitlab

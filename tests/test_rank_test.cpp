// The Mann–Whitney U test and the regression verdict (harness/rank_test.h) on
// samples small enough to check by hand or by counting.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "harness/rank_test.h"

namespace bitlab {
namespace {

using V = std::vector<double>;

// x = {1, 4, 6}, y = {2, 4, 5, 7}. Counting pairs (x_i, y_j):
//   x = 1 beats nothing                          → 0
//   x = 4 beats 2, ties with 4                   → 1 + ½ = 1.5
//   x = 6 beats 2, 4, 5                          → 3
//   U(x, y) = 4.5, and U(y, x) = 3·4 − 4.5 = 7.5.
// The tie forces the normal approximation: N = 7, one tie group of t = 2,
//   σ² = 3·4/12 · (8 − (8 − 2)/(7·6)) = 8 − 1/7 = 55/7,
//   z  = (|4.5 − 6| − ½)/σ = 1/√(55/7) ≈ 0.35675,  p = erfc(z/√2) ≈ 0.7213.
TEST(RankTest, HandWorkedUWithTie) {
  const V x{1, 4, 6}, y{2, 4, 5, 7};
  const RankTestResult r = mann_whitney_u(x, y);
  EXPECT_DOUBLE_EQ(r.u, 4.5);
  EXPECT_DOUBLE_EQ(mann_whitney_u(y, x).u, 7.5);
  EXPECT_FALSE(r.exact);
  const double z = 1 / std::sqrt(55.0 / 7.0);
  EXPECT_NEAR(r.z, z, 1e-12);
  EXPECT_NEAR(r.p_value, std::erfc(z / std::sqrt(2.0)), 1e-12);
  EXPECT_NEAR(r.p_value, 0.7213, 1e-4);
}

// x = {1, 4, 6}, y = {2, 3, 5, 7}: 1 beats none, 4 beats 2 and 3, 6 beats 2, 3, 5: U = 5.
TEST(RankTest, HandWorkedUWithoutTie) {
  const RankTestResult r = mann_whitney_u(V{1, 4, 6}, V{2, 3, 5, 7});
  EXPECT_DOUBLE_EQ(r.u, 5);
  EXPECT_TRUE(r.exact);
}

// Exact p by counting the C(N, n1) equally likely rank sets by hand:
//   3 vs 3, complete separation: only {1,2,3} gives U = 0; 1/20 each tail → p = 0.1.
//   3 vs 3, U = 1: {1,2,3} (U 0) and {1,2,4} (U 1) → 2/20 per tail → p = 0.2.
//   2 vs 3, separated: 1 of C(5,2) = 10 per tail → p = 0.2.
TEST(RankTest, ExactSmallSamplesByCounting) {
  const RankTestResult sep = mann_whitney_u(V{4, 5, 6}, V{1, 2, 3});
  EXPECT_TRUE(sep.exact);
  EXPECT_DOUBLE_EQ(sep.u, 9);
  EXPECT_NEAR(sep.p_value, 0.1, 1e-15);
  EXPECT_NEAR(mann_whitney_u(V{1, 2, 4}, V{3, 5, 6}).p_value, 0.2, 1e-15);
  EXPECT_NEAR(mann_whitney_u(V{1, 2}, V{3, 4, 5}).p_value, 0.2, 1e-15);
  // The middle of the distribution: p capped at 1.
  EXPECT_DOUBLE_EQ(mann_whitney_u(V{1, 4, 5}, V{2, 3, 6}).p_value, 1.0);
}

TEST(RankTest, IdenticalSamplesGivePOne) {
  const V s{1.02, 0.98, 1.00, 1.05, 0.97, 1.01, 0.99, 1.03, 1.00, 0.96, 1.04, 1.01};
  const RankTestResult r = mann_whitney_u(s, s);
  EXPECT_DOUBLE_EQ(r.u, double(s.size() * s.size()) / 2);
  EXPECT_NEAR(r.p_value, 1.0, 1e-12);
  const Change c = judge_change(s, s, 0.05, 0.05);
  EXPECT_EQ(c.verdict, Verdict::Same);
  EXPECT_DOUBLE_EQ(c.ratio, 1.0);
  // Every value equal: σ = 0, nothing distinguishes the samples.
  EXPECT_DOUBLE_EQ(mann_whitney_u(V(5, 2.0), V(7, 2.0)).p_value, 1.0);
}

// 12 vs 12, new entirely above base by 20 %: U = 144 = n1·n2, z = (72 − ½)/√300 ≈ 4.13.
TEST(RankTest, ShiftedSamplesAreARegression) {
  V base, slow;
  for (int i = 0; i < 12; ++i) {
    base.push_back(100e-6 + i * 1e-6);
    slow.push_back((100e-6 + i * 1e-6) * 1.2);
  }
  const RankTestResult r = mann_whitney_u(slow, base);
  EXPECT_DOUBLE_EQ(r.u, 144);
  EXPECT_FALSE(r.exact);  // 12 > kExactMaxSamples
  EXPECT_LT(r.p_value, 0.001);
  EXPECT_NEAR(r.p_value, std::erfc(71.5 / std::sqrt(300.0) / std::sqrt(2.0)), 1e-15);

  const Change c = judge_change(base, slow, 0.05, 0.05);
  EXPECT_EQ(c.verdict, Verdict::Regression);
  EXPECT_NEAR(c.ratio, 1.2, 1e-12);
  EXPECT_EQ(judge_change(slow, base, 0.05, 0.05).verdict, Verdict::Improvement);
  // Real, but smaller than the threshold asked for: not worth a failure.
  EXPECT_EQ(judge_change(base, slow, 0.25, 0.05).verdict, Verdict::Same);
}

// A 2 % shift with no overlap is significant but below a 5 % threshold.
TEST(RankTest, SignificantButSmallIsSame) {
  V base, slower;
  for (int i = 0; i < 12; ++i) {
    base.push_back(1.0 + i * 0.001);
    slower.push_back(1.02 + i * 0.001);
  }
  const Change c = judge_change(base, slower, 0.05, 0.05);
  EXPECT_LT(c.test.p_value, 0.001);
  EXPECT_EQ(c.verdict, Verdict::Same);
  EXPECT_EQ(judge_change(base, slower, 0.01, 0.05).verdict, Verdict::Regression);
}

// Medians 99.5 → 106.5 (+7 %, above the threshold) but the samples overlap
// throughout (U = 87 of 144, p ≈ 0.40): noise, not a regression.
TEST(RankTest, NoisyOverlapIsNotSignificant) {
  const V base{100, 92, 108, 97, 115, 88, 103, 95, 111, 90, 106, 99};
  const V noisy{107, 90, 118, 95, 125, 86, 110, 101, 120, 84, 115, 106};
  const Change c = judge_change(base, noisy, 0.05, 0.05);
  EXPECT_DOUBLE_EQ(c.base_median, 99.5);
  EXPECT_DOUBLE_EQ(c.new_median, 106.5);
  EXPECT_GT(c.ratio, 1.05);
  EXPECT_DOUBLE_EQ(c.test.u, 87);
  EXPECT_GT(c.test.p_value, 0.3);
  EXPECT_EQ(c.verdict, Verdict::Same);
}

// With continuity correction the normal approximation tracks the exact
// distribution closely for n = 10 and 20 away from the far tails.
TEST(RankTest, ExactAndNormalAgreeForModerateN) {
  for (int n : {10, 20}) {
    for (double shift : {0.5, 1.5, 2.5, 3.5, 4.5}) {
      V x, y;
      for (int i = 0; i < n; ++i) {
        x.push_back(i);
        y.push_back(i + shift);  // fractional shift: no ties
      }
      const RankTestResult exact = mann_whitney_u(x, y, RankMethod::Exact);
      const RankTestResult normal = mann_whitney_u(x, y, RankMethod::Normal);
      EXPECT_TRUE(exact.exact);
      EXPECT_FALSE(normal.exact);
      EXPECT_DOUBLE_EQ(exact.u, normal.u);
      EXPECT_NEAR(exact.p_value, normal.p_value, 0.01) << "n " << n << " shift " << shift;
      EXPECT_EQ(exact.p_value < 0.05, normal.p_value < 0.05) << "n " << n << " shift " << shift;
    }
  }
  // n = 10 is small enough for the automatic choice to be exact.
  V a, b;
  for (int i = 0; i < 10; ++i) {
    a.push_back(i);
    b.push_back(i + 2.5);
  }
  EXPECT_TRUE(mann_whitney_u(a, b).exact);
  EXPECT_NEAR(mann_whitney_u(a, b).p_value, 0.10512243174781874, 1e-12);  // brute force over C(20, 10) subsets
}

TEST(RankTest, SymmetricInItsArguments) {
  const V x{3.1, 2.7, 4.4, 3.9, 2.2, 3.3, 5.0}, y{2.9, 2.5, 3.0, 2.1, 2.8, 3.6, 2.4, 2.6};
  const RankTestResult xy = mann_whitney_u(x, y), yx = mann_whitney_u(y, x);
  EXPECT_DOUBLE_EQ(xy.u + yx.u, double(x.size() * y.size()));
  EXPECT_DOUBLE_EQ(xy.p_value, yx.p_value);
}

TEST(RankTest, BadInput) {
  EXPECT_THROW(mann_whitney_u(V{}, V{1.0}), std::invalid_argument);
  EXPECT_THROW(mann_whitney_u(V{1.0}, V{NAN}), std::invalid_argument);
  EXPECT_THROW(mann_whitney_u(V{1, 2}, V{2, 3}, RankMethod::Exact), std::invalid_argument);  // tie
  EXPECT_FALSE(mann_whitney_u(V{1, 2}, V{2, 3}).exact);  // automatic falls back to normal
}

}  // namespace
}  // namespace bitlab

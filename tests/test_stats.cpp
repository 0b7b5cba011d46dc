// Summary statistics and the logit agreement metrics, on samples whose answers
// follow from the definitions.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "harness/correctness.h"
#include "harness/stats.h"
#include "model/error.h"

namespace bitlab {
namespace {

TEST(Stats, KnownSamples) {
  // 1..10: median 5.5; p10 at position 0.9 -> 1.9; p90 at 8.1 -> 9.1;
  // sample variance Σ(x-5.5)²/9 = 82.5/9.
  const std::vector<double> v = {7, 3, 10, 1, 5, 2, 9, 4, 8, 6};
  const Stats s = summarize(v);
  EXPECT_EQ(s.count, 10);
  EXPECT_EQ(s.min, 1);
  EXPECT_DOUBLE_EQ(s.median, 5.5);
  EXPECT_DOUBLE_EQ(s.mean, 5.5);
  EXPECT_NEAR(s.p10, 1.9, 1e-12);
  EXPECT_NEAR(s.p90, 9.1, 1e-12);
  EXPECT_NEAR(s.stddev, std::sqrt(82.5 / 9.0), 1e-12);
}

TEST(Stats, OneSampleAndNone) {
  const std::vector<double> one = {0.25};
  const Stats s = summarize(one);
  EXPECT_EQ(s.median, 0.25);
  EXPECT_EQ(s.p10, 0.25);
  EXPECT_EQ(s.stddev, 0.0);
  EXPECT_THROW(summarize(std::vector<double>{}), UsageError);
}

TEST(LogitMetrics, IdenticalLogitsAgreeFully) {
  const std::vector<float> l = {1, 2, 3, 0.5f, -1, 4};
  const CheckRecord r = compare_logits(l, l, 3);
  EXPECT_EQ(*r.nmse, 0.0);
  EXPECT_NEAR(*r.cosine, 1.0, 1e-12);
  EXPECT_EQ(*r.max_abs_diff, 0.0);
  EXPECT_NEAR(*r.kl_divergence, 0.0, 1e-15);
  EXPECT_EQ(*r.top1_agreement, 1.0);
  EXPECT_TRUE(r.pass);
}

TEST(LogitMetrics, DisagreementIsMeasured) {
  // Row 0 agrees; row 1's top token moves from index 2 to 0.
  const std::vector<float> want = {0, 0, 5, 0, 0, 5};
  const std::vector<float> got = {0, 0, 5, 5, 0, 0};
  const CheckRecord r = compare_logits(got, want, 3);
  EXPECT_EQ(*r.top1_agreement, 0.5);
  EXPECT_EQ(*r.max_abs_diff, 5.0);
  // NMSE: (25 + 25) / (25 + 25) = 1.
  EXPECT_DOUBLE_EQ(*r.nmse, 1.0);
  // KL of row 1: p = softmax(0,0,5), q = softmax(5,0,0); KL = Σ p (log p − log q) = 5 (p2 − p0), halved over 2 rows.
  const double z = 2 + std::exp(5.0), p0 = 1 / z, p2 = std::exp(5.0) / z;
  EXPECT_NEAR(*r.kl_divergence, 5.0 * (p2 - p0) / 2.0, 1e-12);
  EXPECT_FALSE(r.pass);
}

}  // namespace
}  // namespace bitlab

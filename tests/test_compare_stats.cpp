// The statistics of `bitlab compare` (harness/compare_stats.h) on synthetic
// samples whose true ratio is known: the interval must cover it in most
// trials, contain 1 when nothing changed, and the geometric mean must be that
// of the ratios.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "common/random.h"
#include "harness/compare_stats.h"

namespace bitlab {
namespace {

// `groups` invocations of `per_group` lognormal samples around `scale`: each
// invocation shifted by its own lognormal factor (sigma_between), each sample
// spread by sigma_within, as bench timings behave.
SampleGroups lognormal(SplitMix64& g, double scale, int groups, int per_group, double sigma_between,
                       double sigma_within) {
  SampleGroups out(static_cast<size_t>(groups));
  for (auto& grp : out) {
    const double shift = std::exp(sigma_between * double(g.normal()));
    for (int i = 0; i < per_group; ++i) grp.push_back(scale * shift * std::exp(sigma_within * double(g.normal())));
  }
  return out;
}

// Fraction of trials whose interval covers `ratio`.
double coverage(double ratio, int groups, int per_group, double sigma_between, int trials) {
  SplitMix64 g(12345);
  BootstrapOptions o;
  o.resamples = 400;  // enough for a 95 % percentile interval, and quick over many trials
  int covered = 0;
  for (int t = 0; t < trials; ++t) {
    const SampleGroups base = lognormal(g, 1e-3, groups, per_group, sigma_between, 0.05);
    const SampleGroups cur = lognormal(g, 1e-3 * ratio, groups, per_group, sigma_between, 0.05);
    o.seed = case_seed(7, std::to_string(t));
    const RatioInterval r = bootstrap_ratio(base, cur, o);
    covered += r.low <= ratio && ratio <= r.high;
  }
  return double(covered) / trials;
}

TEST(CompareStats, IntervalCoversTheTrueRatioOfOneFile) {
  // One group of 15 samples: the bootstrap of a median covers close to the nominal 95 %.
  EXPECT_GE(coverage(1.10, 1, 15, 0.0, 300), 0.88);
}

TEST(CompareStats, IntervalCoversTheTrueRatioAcrossRounds) {
  // Eight rounds per side with a round-to-round spread as large as the
  // within-round one: resampling rounds carries it into the interval. (A
  // bootstrap of pooled samples alone covers far less here; see the next test.)
  EXPECT_GE(coverage(1.10, 8, 9, 0.05, 300), 0.85);
}

TEST(CompareStats, ResamplingRoundsWidensTheInterval) {
  // The same samples pooled into one group give a narrower interval than
  // when their rounds are kept: the round-to-round noise is what the
  // pooled bootstrap misses.
  SplitMix64 g(99);
  const SampleGroups base = lognormal(g, 1e-3, 6, 9, 0.05, 0.02);
  const SampleGroups cur = lognormal(g, 1e-3, 6, 9, 0.05, 0.02);
  auto pooled = [](const SampleGroups& s) {
    SampleGroups one(1);
    for (const auto& grp : s) one[0].insert(one[0].end(), grp.begin(), grp.end());
    return one;
  };
  const RatioInterval rounds = bootstrap_ratio(base, cur, {});
  const RatioInterval flat = bootstrap_ratio(pooled(base), pooled(cur), {});
  EXPECT_GT(rounds.high - rounds.low, 1.5 * (flat.high - flat.low));
}

// Rounds that ran back to back share the machine's state: pairing them in the
// resample cancels the shared shift, giving a narrower interval that still
// covers the true ratio.
TEST(CompareStats, PairedRoundsCancelASharedShift) {
  SplitMix64 g(21);
  BootstrapOptions paired, unpaired;
  paired.resamples = unpaired.resamples = 400;
  paired.paired = true;
  int covered = 0;
  double width_paired = 0, width_unpaired = 0;
  constexpr int kTrials = 200;
  for (int t = 0; t < kTrials; ++t) {
    SampleGroups base(4), cur(4);
    for (size_t r = 0; r < 4; ++r) {
      const double shift = std::exp(0.10 * double(g.normal()));  // the round's machine state, both sides
      for (int i = 0; i < 9; ++i) {
        base[r].push_back(1e-3 * shift * std::exp(0.03 * double(g.normal())));
        cur[r].push_back(1.1e-3 * shift * std::exp(0.03 * double(g.normal())));
      }
    }
    paired.seed = unpaired.seed = uint64_t(t);
    const RatioInterval p = bootstrap_ratio(base, cur, paired), u = bootstrap_ratio(base, cur, unpaired);
    covered += p.low <= 1.1 && 1.1 <= p.high;
    width_paired += p.high - p.low;
    width_unpaired += u.high - u.low;
  }
  EXPECT_GE(covered, kTrials * 85 / 100);
  EXPECT_LT(width_paired, 0.5 * width_unpaired);
  EXPECT_THROW(bootstrap_ratio({{1.0}}, {{1.0}, {1.0}}, paired), std::invalid_argument);
}

TEST(CompareStats, NoDifferenceContainsOne) {
  SplitMix64 g(4);
  const SampleGroups s = lognormal(g, 2e-4, 4, 9, 0.03, 0.05);
  const RatioInterval same = bootstrap_ratio(s, s, {});
  EXPECT_DOUBLE_EQ(same.ratio, 1.0);
  EXPECT_LE(same.low, 1.0);
  EXPECT_GE(same.high, 1.0);
  EXPECT_LT(same.low, same.high);  // a real interval, not a point
  // Two draws from one distribution: the interval contains 1 in most trials.
  int contains = 0;
  for (int t = 0; t < 100; ++t) {
    BootstrapOptions o;
    o.resamples = 400;
    o.seed = uint64_t(t);
    const RatioInterval r =
        bootstrap_ratio(lognormal(g, 2e-4, 4, 9, 0.0, 0.05), lognormal(g, 2e-4, 4, 9, 0.0, 0.05), o);
    contains += r.low <= 1 && 1 <= r.high;
  }
  EXPECT_GE(contains, 85);
}

TEST(CompareStats, CentreIsTheMeanOfRoundMedians) {
  EXPECT_DOUBLE_EQ(centre({{1, 2, 100}}), 2.0);             // one round: its median
  EXPECT_DOUBLE_EQ(centre({{1, 2, 100}, {4, 4, 5}}), 3.0);  // (2 + 4) / 2
  EXPECT_THROW(centre({}), std::invalid_argument);
  EXPECT_THROW(centre({{1.0}, {}}), std::invalid_argument);
}

TEST(CompareStats, FixedSeedIsReproducible) {
  SplitMix64 g(5);
  const SampleGroups a = lognormal(g, 1e-3, 3, 9, 0.02, 0.05), b = lognormal(g, 1.1e-3, 3, 9, 0.02, 0.05);
  const RatioInterval r1 = bootstrap_ratio(a, b, {}), r2 = bootstrap_ratio(a, b, {});
  EXPECT_EQ(r1.low, r2.low);
  EXPECT_EQ(r1.high, r2.high);
  EXPECT_NE(case_seed(1, "kernel/a"), case_seed(1, "kernel/b"));
  EXPECT_EQ(case_seed(1, "kernel/a"), case_seed(1, "kernel/a"));
}

TEST(CompareStats, GeometricMeanOfKnownRatios) {
  // Constant samples: every resample gives the same ratio, so each interval is a point.
  auto constant_ratio = [](double ratio) { return bootstrap_ratio({{1.0, 1.0, 1.0}}, {{ratio, ratio, ratio}}, {}); };
  const std::vector<RatioInterval> cases = {constant_ratio(2), constant_ratio(8)};
  const RatioInterval gm = geometric_mean(cases, 0.95);
  EXPECT_NEAR(gm.ratio, 4.0, 1e-12);
  EXPECT_NEAR(gm.low, 4.0, 1e-12);
  EXPECT_NEAR(gm.high, 4.0, 1e-12);
  const std::vector<RatioInterval> balanced = {constant_ratio(2), constant_ratio(0.5), constant_ratio(1)};
  EXPECT_NEAR(geometric_mean(balanced, 0.95).ratio, 1.0, 1e-12);
  // With noise, the interval lies around the geometric mean of the ratios.
  SplitMix64 g(8);
  std::vector<RatioInterval> noisy;
  for (int i = 0; i < 4; ++i) {
    BootstrapOptions o;
    o.seed = case_seed(3, std::to_string(noisy.size()));
    noisy.push_back(bootstrap_ratio(lognormal(g, 1e-3, 1, 21, 0, 0.02), lognormal(g, 1.2e-3, 1, 21, 0, 0.02), o));
  }
  const RatioInterval gn = geometric_mean(noisy, 0.95);
  EXPECT_LT(gn.low, 1.2);
  EXPECT_GT(gn.high, 1.2);
  EXPECT_LT(gn.high - gn.low, noisy[0].high - noisy[0].low);  // averaging four cases narrows it
}

TEST(CompareStats, BadInputThrows) {
  EXPECT_THROW(bootstrap_ratio({}, {{1.0}}, {}), std::invalid_argument);
  EXPECT_THROW(bootstrap_ratio({{1.0}}, {{-1.0}}, {}), std::invalid_argument);
  EXPECT_THROW(bootstrap_ratio({{1.0}}, {{1.0}}, {.confidence = 1.0}), std::invalid_argument);
  EXPECT_THROW(geometric_mean({}, 0.95), std::invalid_argument);
}

}  // namespace
}  // namespace bitlab

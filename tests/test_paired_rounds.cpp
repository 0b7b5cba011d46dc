// The combination of paired A/B rounds (harness/paired_rounds.h) on synthetic
// rounds whose true ratio is known, and on the disturbances a shared machine
// produces: one round's samples spread by a neighbour's burst, one round
// shifted as a whole.
#include <gtest/gtest.h>

#include <cmath>
#include <stdexcept>
#include <vector>

#include "common/random.h"
#include "harness/compare_stats.h"
#include "harness/paired_rounds.h"

namespace bitlab {
namespace {

// `rounds` rounds of nine samples; NEW = BASE × ratio; each round shares a
// machine-state factor between the sides; `disturb(round, sample)` multiplies
// BASE's samples.
template <class Disturb>
void make_rounds(SplitMix64& g, size_t rounds, double ratio, Disturb disturb, SampleGroups& base, SampleGroups& cur) {
  base.assign(rounds, {});
  cur.assign(rounds, {});
  for (size_t r = 0; r < rounds; ++r) {
    const double shared = std::exp(0.05 * double(g.normal()));
    for (int i = 0; i < 9; ++i) {
      base[r].push_back(1e-3 * shared * disturb(r, i) * std::exp(0.02 * double(g.normal())));
      cur[r].push_back(1e-3 * ratio * shared * std::exp(0.02 * double(g.normal())));
    }
  }
}

// Rounds of equal spread weigh alike: with every round's samples identical
// (no visible spread) the estimate is the mean of the rounds' log ratios.
TEST(PairedRounds, EqualRoundsGiveTheMeanLogRatio) {
  const SampleGroups base = {{1.0, 1.0, 1.0}, {2.0, 2.0, 2.0}, {1.0, 1.0, 1.0}};
  const SampleGroups cur = {{1.1, 1.1, 1.1}, {2.4, 2.4, 2.4}, {1.2, 1.2, 1.2}};
  const PairedEstimate e = combine_paired_rounds(base, cur, 1);
  EXPECT_NEAR(e.log_ratio, (std::log(1.1) + std::log(1.2) + std::log(1.2)) / 3, 1e-12);
  EXPECT_EQ(e.degrees_of_freedom, 2);
  EXPECT_GT(e.tau2, 0);  // the rounds disagree far beyond their (floored) spread
  for (double w : e.weights) EXPECT_NEAR(w, 1.0 / 3, 1e-12);
}

// A round whose samples are spread weighs little: the other rounds decide.
TEST(PairedRounds, ASpreadRoundWeighsLittle) {
  SplitMix64 g(3);
  SampleGroups base, cur;
  make_rounds(
      g, 4, 1.1, [](size_t r, int i) { return r == 2 ? 1.0 + 0.7 * double(i % 5) / 4 : 1.0; }, base, cur);
  const PairedEstimate e = combine_paired_rounds(base, cur, 1);
  EXPECT_LT(e.weights[2], 0.1);
  EXPECT_NEAR(std::exp(e.log_ratio), 1.1, 0.02);
}

// What a busy neighbour does to a paired A/B run: NEW is 10 % slower in every
// round, but in one round of eight BASE's samples spread up to 70 %. The
// combined estimate stays near 1.10 where the ratio of the mean of medians is
// pulled off by that round, and its interval still lies above 1.05, so a 5 %
// threshold flags the slowdown in nearly every trial.
TEST(PairedRounds, OneDisturbedRoundStillFlagsATenPercentSlowdown) {
  SplitMix64 g(33);
  BootstrapOptions o;
  o.paired = true;
  o.resamples = 1000;
  int flagged = 0, near = 0, near_by_mean_of_medians = 0;
  constexpr int kTrials = 60;
  for (int t = 0; t < kTrials; ++t) {
    SampleGroups base, cur;
    const size_t bad = size_t(t % 8);
    make_rounds(
        g, 8, 1.1, [&](size_t r, int) { return r == bad ? 1.0 + 0.7 * double(g.uniform()) : 1.0; }, base, cur);
    o.seed = uint64_t(t);
    const RatioInterval p = bootstrap_ratio(base, cur, o);
    flagged += p.low > 1.05;
    near += std::abs(p.ratio / 1.1 - 1) < 0.02;
    near_by_mean_of_medians += std::abs(centre(cur) / centre(base) / 1.1 - 1) < 0.02;
  }
  EXPECT_GE(flagged, kTrials * 85 / 100);
  EXPECT_GE(near, kTrials * 9 / 10);
  EXPECT_LT(near_by_mean_of_medians, kTrials / 2);  // the case the combination is for
}

// The build against itself with one round shifted as a whole for one side (no
// spread to see): the disagreement between rounds widens the interval
// instead of producing a verdict.
TEST(PairedRounds, AShiftedRoundWidensTheIntervalInsteadOfFlagging) {
  SplitMix64 g(44);
  BootstrapOptions o;
  o.paired = true;
  o.resamples = 1000;
  int flagged = 0;
  constexpr int kTrials = 40;
  for (int t = 0; t < kTrials; ++t) {
    SampleGroups base, cur;
    make_rounds(
        g, 4, 1.0, [&](size_t r, int) { return r == size_t(t % 4) ? 0.7 : 1.0; }, base, cur);
    o.seed = uint64_t(t);
    const RatioInterval p = bootstrap_ratio(base, cur, o);
    flagged += p.low > 1.05 || p.high < 0.95;
  }
  EXPECT_LE(flagged, kTrials / 20);
}

// Clean rounds: the interval covers the true ratio at about its confidence.
TEST(PairedRounds, CleanRoundsCoverTheTrueRatio) {
  SplitMix64 g(55);
  BootstrapOptions o;
  o.paired = true;
  o.resamples = 1000;
  int covered = 0;
  constexpr int kTrials = 200;
  for (int t = 0; t < kTrials; ++t) {
    SampleGroups base, cur;
    make_rounds(
        g, 4, 1.07, [](size_t, int) { return 1.0; }, base, cur);
    o.seed = uint64_t(t);
    const RatioInterval p = bootstrap_ratio(base, cur, o);
    covered += p.low <= 1.07 && 1.07 <= p.high;
  }
  EXPECT_GE(covered, kTrials * 88 / 100);
}

TEST(PairedRounds, StudentTDrawsHaveTheirQuantiles) {
  // t with 3 degrees of freedom: P(|t| > 3.182) = 0.05.
  SplitMix64 g(9);
  int beyond = 0;
  constexpr int kDraws = 200000;
  for (int i = 0; i < kDraws; ++i) beyond += std::abs(student_t_draw(g, 3)) > 3.182;
  EXPECT_NEAR(double(beyond) / kDraws, 0.05, 0.004);
  EXPECT_THROW(student_t_draw(g, 0), std::invalid_argument);
}

TEST(PairedRounds, BadInputThrows) {
  EXPECT_THROW(combine_paired_rounds({{1.0}}, {{1.0}}, 1), std::invalid_argument);  // one round
  EXPECT_THROW(combine_paired_rounds({{1.0}, {1.0}}, {{1.0}}, 1), std::invalid_argument);
  EXPECT_THROW(combine_paired_rounds({{1.0}, {}}, {{1.0}, {1.0}}, 1), std::invalid_argument);
  EXPECT_THROW(combine_paired_rounds({{1.0}, {0.0}}, {{1.0}, {1.0}}, 1), std::invalid_argument);
  EXPECT_THROW(combine_paired_rounds({{1.0}, {1.0}}, {{1.0}, {NAN}}, 1), std::invalid_argument);
}

}  // namespace
}  // namespace bitlab

// Change points in a performance series: where a metric moved, and which run
// (commit) it moved at.
//
// The method is e-divisive means (Matteson & James, "A Nonparametric Approach
// for Multiple Change Point Analysis of Multivariate Data", JASA 2014), with
// exponent 1 on the distances. It was chosen over a windowed rank test for
// the series a history holds: a dozen to a few hundred points, often a single
// run per commit.
//  - A windowed Mann-Whitney test with Bonferroni correction loses the power
//    it needs on short series: five points either side of a perfect step give
//    p = 2/252 = 0.008, already above 0.05 divided by the seven splits a
//    twelve-point series has, so a clean step in twelve commits goes unseen.
//  - e-divisive tests the largest split statistic against the same maximum
//    over random permutations of the segment, so the search over every split
//    is paid for once, without a correction that grows with the series. It
//    uses every point on each side, assumes no distribution (energy distance
//    on |x - y|: any change in location or spread), and finds several change
//    points by bisection: the best split of all current segments is tested,
//    accepted if significant, and the search goes on in the pieces.
// The permutations draw from a fixed seed through a shuffle written here, so
// a series gives the same answer on every machine and every run.
#pragma once
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace bitlab::history {

struct ChangePointOptions {
  int permutations = 499;    // per test; p is at best 1 / (permutations + 1)
  double alpha = 0.01;       // significance level of each accepted split
  size_t min_segment = 3;    // points on each side: one outlier is not a segment
  uint64_t seed = 0x6269746c6162ULL;
};

struct ChangePoint {
  size_t index = 0;       // the first point after the change
  double statistic = 0;   // the scaled energy distance between the two sides
  double p_value = 1;     // from the permutation test
};

// The change points of `series`, in index order. None for a series shorter
// than two minimum segments.
std::vector<ChangePoint> find_change_points(std::span<const double> series, const ChangePointOptions& options = {});

}  // namespace bitlab::history

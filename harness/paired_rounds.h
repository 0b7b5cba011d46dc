// How `compare --ab` combines paired rounds into one ratio NEW / BASE.
//
// Round r of BASE and round r of NEW ran back to back, so what the machine
// did during that round (frequency, a neighbour's load) hits both; each round
// gives its own estimate d_r = log(median(NEW_r) / median(BASE_r)) in which a
// shift shared by the two builds cancels. The rounds are then combined as a
// random-effects meta-analysis (DerSimonian and Laird 1986):
//   v_r    the within-round variance of d_r, from a bootstrap of each side's
//          samples inside the round;
//   τ²     the between-round variance beyond v_r (the method-of-moments
//          estimate from Cochran's Q under weights 1 / v_r, floored at 0);
//   d      Σ w_r d_r / Σ w_r with w_r = 1 / (v_r + τ²), standard error
//          1 / sqrt(Σ w_r), judged against Student's t with rounds − 1
//          degrees of freedom (few rounds: the normal would be too narrow).
// Why this and not the mean of per-round medians: on a shared machine one side
// of one round now and then has its samples spread 30–70 % (a neighbour's
// burst), which moves that round's median and with it a mean over the rounds.
// Such a round shows its trouble as a large v_r and weighs less; what it still
// moves raises τ², so the interval widens rather than the verdict moving. A
// bootstrap over rounds cannot do this: a quarter of its resamples of four
// rounds hold the bad round twice or more. The price of honesty is rounds:
// with four, one disturbed round widens the interval past a 10 % verdict at a
// 5 % threshold (t with 3 degrees of freedom is 3.18); with eight it does not
// (tests/test_paired_rounds.cpp).
#pragma once
#include <cstdint>
#include <vector>

#include "common/random.h"

namespace bitlab {

using SampleGroups = std::vector<std::vector<double>>;

struct PairedEstimate {
  double log_ratio = 0;         // d: log(NEW / BASE)
  double standard_error = 0;    // of d
  int degrees_of_freedom = 0;   // rounds − 1
  double tau2 = 0;              // between-round variance
  std::vector<double> weights;  // w_r normalised to sum 1, in round order
};

// At least two rounds, as many on each side, no empty round, every sample a
// positive time: else std::invalid_argument. `seed` fixes the within-round
// bootstrap (the same files give the same estimate on every machine).
PairedEstimate combine_paired_rounds(const SampleGroups& base, const SampleGroups& current, uint64_t seed,
                                     int resamples_per_round = 400);

// A draw from Student's t with `df` ≥ 1 degrees of freedom: a standard normal
// (Box–Muller on two uniforms) over the root of a chi-square / df (a sum of df
// squared normals).
double student_t_draw(SplitMix64& g, int df);

}  // namespace bitlab

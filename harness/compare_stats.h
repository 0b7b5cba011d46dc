// The statistics of `bitlab compare`: how much slower or faster NEW is than
// BASE per case, with a bootstrap confidence interval, and over all cases.
//
// Each side of a case is a set of groups: one group per bench invocation (an
// A/B round), each holding that invocation's samples; a single result file is
// one group. The centre of a side is the mean of its groups' medians:
//   - the median inside a group, because timing samples have a long tail of
//     preempted runs and one of them must not move the estimate;
//   - the mean across groups, because each invocation is one independent
//     replicate of the whole process state (frequency, page placement, what
//     else the machine runs), and each counts once whatever its sample count.
// With one group this is the plain median. The ratio of a case is
// centre(NEW) / centre(BASE); above 1 means NEW is slower.
//
// The interval is a two-level (hierarchical) percentile bootstrap: each
// resample draws the groups of each side with replacement, then the samples
// inside each drawn group with replacement, and recomputes the ratio. Drawing
// groups carries the invocation-to-invocation noise into the interval, which
// resampling pooled samples alone would hide. The generator is SplitMix64 with
// a fixed seed, so the same files give the same interval on every machine.
//
// Paired rounds (compare --ab): round r of BASE and round r of NEW ran back to
// back, so a slow spell of the machine hits both. With two rounds or more the
// ratio is then estimated per round and the rounds combined as paired_rounds.h
// says (a random-effects meta-analysis), and the replicates are draws from
// that estimate's Student-t sampling distribution (a parametric bootstrap), so
// the geometric mean combines them as it does the others.
//
// The geometric mean of the case ratios summarises a whole comparison; its
// interval takes, per resample, the geometric mean of every case's resampled
// ratio (cases are resampled independently).
#pragma once
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

namespace bitlab {

// The samples of one side of one case, one vector per invocation (round).
using SampleGroups = std::vector<std::vector<double>>;

struct BootstrapOptions {
  double confidence = 0.95;  // in (0, 1)
  int resamples = 2000;
  uint64_t seed = 0x6269746c6162ull;  // fixed: the verdict is reproducible
  bool paired = false;                // round r of both sides ran back to back (needs equal round counts)
};

struct RatioInterval {
  double ratio = 1;                // the point estimate
  double low = 1, high = 1;        // the percentile interval at the chosen confidence
  std::vector<double> replicates;  // the resampled ratios, in resample order (for the geometric mean)
};

// The seed of one case's resamples: `seed` mixed with a stable hash of its
// key, so cases draw independent streams (a shared stream would correlate
// their replicates and skew the geometric mean's interval) and a case's
// interval does not depend on which other cases the files hold.
uint64_t case_seed(uint64_t seed, std::string_view key);

// Mean of the groups' medians (see above). Throws std::invalid_argument when
// there is no group or a group is empty.
double centre(const SampleGroups& groups);

// centre(current) / centre(base) with its bootstrap interval (paired, two
// rounds or more: the combined per-round ratio, see above). Samples must be
// positive (times); throws std::invalid_argument otherwise or on bad options.
RatioInterval bootstrap_ratio(const SampleGroups& base, const SampleGroups& current, const BootstrapOptions& o);

// The geometric mean of the cases' ratios, its interval from their replicates
// (each case resampled with the same BootstrapOptions::resamples). Throws
// std::invalid_argument on no cases or replicate counts that differ.
RatioInterval geometric_mean(std::span<const RatioInterval> cases, double confidence);

}  // namespace bitlab

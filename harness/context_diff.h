// What in two result files' contexts makes their timings incomparable, for
// `bitlab compare` to warn about (stderr, and "context_warnings" in its JSON):
//   - measured memory bandwidth differing by more than 20 % (another machine,
//     another memory configuration, or a run under memory-bound load);
//   - --quick in one command line and not the other (shorter minimum times);
//   - another model, thread count or CPU model;
//   - a dirty git tree on either side (the commit does not say what ran);
//   - a busy machine on either side, where the file records it: a load
//     average above the logical core count, or more than 5 % steal time.
#pragma once
#include <string>
#include <vector>

#include "harness/result_reader.h"

namespace bitlab::cli {

inline constexpr double kBandwidthTolerance = 0.20;
inline constexpr double kStealLimit = 0.05;

// One sentence per difference between BASE's context and NEW's.
std::vector<std::string> context_differences(const ResultContext& base, const ResultContext& current);
// The busy-machine note for one side ("BASE", "NEW", or "NEW round 3"), "" when not busy or not recorded.
std::string busy_machine(const ResultContext& c, const std::string& who);

}  // namespace bitlab::cli

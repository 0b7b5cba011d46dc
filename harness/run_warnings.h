// Warnings about how far a result document's timings can be trusted: the
// machine was busy while it ran, or a case's samples spread too widely. bench
// records them in the document ("warnings") and prints them at the end.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace bitlab {

// Thresholds, with why (the report and the README quote them).
// Other processes' share of all CPUs' time over the run: above this, they held
// a core long enough to preempt the run's threads many times over.
inline constexpr double kBusyOtherFraction = 0.10;
// The hypervisor's share: the same effect from outside the guest.
inline constexpr double kBusyStealFraction = 0.05;
// The one-minute load average counts the run's own threads; beyond `threads`
// by this much, others were runnable on average for half a core or more.
inline constexpr double kLoadMargin = 0.5;
// (p90 - p10) / median of a case: on a quiet machine decode and the kernels
// stay within a few per cent; beyond 10 % a single run cannot tell apart
// changes of the size the project compares (a few to ten per cent).
inline constexpr double kSpreadLimit = 0.10;
// Fewer samples than this give p10/p90 that are interpolated extremes, not a spread.
inline constexpr int kSpreadMinSamples = 5;

// One line per finding, in the order: machine load, then cases by key order in the document.
std::vector<std::string> run_warnings(const nlohmann::json& doc);

// Sets doc["warnings"] to run_warnings(doc) when there are any; returns them.
std::vector<std::string> add_run_warnings(nlohmann::json& doc);

// Prints each warning on stderr as "warning: ...".
void print_run_warnings(const std::vector<std::string>& warnings);

}  // namespace bitlab

// The runner behind `bitlab compare --ab BASE_BITLAB NEW_BITLAB`: runs the two
// builds' `bench` alternately with the same options and collects each run's
// result file, so that the comparison sees both builds under the same drift of
// the machine (frequency, temperature, other load) rather than one build in a
// quiet minute and the other in a busy one.
//
// A round is one run of each build; the order follows ABBA BAAB: rounds 1..4
// run AB, BA, BA, AB, then again. Any slow trend across the session (a linear
// drift) then hits both builds equally within every four rounds, and neither
// build always runs first (a first run that warms caches or the governor).
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "harness/result_reader.h"

namespace bitlab::cli {

struct AbOptions {
  std::string base_bin, new_bin;        // the two bitlab executables
  std::vector<std::string> bench_args;  // given to both `bench` runs; --out is added per run
  int rounds = 4;
  // Where the result files of the runs go (kept). Empty: a temporary folder,
  // removed once the files are read.
  std::string work_dir;
};

struct AbResults {
  // One document per round, in round order, for each build.
  std::vector<ResultDoc> base, current;
};

// True when round `round` (0-based) runs BASE before NEW (the ABBA BAAB order).
bool base_runs_first(int round);

// Runs the rounds, reporting each on `progress` (one line each). A missing or
// non-executable binary, `--out` among the bench arguments, or a run that
// fails (its exit status and the last line of its stderr, which build, which
// round) is a UsageError: no verdict.
AbResults run_ab(const AbOptions& o, const std::function<void(const std::string&)>& progress);

}  // namespace bitlab::cli

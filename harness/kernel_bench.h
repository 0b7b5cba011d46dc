// Kernel microbenchmarks for `bitlab bench`, with Google Benchmark as the
// engine: the bench set of the op cases (harness/op_cases: the model's
// BitLinear shapes at several token counts and the two LM heads), timed on the
// backend's own clock with the one cold-cache policy of every benchmark
// (weight copies rotated past the caches), keyed as the benchmark binaries key them.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "harness/op_cases/op_case.h"
#include "harness/results.h"
#include "model/backend.h"

namespace bitlab {

struct KernelBenchOptions {
  int repetitions = 9;
  double min_seconds = 0.1;  // per repetition
  std::vector<std::string> pins;  // the kernel variants pinned on the backend (bench keys name them)
  double bandwidth_gbps = 0;
  // When set, probes the memory bandwidth again just before and after each case
  // (one probe between two cases serves both); the case's roofline is the
  // highest of bandwidth_gbps and those two, so a machine whose bandwidth drifts
  // (a shared VM) is less often credited with more than 100 % by a probe taken
  // in a slow moment (a case can still beat all three probes). bandwidth_gbps 0: no roofline and no probes; probe unset:
  // bandwidth_gbps alone.
  std::function<double()> probe;
  // The measured int8 peak in multiply-adds per second (harness/compute_peak.h):
  // the compute ceiling of the matmul cases with more than one token, which
  // get derived["compute_fraction"]. 0: none (a GPU backend's cases).
  double int8_peak_macs = 0;
  // When set, measures the int8 peak again just before and after each
  // compute-bound case (one probe between two such cases serves both); the
  // case's ceiling is the highest of int8_peak_macs and those probes, as the
  // bandwidth probes do for the roofline: one probe at the start of a run can
  // land in a busy moment and read far low, which would credit the GEMM with
  // more than the machine has. Set with int8_peak_macs 0, the probes alone are
  // the ceiling (a case run with fewer threads than the run's probe).
  std::function<double()> peak_probe;
};

// Runs every case on `be`; `progress(i, n, what)` is called before each case.
std::vector<Measurement> run_kernel_benchmarks(
    Backend& be, const std::vector<opcase::OpCase>& cases, const KernelBenchOptions& o,
    const std::function<void(size_t, size_t, const std::string&)>& progress = {});

}  // namespace bitlab

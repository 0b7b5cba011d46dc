// Kernel benchmarks of every CPU backend usable on this machine (scalar,
// avx512, ... as the registry lists them), under each kernel variant it lists,
// through the Backend API so the threading under test is the real one.
//
// The cases are the op cases' bench set (harness/op_cases): the 2B4T BitLinear
// shapes at 1, 8, 32 and 128 tokens and the bf16 and int8 LM heads, at 1 and
// 2 threads, keyed as `bitlab bench` keys them:
//   kernel/<op>/<backend>/N:<n>/K:<k>/T:<tokens>/threads:<threads>[/variant:<name>]
// (Google Benchmark adds /manual_time to the names it prints). Weights are
// cold (the one policy of every benchmark: copies rotated past the caches);
// counters: bytes_per_second (weights + activations + outputs), ops/s, copies.
// Example, with the statistics the harness expects:
//   build/bin/bitlab_cpu_bench --benchmark_filter='avx512/.*T:1/' --benchmark_repetitions=9
#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>

#include "harness/op_cases/op_bench.h"
#include "common/sysinfo.h"

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  try {
    bitlab::opcase::OpBenchOptions o;
    o.threads = {1, 2};
    bitlab::opcase::register_op_benchmarks([](const bitlab::DeviceInfo& di) { return di.kind == "cpu"; }, o);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bitlab_cpu_bench: %s\n", e.what());
    return 1;
  }
  benchmark::AddCustomContext("llc_bytes", std::to_string(bitlab::last_level_cache_bytes()));
  benchmark::AddCustomContext("cold_bytes", std::to_string(bitlab::opcase::cold_budget_bytes()));
  benchmark::RunSpecifiedBenchmarks();
  bitlab::opcase::close_op_benchmarks();
  benchmark::Shutdown();
  return 0;
}

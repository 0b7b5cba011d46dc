// Timing op cases with Google Benchmark: one timed loop shared by `bitlab
// bench` and the per-backend benchmark binaries, and the binaries' runner.
#pragma once
#include <benchmark/benchmark.h>

#include <functional>
#include <string>
#include <vector>

#include "harness/op_cases/op_case.h"

namespace bitlab::opcase {

// Times `p`'s op on the backend's own clock (device events on a GPU), one
// call an iteration, rotating through `copies` weight copies; sets the
// bytes_per_second, ops/s and copies counters from `c`.
// `sample`, when set, receives each iteration's seconds.
void time_case(benchmark::State& st, Backend& be, Prepared& p, size_t copies, const OpCase& c,
               const std::function<void(double)>& sample = {});

// The kernel variants a case runs under on `backend`: each usable variant of
// its op, pinned; or, where the backend lists none for the op, one unpinned run ("").
std::vector<std::string> pins_for(const std::string& backend, const std::string& op);

struct OpBenchOptions {
  std::vector<int> threads{1};  // CPU backends: one set of benchmarks per count
  int device = 0;               // GPU index
  ModelConfig model = bitnet_2b4t();
  std::vector<int64_t> tokens = bench_tokens();
  // Called with each iteration's seconds, by benchmark key.
  std::function<void(const std::string& key, double seconds)> on_sample;
  // Extra counters of a backend's own (after the timed loop).
  std::function<void(benchmark::State&, const OpCase&)> counters;
};

// Registers the bench set (bench_cases) on each usable backend whose
// DeviceInfo `want` accepts, under every variant pins_for gives, named by bench_key: the same
// keys `bitlab bench` writes. Backends are opened here, once per (backend,
// threads, variant); each case's inputs are built when it first runs and
// dropped when the next case starts. Returns how many were registered.
size_t register_op_benchmarks(const std::function<bool(const DeviceInfo& backend)>& want,
                              const OpBenchOptions& o = {});

// Drops the inputs and closes the backends register_op_benchmarks opened. Call
// it after the benchmarks ran, before main returns: a device closed among the
// static destructors at exit may find its driver already torn down.
void close_op_benchmarks();

}  // namespace bitlab::opcase

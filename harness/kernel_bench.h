// Kernel microbenchmarks for `bitlab bench`, with Google Benchmark as the
// engine: the model's BitLinear shapes (fused QKV, o, fused gate/up, down) and
// the tied LM head, at several token counts, timed on the backend's own clock
// (manual time), with weight copies rotated so they come from DRAM, not cache.
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "harness/results.h"
#include "model/backend.h"
#include "model/config.h"

namespace bitlab {

struct KernelCase {
  std::string op;     // "matmul_w2a8", "lm_head" or "lm_head_i8"
  std::string label;  // "qkv", "o", "gate_up", "down", "head"
  std::vector<int64_t> part_rows;  // matmul parts (one entry for lm_head: the vocabulary)
  int64_t k = 0;
  int64_t tokens = 1;
  int64_t n() const;
  // Bytes the kernel must move (weights + activations + outputs) and its ops.
  double bytes() const;
  double ops() const;
  size_t weight_bytes() const;  // the weight (or table) part of bytes()
};

// The model's shapes at each token count; the LM heads (bf16, int8) at one
// token only (decode). Every backend runs both heads (both are required ops).
std::vector<KernelCase> kernel_cases(const ModelConfig& c, const std::vector<int64_t>& tokens);

struct KernelBenchOptions {
  int repetitions = 9;
  double min_seconds = 0.1;  // per repetition
  size_t cold_bytes = 64u << 20;  // rotate weight copies until they exceed this
  double bandwidth_gbps = 0;
  // When set, probes the memory bandwidth again just before and after each case
  // (one probe between two cases serves both); the case's roofline is the
  // highest of bandwidth_gbps and those two, so a machine whose bandwidth drifts
  // (a shared VM) is less often credited with more than 100 % by a probe taken
  // in a slow moment (a case can still beat all three probes). bandwidth_gbps 0: no roofline and no probes; probe unset:
  // bandwidth_gbps alone.
  std::function<double()> probe;
};

// Runs every case on `be`; `progress(i, n, what)` is called before each case.
std::vector<Measurement> run_kernel_benchmarks(
    Backend& be, const std::vector<KernelCase>& cases, const KernelBenchOptions& o,
    const std::function<void(size_t, size_t, const std::string&)>& progress = {});

}  // namespace bitlab

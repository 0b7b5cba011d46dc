// End-to-end benchmark for `bitlab bench`: time to first token over a prompt
// (prefill) and per-step decode latency, on one backend, with the roofline
// fraction of each decode step (all weights and the KV cache read once).
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "harness/results.h"
#include "model/transformer.h"

namespace bitlab {

struct E2eOptions {
  int64_t prompt_len = 128;
  int64_t gen = 32;          // decode steps timed
  int prefill_repetitions = 5;
  double bandwidth_gbps = 0;
  std::string model;         // spec, for the key
};

// A prompt of BOS and seeded ids other than BOS/EOS.
std::vector<int32_t> seeded_prompt(const ModelConfig& c, int64_t len, uint64_t seed);

// Runs prefill `prefill_repetitions` times, then `gen` decode steps; returns
// the "prefill" and "decode" measurements. `progress(fraction)` as it goes.
std::vector<Measurement> run_e2e_benchmark(Transformer& model, const ModelWeights& w, const E2eOptions& o,
                                           const std::function<void(double)>& progress = {});

}  // namespace bitlab

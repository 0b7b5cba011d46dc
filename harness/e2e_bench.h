// End-to-end benchmark for `bitlab bench`: time to first token over a prompt
// (prefill) and per-step decode latency, on one backend, with the roofline
// fraction of each decode step (all weights and the KV cache read once), and
// the energy of each phase where an EnergySession is given.
#pragma once
#include <cstdint>
#include <functional>
#include <vector>

#include "harness/energy/session.h"
#include "harness/op_profile.h"
#include "harness/results.h"
#include "model/transformer.h"

namespace bitlab {

struct E2eOptions {
  int64_t prompt_len = 128;
  int64_t gen = 32;          // decode steps timed
  // Decode step counts, one decode measurement each (empty: just `gen`). With
  // more than one, each decode key names its count ("/gen:N").
  std::vector<int64_t> gens;
  // Tokens already in the KV cache before the timed work: a context of this
  // many tokens is prefilled once, untimed; each timed prefill then runs the
  // prompt after it, and decode continues after context and prompt. Keys name
  // a depth other than 0 ("/depth:N").
  int64_t depth = 0;
  int prefill_repetitions = 5;
  // Timed passes over the `gen` decode steps (each from the same cache state);
  // every step of every pass is one sample.
  int decode_repetitions = 1;
  double bandwidth_gbps = 0;
  double int8_peak_macs = 0;  // as KernelBenchOptions::int8_peak_macs, for prefill
  std::function<double()> peak_probe;  // as KernelBenchOptions::peak_probe, around the timed prefills
  std::function<double()> probe;  // as KernelBenchOptions::probe, around the decode phase
  std::string model;         // spec, for the key
  std::string key_prefix = "e2e";
  // The weight layout the backend was opened with (keys and records name it).
  WeightBits weight_bits = WeightBits::Two;
  // Energy: each phase runs inside one window of the session's meters; a phase
  // shorter than the meters' minimum window is repeated (untimed) until the
  // window is long enough: prefill from the start again, decode over the same
  // positions again (the cache rewound to the prompt).
  const EnergySession* energy = nullptr;
  // The profiler the model's Transformer was built on, if any: after the
  // timed prefills, one more prefill runs with it timing each op, and the
  // prefill measurement records the breakdown.
  OpProfiler* profiler = nullptr;
};

// A prompt of BOS and seeded ids other than BOS/EOS.
std::vector<int32_t> seeded_prompt(const ModelConfig& c, int64_t len, uint64_t seed);

// Fills the context (`depth`), runs prefill `prefill_repetitions` times, then
// `decode_repetitions` passes of each decode step count; returns the "prefill"
// measurement and one "decode" measurement per step count, in order.
// `progress(fraction)` as it goes. The model needs depth + prompt_len + the
// largest step count positions.
std::vector<Measurement> run_e2e_benchmark(Transformer& model, const ModelWeights& w, const E2eOptions& o,
                                           const std::function<void(double)>& progress = {});

}  // namespace bitlab

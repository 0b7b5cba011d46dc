// One bitlab e2e case on a peer's llama-bench: prefill of `prompt` tokens
// after `depth` cached ones, and `gen` decode steps after depth + prompt
// cached ones (where bitlab's decode starts), each as its own llama-bench run
// (its tests are the product of -p, -n and -d, so one run cannot hold both
// at those depths).
#pragma once
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "harness/peers/llama_bench_json.h"
#include "harness/peers/peer_spec.h"

namespace bitlab::peers {

struct PeerCase {
  int64_t prompt = 0, gen = 0, depth = 0;
  int threads = 1;
  int repetitions = 1;
};

struct PeerCaseResult {
  // Absent where the peer cannot put `depth` tokens in its cache first.
  std::optional<LlamaBenchTest> prefill;
  LlamaBenchTest decode;
  std::vector<std::string> commands;  // each llama-bench command line, for the record
};

// The argument lists (after the binary) of the runs for `c`.
std::vector<std::vector<std::string>> llama_bench_args(const PeerSpec& p, const std::string& model,
                                                       const PeerCase& c);

// Runs them; logs go to `work_dir`. A run that exits non-zero, is killed or
// prints what parse_llama_bench_json refuses is an InputError naming the peer
// and the log.
PeerCaseResult run_peer_case(const PeerSpec& p, const std::string& model, const PeerCase& c,
                             const std::string& work_dir);

}  // namespace bitlab::peers

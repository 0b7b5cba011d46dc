// What a llama-bench run printed with `-o json` (an array of tests) or
// `-o jsonl` (one test per line): per test, its sizes, thread count, the
// raw sample times and the build that ran it. The forks' outputs differ in
// fields; those read here are common to llama.cpp, ik_llama.cpp and
// bitnet.cpp's fork (n_depth and test are optional).
#pragma once
#include <cstdint>
#include <string>
#include <vector>

namespace bitlab::peers {

struct LlamaBenchTest {
  int64_t n_prompt = 0, n_gen = 0, n_depth = 0, n_threads = 0;
  std::string test;             // ik_llama.cpp: "tg32@pp160" for -gp; else absent
  std::vector<double> samples;  // seconds per repetition (samples_ns / 1e9)
  double avg_ts = 0, stddev_ts = 0;
  std::string build_commit, model_type, cpu_info;
  int64_t build_number = 0;
  // Decode (token generation) rather than prefill: tg, or ik's tg-after-prompt.
  bool decode() const { return n_gen > 0; }
  // Tokens in the KV cache before the timed work.
  int64_t context() const;
  // Tokens each sample timed: the prompt (prefill) or the generated tokens.
  int64_t timed_tokens() const { return decode() ? n_gen : n_prompt; }
};

// Parses llama-bench's output; anything else (not JSON, a test without
// samples, a sample that is not a positive time) is an InputError that names
// `what` (the peer) and says what was wrong.
std::vector<LlamaBenchTest> parse_llama_bench_json(const std::string& text, const std::string& what);

}  // namespace bitlab::peers

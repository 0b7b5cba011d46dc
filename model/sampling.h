// Choosing the next token, and the generation loop with its timings.
//
// Greedy (temperature 0) runs argmax on the device; otherwise logits come back
// and are sampled with temperature and top-k from a seeded SplitMix64 stream,
// so the same seed gives the same tokens on every machine.
#pragma once
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "common/random.h"
#include "model/transformer.h"

namespace bitlab {

struct SamplingParams {
  float temperature = 0.0f;  // 0: greedy
  int64_t top_k = 0;         // 0: the whole vocabulary
  uint64_t seed = 0;
};

class Sampler {
 public:
  explicit Sampler(SamplingParams p);
  bool greedy() const { return p_.temperature <= 0.0f; }
  int32_t sample(std::span<const float> logits);

 private:
  SamplingParams p_;
  SplitMix64 rng_;
  std::vector<int32_t> order_;
  std::vector<double> prob_;
};

struct GenerateResult {
  std::vector<int32_t> tokens;        // generated ids (the prompt not included; a stop token is the last)
  bool stopped = false;               // ended at a stop token (see is_stop below)
  double prefill_seconds = 0;         // prompt in, first token out: time to first token
  std::vector<double> decode_seconds; // one per decode step after the first token
};

// Prefills `prompt` and generates up to `n_gen` tokens (the first comes from
// the prefill). `on_token(i, id)` is called as each token appears, so a caller
// can stream them; generation ends early after a token for which `is_stop(id)`
// holds (end of text), that token included in the result.
GenerateResult generate(Transformer& model, std::span<const int32_t> prompt, int64_t n_gen, const SamplingParams& sp,
                        const std::function<void(int64_t, int32_t)>& on_token = {},
                        const std::function<bool(int32_t)>& is_stop = {});

}  // namespace bitlab

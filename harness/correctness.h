// Correctness of a backend against the reference (docs/design.md §5), as records for
// `bitlab check` and result files: per op (bit-exact fields, NMSE for float
// ops) and end to end (logits NMSE, cosine, max |Δ|, softmax KL, top-1
// agreement over a teacher-forced sequence).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "harness/noise_floor.h"
#include "model/backend.h"
#include "model/transformer.h"
#include "model/weights/canonical.h"

namespace bitlab {

// The prompt seed of the end-to-end check by default.
inline constexpr uint64_t kCheckPromptSeed = 3;

struct CheckRecord {
  std::string backend, variant, check;
  std::optional<bool> bit_exact;
  std::optional<double> nmse, threshold, cosine, max_abs_diff, kl_divergence, top1_agreement;
  // End to end (harness/noise_floor.h): the oracle's noise floor there, the
  // backend's NMSE and KL as multiples of it (absent where the floor is 0),
  // and the KL and top-1 limits the rule applied (threshold is the NMSE limit).
  std::optional<double> floor_nmse, floor_kl, floor_top1, nmse_ratio, kl_ratio, kl_threshold, top1_threshold;
  bool pass = false;
};

nlohmann::json to_json(const CheckRecord& r);

// The check set of the op cases (harness/op_cases): every op on odd sizes and
// on the model's own shapes; only the ops named in `ops` when it is not empty.
// Each record's variant names the kernel the backend ran for that op.
std::vector<CheckRecord> check_ops(Backend& be, const ModelConfig& c, const std::vector<std::string>& ops = {});
// The whole network over the oracle run's teacher-forced tokens, with its
// head (bf16 or int8; every backend has both), judged against the oracle's
// logits and noise floor (judge_end_to_end).
CheckRecord check_end_to_end(Backend& be, const ModelWeights& w, const OracleRun& oracle);
// The same over `seq_len` tokens of the default prompt, measuring the oracle
// side for this one backend.
CheckRecord check_end_to_end(Backend& be, const ModelWeights& w, int64_t seq_len, HeadKind head = HeadKind::BF16);
// The teacher-forced tokens of the end-to-end check for prompt seed `seed`.
std::vector<int32_t> check_tokens_for(const ModelConfig& c, int64_t seq_len, uint64_t seed = kCheckPromptSeed);

// Logit-level agreement metrics; `got` and `want` are [rows, vocab]. Its
// verdict is the absolute rule (NMSE <= kNmseEndToEnd, every top-1 agrees),
// the end-to-end rule with a zero floor; judge_end_to_end replaces it.
CheckRecord compare_logits(std::span<const float> got, std::span<const float> want, int64_t vocab);

}  // namespace bitlab

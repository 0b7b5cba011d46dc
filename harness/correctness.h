// Correctness of a backend against the reference (docs/design.md §5), as records for
// `bitlab check` and result files: per op (bit-exact fields, NMSE for float
// ops) and end to end (logits NMSE, cosine, max |Δ|, softmax KL, top-1
// agreement over a teacher-forced sequence).
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/backend.h"
#include "model/transformer.h"
#include "model/weights/canonical.h"

namespace bitlab {

struct CheckRecord {
  std::string backend, variant, check;
  std::optional<bool> bit_exact;
  std::optional<double> nmse, threshold, cosine, max_abs_diff, kl_divergence, top1_agreement;
  bool pass = false;
};

nlohmann::json to_json(const CheckRecord& r);

// The check set of the op cases (harness/op_cases): every op on odd sizes and
// on the model's own shapes; only the ops named in `ops` when it is not empty.
// Each record's variant names the kernel the backend ran for that op.
std::vector<CheckRecord> check_ops(Backend& be, const ModelConfig& c, const std::vector<std::string>& ops = {});
// The whole network over `seq_len` teacher-forced tokens against the oracle,
// both with the same LM head (bf16 or int8; every backend has both).
CheckRecord check_end_to_end(Backend& be, const ModelWeights& w, int64_t seq_len, HeadKind head = HeadKind::BF16);

// Logit-level agreement metrics; `got` and `want` are [rows, vocab].
CheckRecord compare_logits(std::span<const float> got, std::span<const float> want, int64_t vocab);

}  // namespace bitlab

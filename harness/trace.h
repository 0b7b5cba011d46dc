// The layer and op trace: where does a backend's own path leave the oracle's?
//
// The backend under test runs the network wrapped in a ForwardingBackend that,
// at every op, copies the op's inputs to the oracle (model/reference_backend.h),
// runs the same op there, and compares the two outputs with the op's tolerance
// (docs/design.md §5.2). The backend then continues with ITS OWN outputs, and
// the oracle is fed the backend's inputs again at the next op, so an op beyond
// tolerance marks the op that went wrong, not every op after it.
#pragma once
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "model/backend.h"
#include "model/transformer.h"
#include "model/weights/canonical.h"

namespace bitlab {

// How far one op's outputs are from the oracle's, over one call or the worst
// of several calls of the same (layer, op).
struct OpDivergence {
  int64_t layer = kEmbedMark;  // decoder layer index, kEmbedMark or kHeadMark
  std::string op;              // "<op>[/<label>]", e.g. matmul_w2a8/qkv, rmsnorm_quant/attn_sub_norm
  std::string tolerance;       // "bit-exact", "nmse<=1e-10", "codes ±1"
  int64_t calls = 0;
  double nmse = 0;        // worst NMSE of the float outputs
  double max_abs = 0;     // worst max |Δ| of the float outputs
  int64_t differing = 0;  // outputs (values or codes) that differ from the oracle's, worst call
  int64_t total = 0;      // outputs compared in that call
  int max_code_step = 0;  // worst |Δ| of int8 codes
  bool pass = true;
  std::string detail;  // why it is beyond tolerance (empty on a pass)
  int64_t step = 0;    // the forward step of the worst (or failing) call: 0 = prefill
};

struct TraceReport {
  std::vector<OpDivergence> ops;              // per (layer, op), worst call, in first-run order
  std::optional<OpDivergence> first_failure;  // the first call beyond tolerance, in run order
  int64_t steps = 0;                          // forward steps traced (a prefill, then one per decoded token)
  bool clean() const { return !first_failure; }
};

// "layer 3", "embed" or "head".
std::string layer_name(int64_t layer);

// Runs `be` and the oracle side by side over `tokens`: a prefill of the first
// half, then one decode step per remaining token (both the GEMM and the GEMV
// paths, and the cache at positions > 0), with `head` as the LM head.
TraceReport trace_backend(Backend& be, const ModelWeights& w, std::span<const int32_t> tokens,
                          HeadKind head = HeadKind::BF16);

// "layer 3 relu2_mul_rmsnorm_quant/ffn_sub_norm: 117 of 6912 int8 codes differ (step 0)".
std::string describe(const OpDivergence& d);
// A compact table, one line per layer (its worst op), then the first op
// beyond tolerance or "trace clean".
std::vector<std::string> trace_table(const TraceReport& r);
nlohmann::json to_json(const TraceReport& r);

}  // namespace bitlab

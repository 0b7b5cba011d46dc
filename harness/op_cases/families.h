// The case builders of each op family (one file per family). Sizes are free:
// the sets in case_sets.cpp pick them.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "harness/op_cases/op_case.h"

namespace bitlab::opcase {

// quantize.cpp: x ≈ N(0, 3²) [t, k] with, where k allows, values on exact .5
// boundaries once scaled and (t > 1) an all-zero second row.
OpCase quantize_act_case(int64_t t, int64_t k);

// matmul.cpp: `parts` fused along N over k, t tokens; each part its own scale
// (part_scales, default 0.02 each) and checked alone against the reference.
OpCase matmul_case(const std::string& label, const std::vector<int64_t>& parts, int64_t k, int64_t t,
                   const std::vector<float>& part_scales = {});

// float_ops.cpp
OpCase rmsnorm_case(int64_t t, int64_t d);
OpCase rope_case(int64_t heads, int64_t head_dim, int64_t pos0, int64_t t, double theta);
// t new rows at positions pos0.. with the cache already holding pos0 rows.
OpCase attention_case(int64_t heads, int64_t kv_heads, int64_t head_dim, int64_t pos0, int64_t t);
OpCase relu2_mul_case(int64_t n);
OpCase add_case(int64_t n);

// fused.cpp: each against the same backend's primitives, bit for bit.
OpCase rmsnorm_quant_case(int64_t t, int64_t d);
OpCase add_rmsnorm_quant_case(int64_t t, int64_t d);
OpCase relu2_mul_rmsnorm_quant_case(int64_t t, int64_t d);
OpCase rope_qk_case(int64_t q_heads, int64_t k_heads, int64_t head_dim, int64_t pos0, int64_t t, double theta);

// head.cpp
OpCase embed_case(int64_t vocab, int64_t d);
OpCase lm_head_case(int64_t vocab, int64_t d, int64_t t);
OpCase argmax_case(int64_t vocab, int64_t t);
OpCase lm_head_i8_case(int64_t vocab, int64_t d, int64_t t);

}  // namespace bitlab::opcase

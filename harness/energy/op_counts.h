// The work one forward pass does, counted from the model's shapes alone: what
// the modelled energy meter multiplies by per-operation energies.
//
// Conventions (per token row; n = the width the op works on):
//   int8 multiply-adds  every ternary weight x int8 activation in matmul_w2a8
//                       (N*K per row), accumulated in int32.
//   float operations    fp32 adds, multiplies, divides, compares and exps;
//                       a multiply-add counts 2. Per-row scalars (1/rms, the
//                       quantisation scale, RoPE angles) are not counted.
//     rmsnorm           4n   (Σx²: 2n; x * 1/rms * w: 2n)
//     quantize_act      3n   (absmax compare, x*s, round)
//     matmul epilogue   2N   (acc / s * w_scale per output)
//     rope              3n   (a*cos - b*sin: 2 multiplies + 1 add per element)
//     attention         per query head over L cached positions:
//                       (4*head_dim + 6) * L  (q·k and p·v: 2*head_dim each;
//                       scale, max, subtract, exp, sum, divide: 1 each)
//     relu2_mul         3n   (relu compare, square, multiply)
//     add               n
//     lm_head           2 * vocab * hidden per row; argmax: vocab compares
//     lm_head_i8        (int8 head) vocab * hidden int8 multiply-adds per row,
//                       plus quantize_act of the row (3 * hidden) and two
//                       divisions per logit (2 * vocab)
//   DRAM bytes          read once per pass, as if nothing stayed cached between
//                       passes: packed 2-bit weights (N*ceil(K/4) per matrix),
//                       fp32 norm weights, the bf16 embedding (read whole by the
//                       tied head; the embed lookups are rows of it) or, with the
//                       int8 head, the int8 table and its fp32 row factors
//                       (vocab * (hidden + 4); embed rows are not counted), and the fp32
//                       KV cache as it stands after this pass's append.
//                       Per-matrix scales (4 bytes) and activations (assumed to
//                       stay in cache) are not counted; writes are not counted.
#pragma once
#include <cstdint>

#include "model/config.h"
#include "model/transformer.h"

namespace bitlab {

struct OpCounts {
  double int8_macs = 0;
  double float_ops = 0;
  double dram_bytes = 0;

  OpCounts& operator+=(const OpCounts& o) {
    int8_macs += o.int8_macs;
    float_ops += o.float_ops;
    dram_bytes += o.dram_bytes;
    return *this;
  }
};

// One pass over `tokens` new tokens with `cached` positions already in the KV
// cache (prefill from the start: cached = 0; a decode step: tokens = 1), the
// LM head and argmax on `head_rows` rows (1: greedy, the last token only).
// head: which tied head computes the logits (`--head`); rescored_rows: the
// certified head's rows recomputed with the bf16 table (per head row);
// bits: the weight layout (`--weight-bits`: 1.6 stores five weights per byte).
OpCounts count_forward(const ModelConfig& c, int64_t tokens, int64_t cached, int64_t head_rows = 1,
                       HeadKind head = HeadKind::BF16, double rescored_rows = 0, WeightBits bits = WeightBits::Two);

}  // namespace bitlab

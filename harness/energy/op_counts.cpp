#include "harness/energy/op_counts.h"

#include <fmt/format.h>

#include "model/error.h"

namespace bitlab {
namespace {

// Bytes of one N x K ternary matrix: 4 codes per byte along K (2 bits), or 5 (1.6 bits).
double packed_bytes(int64_t n, int64_t k, WeightBits bits) {
  const int64_t per_byte = bits == WeightBits::Two ? 4 : 5;
  return double(n) * double((k + per_byte - 1) / per_byte);
}

}  // namespace

OpCounts count_forward(const ModelConfig& c, int64_t tokens, int64_t cached, int64_t head_rows, HeadKind head_kind,
                       double rescored_rows, WeightBits bits) {
  // The certified head scans the int8 table like the int8 head, then rescores
  // rescored_rows rows with the bf16 one.
  const bool int8_head = head_kind == HeadKind::Int8 || head_kind == HeadKind::Certified;
  const double rescored = head_kind == HeadKind::Certified ? rescored_rows : 0.0;
  if (tokens < 1 || cached < 0 || head_rows < 1 || head_rows > tokens)
    throw UsageError(fmt::format("count_forward: tokens {} cached {} head_rows {} (need tokens >= 1, cached >= 0, "
                                 "1 <= head_rows <= tokens)",
                                 tokens, cached, head_rows));
  const double t = double(tokens), layers = double(c.n_layers);
  const double h = double(c.hidden), q = double(c.q_dim()), kv = double(c.kv_dim()), f = double(c.ffn);
  const double vocab = double(c.vocab);
  OpCounts n;

  n.int8_macs = t * layers * double(c.ternary_params_per_layer());

  // Per token and layer, everything but attention: see the table in op_counts.h.
  const double per_token =
      (7 * h) + 2 * (q + 2 * kv) + 3 * (q + kv)  // rmsnorm_quant(h), qkv epilogue, rope on q and k
      + (7 * q) + (2 * h) + h                    // rmsnorm_quant(attn), o epilogue, residual add
      + (7 * h) + 2 * (2 * f) + (3 * f)          // rmsnorm_quant(h), gate/up epilogue, relu2_mul
      + (7 * f) + (2 * h) + h;                   // rmsnorm_quant(ffn), down epilogue, residual add
  // Token i (0-based) attends over cached + i + 1 positions.
  const double positions = t * double(cached) + t * (t + 1) / 2;
  const double attention = double(c.n_heads) * double(4 * c.head_dim + 6) * positions;
  // final norm, lm_head (float, or quantize + int8 epilogue), argmax
  const double head =
      double(head_rows) * (4 * h + (int8_head ? 3 * h + 2 * vocab : 2 * vocab * h) + 2 * rescored * h + vocab);
  n.float_ops = layers * (t * per_token + attention) + head;
  if (int8_head) n.int8_macs += double(head_rows) * vocab * h;

  const double codes = packed_bytes(c.q_dim(), c.hidden, bits) + 2 * packed_bytes(c.kv_dim(), c.hidden, bits) +
                       packed_bytes(c.hidden, c.q_dim(), bits) + 2 * packed_bytes(c.ffn, c.hidden, bits) +
                       packed_bytes(c.hidden, c.ffn, bits);
  const double norms = 4 * (h + q + h + f);  // attn_norm, attn_sub_norm, ffn_norm, ffn_sub_norm
  const double kv_cache = 2 * kv * 4 * double(cached + tokens);
  const double table = head_table_bytes(c, head_kind, rescored);
  n.dram_bytes = layers * (codes + norms + kv_cache) + 4 * h + table;  // + final_norm
  return n;
}

}  // namespace bitlab

// The op set every backend implements (docs/design.md §4), with the shape rules each
// op enforces. Shapes are [tokens, features]; tokens = 1 is decode (GEMV),
// tokens > 1 is prefill (GEMM). Activations are fp32 unless stated.
//
//   embed         tokens I32 [t,1], table BF16 [vocab,d]        -> F32 [t,d]
//   rmsnorm       x [t,d], weight [1,d], eps                     -> [t,d]
//   quantize_act  x [t,k]                                        -> I8 [t,k] + scale F32 [t,1]
//   rmsnorm_quant rmsnorm then quantize_act (fused where faster)
//   add_rmsnorm_quant        h += d, then rmsnorm_quant(h)    (fused where faster)
//   relu2_mul_rmsnorm_quant  rmsnorm_quant(relu2_mul(g, u))  (fused where faster)
//   matmul_w2a8   QuantAct [t,k] x TernaryWeight parts           -> one F32 [t,n_p] per part
//   rope          x [t, heads*head_dim] in place, positions pos0..pos0+t-1
//   rope_qk       rope on q and on k at the same positions    (fused where faster)
//   attention     q [t,H*hd], k,v [t,Hkv*hd], KV cache           -> [t,H*hd]; appends k,v
//   relu2_mul     g, u [t,f]                                     -> relu(g)^2 * u
//   add           a, b [t,d]                                     -> a + b (may alias a)
//   lm_head       x [t,d], table BF16 [vocab,d]                  -> logits [t,vocab]
//   lm_head_i8    QuantAct [t,d], HeadTable (I8 [vocab,d] + F32 [vocab,1]) -> logits [t,vocab]
//   argmax        logits [t,v]                                   -> I32 [t,1] (lowest index on ties)
#pragma once
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "model/tensor.h"

namespace bitlab {

// int8 activations and the per-token factor s = 127 / max(absmax, 1e-5); a row
// holding NaN or ±Inf gets s = NaN or +0 and all-zero codes (model/reference.h).
struct QuantAct {
  Tensor q;      // I8 [t, k]
  Tensor scale;  // F32 [t, 1]
};

// A ternary matrix in a backend's own layout, possibly several matrices fused
// along N (QKV, gate/up): part p covers rows [row0_p, row0_p + part_rows[p]) and
// has its own scale, so the right scale must land on the right rows.
struct TernaryWeight {
  Tensor packed;                   // backend layout; dtype T2 or I8
  std::vector<float> scales;       // one per part
  std::vector<int64_t> part_rows;  // one per part
  int64_t n = 0, k = 0;            // n = sum of part_rows
  std::string name;
  int64_t part_offset(size_t p) const;
};

// The tied head quantised to int8 per vocabulary row (`--head int8`): row v is
// quantize_act of embedding row v, so q = clamp(round(e * s_v)) with
// s_v = 127 / max(absmax(row v), 1e-5). The op is then an int8 x int8 matmul:
//   logits[t, v] = float(Σ_i q[v, i] * xq[t, i]) / s_x[t] / s_v   (exact int32 sum,
// two fp32 divisions in that order), so every backend is bit-exact with the reference.
struct HeadTable {
  Tensor q;      // I8 [vocab, d]
  Tensor scale;  // F32 [vocab, 1]: s_v
};

// One layer's KV cache: F32 [max_pos, kv_dim] each.
struct KvLayer {
  Tensor k, v;
};

struct RopeParams {
  int64_t n_heads = 0, head_dim = 0;
  int64_t pos0 = 0;  // position of row 0
  double theta = 500000.0;
};

struct AttentionParams {
  int64_t n_heads = 0, n_kv_heads = 0, head_dim = 0;
  int64_t pos0 = 0;  // position of row 0; rows see positions 0..pos0+row
};

namespace check {
// Each throws UsageError naming the op, the argument and the shapes.
void tensor(const char* op, const char* arg, const Tensor& t, DType dtype);
void same_shape(const char* op, const Tensor& a, const Tensor& b);
// a and b share no byte (a fused op may process both at once, unordered).
void disjoint(const char* op, const char* a_name, const Tensor& a, const char* b_name, const Tensor& b);
void embed(const Tensor& tokens, const Tensor& table, const Tensor& out);
void rmsnorm(const Tensor& x, const Tensor& w, const Tensor& y);
void quantize_act(const Tensor& x, const QuantAct& q);
void matmul_w2a8(const QuantAct& x, const TernaryWeight& w, std::span<const Tensor> y);
void rope(const Tensor& x, const RopeParams& p);
void attention(const Tensor& q, const Tensor& k, const Tensor& v, const KvLayer& cache, const AttentionParams& p,
               const Tensor& out);
void lm_head(const Tensor& x, const Tensor& table, const Tensor& logits);
void lm_head_i8(const QuantAct& x, const HeadTable& table, const Tensor& logits);
void argmax(const Tensor& logits, const Tensor& ids);
}  // namespace check

}  // namespace bitlab

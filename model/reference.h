// The reference: the oracle every backend is tested against (docs/design.md §5).
//
// Plain scalar code written straight from docs/design.md §2: no SIMD, no threads, no
// tricks. Integer work is exact; float work accumulates in double and rounds
// once, so the reference is at least as accurate as any backend. Pointers are
// raw with explicit sizes; every function states its shapes.
#pragma once
#include <cstdint>

#include "model/ops.h"

namespace bitlab::ref {

// --- BitLinear activations -------------------------------------------------
// Non-finite activations (the contract every backend's quantiser shares, bit
// for bit; the kernels point here):
//   - absmax propagates NaN: a row holding any NaN has absmax NaN, and
//     s = 127 / max(NaN, 1e-5) is NaN, stored as the canonical quiet NaN
//     0x7fc00000 whatever the sign and payload of the NaN in the row;
//     otherwise a row holding ±Inf has absmax +Inf and s = 127 / Inf = +0.
//   - a product x * s that is NaN quantises to code 0 (a float→int8
//     conversion of NaN is undefined). With s = NaN every product is NaN, and
//     with s = 0 every product is 0 or Inf*0 = NaN, so such a row is all 0.
//   - the BitLinear epilogue acc / s * w_scale is then 0 / NaN or 0 / 0: the
//     whole output row is NaN. A poisoned activation stays visibly poisoned
//     instead of turning into plausible numbers.
// Equivalently, per row: if absmax is not finite, s = NaN (a NaN in the row)
// or +0 (only ±Inf), and every code is 0; otherwise the finite path below,
// where no product can be NaN or infinite.
//
// max |x_i| over k values, NaN if any x_i is NaN.
float act_absmax(const float* x, int64_t k);
// s = 127 / max(absmax(x[0..k)), 1e-5), in fp32; NaN (0x7fc00000) or +0 as above.
float act_scale(const float* x, int64_t k);
// clamp(round_half_even(x * s), -128, 127); the product is one fp32 multiply.
// A NaN product gives 0.
int8_t quantize_one(float x, float s);
// x [t, k] -> q [t, k], s [t].
void quantize_act(const float* x, int64_t t, int64_t k, int8_t* q, float* s);

// --- BitLinear matmul ----------------------------------------------------------
// Σ_i T[row, i] * xq[i] over canonical packed codes (model/weights/canonical.h),
// exact in int32.
int32_t ternary_dot(const uint8_t* packed_row, const int8_t* xq, int64_t k);
// y [t, n] = acc / s[token] * w_scale for one canonical matrix [n, k] (rows of
// ceil(k/4) bytes); y has a row stride of ldy floats.
void matmul_w2a8(const int8_t* xq, const float* s, int64_t t, const uint8_t* packed, int64_t n, int64_t k,
                 float w_scale, float* y, int64_t ldy);

// --- float ops -------------------------------------------------------------------
// y[t, d] = x / sqrt(mean(x^2) + eps) * w.
void rmsnorm(const float* x, const float* w, int64_t t, int64_t d, float eps, float* y);
// Rotate-half (NeoX) RoPE in place on x [t, n_heads * head_dim]: dim i pairs
// with i + head_dim/2, angle = pos * theta^(-2i/head_dim), pos = pos0 + row.
void rope(float* x, int64_t t, const RopeParams& p);
// Causal grouped-query attention for rows at positions pos0..pos0+t-1, with
// k_cache/v_cache [>= pos0+t, n_kv_heads*head_dim] already holding those rows.
// Query head h reads KV head h / (n_heads / n_kv_heads).
void attention(const float* q, const float* k_cache, const float* v_cache, int64_t t, const AttentionParams& p,
               float* out);
// y = max(g, 0)^2 * u, elementwise over n.
void relu2_mul(const float* g, const float* u, int64_t n, float* y);
// y = a + b, elementwise over n.
void add(const float* a, const float* b, int64_t n, float* y);
// out [t, d] = table[tokens[i]] as fp32; throws UsageError on an id outside [0, vocab).
void embed(const int32_t* tokens, int64_t t, const uint16_t* table, int64_t vocab, int64_t d, float* out);
// logits [t, vocab] = x [t, d] · table [vocab, d]ᵀ (bf16 table).
void lm_head(const float* x, int64_t t, const uint16_t* table, int64_t vocab, int64_t d, float* logits);
// HeadTable of a bf16 table [vocab, d]: q [vocab, d] and s [vocab] (ops.h).
void quantize_head(const uint16_t* table, int64_t vocab, int64_t d, int8_t* q, float* s);
// logits [t, vocab] = float(Σ q[v]·xq[t]) / s_x[t] / s_v (ops.h, HeadTable).
void lm_head_i8(const int8_t* xq, const float* s_x, int64_t t, const int8_t* q, const float* s_v, int64_t vocab,
                int64_t d, float* logits);
// ids[t] = index of the largest logit in each row, lowest index on ties; NaN is never chosen.
void argmax(const float* logits, int64_t t, int64_t v, int32_t* ids);

}  // namespace bitlab::ref

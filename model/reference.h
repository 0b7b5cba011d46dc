// The reference: the oracle every backend is tested against (DESIGN §5).
//
// Plain scalar code written straight from DESIGN §2: no SIMD, no threads, no
// tricks. Integer work is exact; float work accumulates in double and rounds
// once, so the reference is at least as accurate as any backend. Pointers are
// raw with explicit sizes; every function states its shapes.
#pragma once
#include <cstdint>

#include "model/ops.h"

namespace bitlab::ref {

// --- BitLinear activations -------------------------------------------------
// s = 127 / max(absmax(x[0..k)), 1e-5), in fp32.
float act_scale(const float* x, int64_t k);
// clamp(round_half_even(x * s), -128, 127); the product is one fp32 multiply.
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

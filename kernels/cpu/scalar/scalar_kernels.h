// Scalar kernels: plain loops, the readable baseline of every CPU op. The
// compiler may auto-vectorise them for the baseline ISA; no intrinsics here.
#pragma once
#include "kernels/cpu/cpu_kernels.h"

namespace bitlab::cpu::scalar {

size_t packed_bytes(int64_t n, int64_t k);
void repack(const CanonicalTernary& w, uint8_t* out);
void matmul(const MatmulArgs& a, int64_t n0, int64_t n1);
// The 1.6-bit layout "b3 rows" (matmul_w1p6a8.cpp): ceil(k/5) base-3 bytes per
// row, byte b holding columns 5b..5b+4 (column 5b the most significant digit).
int64_t b3_row_bytes(int64_t k);
size_t b3_packed_bytes(int64_t n, int64_t k);
void b3_repack(const CanonicalTernary& w, uint8_t* out);
void b3_matmul(const MatmulArgs& a, int64_t n0, int64_t n1);
void quantize_row(const float* x, int64_t k, int8_t* q, float* s);
void rmsnorm_row(const float* x, const float* w, int64_t d, float eps, float* y);
void rmsnorm_quant_row(const float* x, const float* w, int64_t d, float eps, int8_t* q, float* s);
void rope_row(float* x, int64_t n_heads, int64_t head_dim, const double* cs);
void embed_row(const uint16_t* table_row, int64_t d, float* out);
void attention_head(const float* q, const float* k_cache, const float* v_cache, int64_t n_keys, int64_t head_dim,
                    int64_t kv_stride, float* out, float* scratch);
void attention_group(const float* const* q, float* const* out, const int64_t* n_keys, int64_t n_queries,
                     const float* k_cache, const float* v_cache, int64_t head_dim, int64_t kv_stride, float* scratch);
void relu2_mul(const float* g, const float* u, int64_t n, float* y);
void add(const float* a, const float* b, int64_t n, float* y);
void lm_head_i8(const int8_t* xq, const float* s_x, int64_t t, int64_t d, const int8_t* q, const float* s_v,
                int64_t v0, int64_t v1, float* logits, int64_t ld_logits);
void lm_head(const float* x, int64_t t, int64_t d, const uint16_t* table, int64_t v0, int64_t v1, float* logits,
             int64_t ld_logits);
int64_t argmax(const float* logits, int64_t v);

}  // namespace bitlab::cpu::scalar

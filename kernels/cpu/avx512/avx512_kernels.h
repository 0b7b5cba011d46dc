// AVX-512 kernels: the CPU backend's fast x86 variants. Every kernel .cpp in
// this folder is compiled with -mavx512{f,bw,vl,dq}; matmul_w2a8.cpp,
// matmul_b3r16k20.cpp and lm_head_i8.cpp also with -mavx512vnni (their
// variants are usable only where the CPU has it). Nothing here may run before the variant's predicate (table.cpp)
// said yes. table.cpp itself is baseline x86-64: it only lists the variants.
#pragma once
#include "kernels/cpu/cpu_kernels.h"

namespace bitlab::cpu::avx512 {

// --- ternary matmul, layout "r16k16" (r16k16.h) ------------------------------------
inline constexpr int64_t kRowGroup = 16;  // output rows per 64-byte block
inline constexpr int64_t kColBlock = 16;  // columns (k) per 64-byte block
size_t packed_bytes(int64_t n, int64_t k);
void repack(const CanonicalTernary& w, uint8_t* out);
// The code (T + 1) stored for row r, column i of the packed layout; r and i may
// run into the padding (r < 16 * ceil(n/16), i < 16 * ceil(k/16)), which holds 1.
int code_at(const uint8_t* packed, int64_t n, int64_t k, int64_t r, int64_t i);
// t2i8_matmul_r16k16__avx512vnni (matmul_w2a8.cpp): needs VNNI. Its GEMM
// (t > 1) reads the activations as prepare writes them (CpuKernels::prepare).
void matmul(const MatmulArgs& a, int64_t n0, int64_t n1);
size_t prepared_bytes(int64_t t, int64_t k);
void prepare(const int8_t* xq, int64_t t, int64_t k, int64_t t0, int64_t t1, uint8_t* out);
// t2i8_matmul_r16k16__avx512bw (matmul_w2a8_bw.cpp): AVX-512 BW only.
void matmul_bw(const MatmulArgs& a, int64_t n0, int64_t n1);

// --- ternary matmul, 1.6-bit layout "b3r16k20" (b3r16k20.h) --------------------------
inline constexpr int64_t kB3ColBlock = 20;  // columns (k) per 64-byte block: 5 per byte
size_t packed_bytes_b3(int64_t n, int64_t k);
void repack_b3(const CanonicalTernary& w, uint8_t* out);
// t1p6i8_matmul_b3r16k20__avx512vnni (matmul_b3r16k20.cpp): needs VNNI.
void matmul_b3(const MatmulArgs& a, int64_t n0, int64_t n1);
size_t prepared_bytes_b3(int64_t t, int64_t k);
void prepare_b3(const int8_t* xq, int64_t t, int64_t k, int64_t t0, int64_t t1, uint8_t* out);

// --- row-wise float ops ----------------------------------------------------------
// 1 / sqrt(mean(x^2) + eps), summed in double as the reference does.
double inv_rms(const float* x, int64_t d, float eps);
void rmsnorm_row(const float* x, const float* w, int64_t d, float eps, float* y);
void quantize_row(const float* x, int64_t k, int8_t* q, float* s);
void rmsnorm_quant_row(const float* x, const float* w, int64_t d, float eps, int8_t* q, float* s);
void attention_head(const float* q, const float* k_cache, const float* v_cache, int64_t n_keys, int64_t head_dim,
                    int64_t kv_stride, float* out, float* scratch);
void attention_group(const float* const* q, float* const* out, const int64_t* n_keys, int64_t n_queries,
                     const float* k_cache, const float* v_cache, int64_t head_dim, int64_t kv_stride, float* scratch);
void relu2_mul(const float* g, const float* u, int64_t n, float* y);
void add(const float* a, const float* b, int64_t n, float* y);
void embed_row(const uint16_t* table_row, int64_t d, float* out);
void lm_head(const float* x, int64_t t, int64_t d, const uint16_t* table, int64_t v0, int64_t v1, float* logits,
             int64_t ld_logits);
// Needs VNNI (lm_head_i8.cpp).
void lm_head_i8(const int8_t* xq, const float* s_x, int64_t t, int64_t d, const int8_t* q, const float* s_v,
                int64_t v0, int64_t v1, float* logits, int64_t ld_logits);
int64_t argmax(const float* logits, int64_t v);

}  // namespace bitlab::cpu::avx512

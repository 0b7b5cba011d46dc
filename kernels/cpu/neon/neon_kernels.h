// NEON kernels (AArch64 Advanced SIMD): the CPU backend's 64-bit Arm variants
// (listed in table.cpp). Two matmul variants share the 2-bit layout and differ
// in their inner tiles:
//   t2i8_matmul_r8c16__neon     Armv8-A baseline: widening multiply-accumulate (SMLAL);
//   t2i8_matmul_r8c16__neondot  Armv8.2-A dot product (SDOT), usable only where
//                               the CPU's hwcaps report it (HWCAP_ASIMDDP).
// Two more share the 1.6-bit (base-3) layout the same way, never a default:
//   t1p6i8_matmul_r4c80__neon, t1p6i8_matmul_r4c80__neondot.
// Only matmul_dotprod.cpp and matmul_b3_dotprod.cpp are compiled with +dotprod;
// every other file here is baseline Armv8-A and safe on any AArch64 CPU.
#pragma once
#include "kernels/cpu/cpu_kernels.h"

namespace bitlab::cpu {

// The default table with the baseline matmul pinned ("neon").
const CpuKernels& neon_kernels();
// With the SDOT matmul pinned ("neon-dotprod"): DeviceError where the CPU
// lacks the dot-product extension (HWCAP_ASIMDDP).
const CpuKernels& neon_dotprod_kernels();

}  // namespace bitlab::cpu

namespace bitlab::cpu::neon {

// --- ternary matmul, layout "r8c16 row planes" (see matmul_w2a8.cpp) -------------
inline constexpr int64_t kRowTile = 8;    // output rows per tile (two groups of 4)
inline constexpr int64_t kGroupRows = 4;  // rows sharing one byte, 2 bits each
inline constexpr int64_t kColBlock = 16;  // columns per 16-byte group block
size_t packed_bytes(int64_t n, int64_t k);
void repack(const CanonicalTernary& w, uint8_t* out);
// The code (T + 1) stored for row r, column i; r and i may run into the padding
// (r < 8 * ceil(n/8), i < 16 * ceil(k/16)), which holds 1 (a zero weight).
int code_at(const uint8_t* packed, int64_t n, int64_t k, int64_t r, int64_t i);
void matmul_baseline(const MatmulArgs& a, int64_t n0, int64_t n1);
void matmul_dotprod(const MatmulArgs& a, int64_t n0, int64_t n1);

// --- ternary matmul on 1.6-bit weights, layout "r4c80" (see matmul_w1p6a8.cpp) -----
inline constexpr int64_t kB3RowTile = 4;    // rows per tile, one 16-byte register each
inline constexpr int64_t kB3ColBlock = 80;  // columns per block: 16 bytes x 5 base-3 digits
size_t b3_packed_bytes(int64_t n, int64_t k);
void b3_repack(const CanonicalTernary& w, uint8_t* out);
// The code (T + 1) stored for row r, column i; r and i may run into the padding
// (r < 4 * ceil(n/4), i < 80 * ceil(k/80)), which holds 1 (a zero weight).
int b3_code_at(const uint8_t* packed, int64_t n, int64_t k, int64_t r, int64_t i);
void matmul_b3_baseline(const MatmulArgs& a, int64_t n0, int64_t n1);
void matmul_b3_dotprod(const MatmulArgs& a, int64_t n0, int64_t n1);

// --- row-wise and elementwise float ops (baseline Armv8-A) -------------------------
void quantize_row(const float* x, int64_t k, int8_t* q, float* s);
void rmsnorm_row(const float* x, const float* w, int64_t d, float eps, float* y);
void rmsnorm_quant_row(const float* x, const float* w, int64_t d, float eps, int8_t* q, float* s);
void relu2_mul(const float* g, const float* u, int64_t n, float* y);
void add(const float* a, const float* b, int64_t n, float* y);
void embed_row(const uint16_t* table_row, int64_t d, float* out);
void lm_head(const float* x, int64_t t, int64_t d, const uint16_t* table, int64_t v0, int64_t v1, float* logits,
             int64_t ld_logits);

}  // namespace bitlab::cpu::neon

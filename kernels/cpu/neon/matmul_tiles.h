// The inner tiles of the NEON ternary matmul, one set per instruction path. The
// driver in matmul_w2a8.cpp (padding, activation sums, epilogue, threading
// ranges) is shared; only these differ between the baseline and dot-product
// paths. This header includes nothing but <cstdint> so that the +dotprod
// translation unit instantiates no library code another file could share.
//
// Both compute exact int32 code sums S[r] = Σ_i c[r, i] * x[i], with codes
// c = T + 1 in {0, 1, 2} read from the r8c16 layout; the driver subtracts Σ x.
#pragma once
#include <cstdint>

namespace bitlab::cpu::neon {

// One row tile (8 rows) against one activation row, zero-padded to 16 * nkb:
// sums[r] for r = 0..7.
using GemvTileFn = void (*)(const uint8_t* tile, int64_t nkb, const int8_t* x, int32_t* sums);
// One row group (4 rows: group = tile + 16 * g, blocks 32 bytes apart) against
// tb = 1..4 activation rows ldx bytes apart: sums[4 * t + r].
using GemmGroupFn = void (*)(const uint8_t* group, int64_t nkb, const int8_t* x, int64_t ldx, int tb,
                             int32_t* sums);

void gemv_tile_baseline(const uint8_t* tile, int64_t nkb, const int8_t* x, int32_t* sums);
void gemm_group_baseline(const uint8_t* group, int64_t nkb, const int8_t* x, int64_t ldx, int tb, int32_t* sums);
// Dot-product path: compiled with +dotprod; call only when the CPU has SDOT.
void gemv_tile_dotprod(const uint8_t* tile, int64_t nkb, const int8_t* x, int32_t* sums);
void gemm_group_dotprod(const uint8_t* group, int64_t nkb, const int8_t* x, int64_t ldx, int tb, int32_t* sums);

}  // namespace bitlab::cpu::neon

// The inner tiles of the NEON 1.6-bit ternary matmul (layout "r4c80",
// matmul_w1p6a8.cpp), one per instruction path; the driver there is shared.
// This header includes nothing but <cstdint> so that the +dotprod translation
// unit instantiates no library code another file could share. The two paths
// decode differently (compares vs the linear identity of base3.h).
#pragma once
#include <cstdint>

namespace bitlab::cpu::neon {

// One row tile (4 rows, nkb consecutive 64-byte blocks of 80 columns) against
// tb = 1..4 activation rows ldx bytes apart, each zero-padded to 80 * nkb
// columns: sums[4 * t + r], exact int32 sums for row r and token t.
using B3TileFn = void (*)(const uint8_t* tile, int64_t nkb, const int8_t* x, int64_t ldx, int tb, int32_t* sums);

// Code sums Σ_i c[r, i] * x[t, i] with c = T + 1 in {0, 1, 2}; the driver
// subtracts Σ x.
void b3_tile_baseline(const uint8_t* tile, int64_t nkb, const int8_t* x, int64_t ldx, int tb, int32_t* sums);
// The dot products Σ_i T[r, i] * x[t, i] themselves (the linear identity needs
// no Σ x). Compiled with +dotprod; call only when the CPU has SDOT.
void b3_tile_dotprod(const uint8_t* tile, int64_t nkb, const int8_t* x, int64_t ldx, int tb, int32_t* sums);

}  // namespace bitlab::cpu::neon

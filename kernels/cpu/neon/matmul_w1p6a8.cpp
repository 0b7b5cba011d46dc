// Ternary x int8 matmul on 1.6-bit weights, NEON variants
// (t1p6i8_matmul_r4c80__neon, t1p6i8_matmul_r4c80__neondot): the layout, the
// repack and the driver both instruction paths share; their inner tiles are
// matmul_b3_baseline.cpp (Armv8-A, SMLAL) and matmul_b3_dotprod.cpp (SDOT).
//
// Layout "r4c80" (what repack writes for one part of [n, k]): rows in tiles of
// 4 (tile g = rows 4g..4g+3), columns in blocks of 80. Tile g is ceil(k/80)
// consecutive 64-byte blocks, tiles follow each other. In block (g, kb), byte
// 16r + i (r = 0..3, i = 0..15) is the base-3 byte (kernels/cpu/base3.h) of row
// 4g + r whose digit j (j = 0..4, digit 0 the most significant) is the code
// c = T + 1 of column 80kb + 16j + i. Rows past n and columns past k hold
// code 1 (a zero weight). Size: ceil(n/4) * ceil(k/80) * 64 bytes, 1.6 bits
// per weight (k = 2560 is 32 whole blocks; k = 6912 pads to 6960, 0.7%).
//
// Why this layout: one 128-bit load holds 16 bytes of one row, and digit j of
// all 16 bytes is the 16 consecutive columns 16j..16j+15 of the block, so the
// matching activations are one plain 16-byte load, shared by the four rows of
// the tile (and every digit plane lines up with a register without shuffles).
// Each row's digit planes come out of the register with five independent byte
// multiplies (by 3^j): the baseline path turns each into codes with two
// compares (matmul_b3_baseline.cpp), the SDOT path feeds the planes to SDOT
// directly through the linear identity of base3.h (matmul_b3_dotprod.cpp).
//
// Instructions in the t = 1 inner loop (GCC 12 -O3, counted from the objdump
// of the compiled loop; one pass = 4 rows x 80 columns = 320 weights):
//   dotprod    84 per pass, 269 per 1024 weights: 40 SDOT, 30 MUL/SHL/ADD
//              (the multiplies by 3^j), 4 EOR, 7 loads, 1 store, 2 loop;
//   baseline  134 per pass, 429 per 1024 weights: 40 SMLAL/SMLAL2, 40 CMHI,
//              20 ADD of compare masks, 26 MUL/SHL/ADD, 6 loads, 2 loop;
// against 142 and 238 per 1024 weights in the 2-bit r8c16 loops, which read
// 25% more weight bytes: this layout trades decode work for memory traffic.
//
// Driver: rows in blocks of 64, within a block tiles of up to 4 tokens, each
// decoded weight register used by every token of the tile; t = 1 is the same
// loop with one token. The baseline tile gives code sums S = Σ c * x (codes
// are T + 1), so the dot product is S - Σx, Σx computed once per token per
// call; the SDOT tile gives the dot product itself. Activations past k
// are read from a zero-padded copy, so nothing past the end of xq is read.
//
// Epilogue: y = float(T·x) / s[t] * w_scale, a division then a multiply
// (no FMA, no reciprocal), so y is bit-identical to ref::matmul_w2a8.
#include <algorithm>
#include <cstring>
#include <vector>

#include <arm_neon.h>

#include "kernels/cpu/base3.h"
#include "kernels/cpu/neon/matmul_b3_tiles.h"
#include "kernels/cpu/neon/neon_kernels.h"

namespace bitlab::cpu::neon {
namespace {

constexpr int64_t kBlockBytes = kB3RowTile * 16;  // one 80-column block of a 4-row tile
constexpr int64_t kTokens = 4;                    // tokens per tile call
constexpr int64_t kRowBlock = 64;                 // rows whose weights stay in L2 across token tiles

int64_t col_blocks(int64_t k) { return (k + kB3ColBlock - 1) / kB3ColBlock; }
int64_t row_tiles(int64_t n) { return (n + kB3RowTile - 1) / kB3RowTile; }

// Σ x over k int8 values, exact in int32.
int32_t row_sum(const int8_t* x, int64_t k) {
  int32x4_t acc = vdupq_n_s32(0);
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) acc = vpadalq_s16(acc, vpaddlq_s8(vld1q_s8(x + i)));
  int32_t sum = vaddvq_s32(acc);
  for (; i < k; ++i) sum += x[i];
  return sum;
}

// y[r] = float(sums[r] - xsum) / s * w_scale for the first `rows` (<= 4) rows.
void store_rows(const int32_t* sums, int64_t rows, int32_t xsum, float s, float w_scale, float* y) {
  const int32x4_t acc = vsubq_s32(vld1q_s32(sums), vdupq_n_s32(xsum));
  const float32x4_t out = vmulq_f32(vdivq_f32(vcvtq_f32_s32(acc), vdupq_n_f32(s)), vdupq_n_f32(w_scale));
  if (rows == 4) {
    vst1q_f32(y, out);
  } else {
    float tmp[4];
    vst1q_f32(tmp, out);
    std::memcpy(y, tmp, size_t(rows) * sizeof(float));
  }
}

// The tile of one instruction path, and whether it gives code sums S (the
// driver subtracts Σx) or the dot products themselves.
struct Path {
  B3TileFn tile;
  bool code_sums;
};

void matmul_with(const Path& path, const MatmulArgs& a, int64_t n0, int64_t n1) {
  const int64_t nkb = col_blocks(a.k), kp = nkb * kB3ColBlock, tile_bytes = nkb * kBlockBytes;
  thread_local std::vector<int32_t> xsum;
  xsum.assign(size_t(a.t), 0);
  if (path.code_sums)
    for (int64_t t = 0; t < a.t; ++t) xsum[size_t(t)] = row_sum(a.xq + t * a.k, a.k);

  // Activations in place when k is a multiple of 80, else a zero-padded copy.
  const int8_t* x = a.xq;
  int64_t ldx = a.k;
  thread_local std::vector<int8_t> xpad;
  if (kp != a.k) {
    xpad.assign(size_t(a.t * kp), 0);
    for (int64_t t = 0; t < a.t; ++t) std::memcpy(xpad.data() + t * kp, a.xq + t * a.k, size_t(a.k));
    x = xpad.data();
    ldx = kp;
  }

  int32_t sums[kB3RowTile * kTokens];
  for (int64_t b0 = n0; b0 < n1; b0 += kRowBlock) {
    const int64_t b1 = std::min(n1, b0 + kRowBlock);
    for (int64_t t0 = 0; t0 < a.t; t0 += kTokens) {
      const int64_t tb = std::min(kTokens, a.t - t0);
      for (int64_t r0 = b0; r0 < b1; r0 += kB3RowTile) {
        path.tile(a.packed + (r0 / kB3RowTile) * tile_bytes, nkb, x + t0 * ldx, ldx, int(tb), sums);
        for (int64_t t = 0; t < tb; ++t)
          store_rows(sums + kB3RowTile * t, std::min(kB3RowTile, b1 - r0), xsum[size_t(t0 + t)], a.s[t0 + t],
                     a.w_scale, a.y + (t0 + t) * a.ldy + r0);
      }
    }
  }
}

}  // namespace

size_t b3_packed_bytes(int64_t n, int64_t k) { return size_t(row_tiles(n) * col_blocks(k) * kBlockBytes); }

void b3_repack(const CanonicalTernary& w, uint8_t* out) {
  const int64_t nkb = col_blocks(w.k);
  for (int64_t row = 0; row < row_tiles(w.n) * kB3RowTile; ++row) {
    const int64_t g = row / kB3RowTile, r = row % kB3RowTile;
    for (int64_t kb = 0; kb < nkb; ++kb)
      for (int64_t i = 0; i < 16; ++i) {
        uint8_t c[base3::kDigits];
        for (int64_t j = 0; j < base3::kDigits; ++j) {
          const int64_t col = kb * kB3ColBlock + 16 * j + i;
          c[j] = uint8_t(row < w.n && col < w.k ? w.at(row, col) + 1 : 1);
        }
        out[(g * nkb + kb) * kBlockBytes + 16 * r + i] = base3::encode(c);
      }
  }
}

int b3_code_at(const uint8_t* packed, int64_t /*n*/, int64_t k, int64_t r, int64_t i) {
  const int64_t g = r / kB3RowTile, kb = i / kB3ColBlock, j = (i % kB3ColBlock) / 16;
  const uint8_t q = packed[(g * col_blocks(k) + kb) * kBlockBytes + 16 * (r % kB3RowTile) + i % 16];
  return base3::digit(q, int(j));
}

void matmul_b3_baseline(const MatmulArgs& a, int64_t n0, int64_t n1) {
  matmul_with({b3_tile_baseline, true}, a, n0, n1);
}

void matmul_b3_dotprod(const MatmulArgs& a, int64_t n0, int64_t n1) {
  matmul_with({b3_tile_dotprod, false}, a, n0, n1);
}

}  // namespace bitlab::cpu::neon

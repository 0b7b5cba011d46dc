// Ternary x int8 matmul, NEON variants (t2i8_matmul_r8c16__neon,
// t2i8_matmul_r8c16__neondot): the layout, the repack, and the driver both
// instruction paths share; their inner tiles are matmul_baseline.cpp (Armv8-A,
// SMLAL) and matmul_dotprod.cpp (Armv8.2-A, SDOT).
//
// Variants (one driver, picked by the token count t):
//   t = 1   GEMV: one 8-row tile at a time over all of k, one accumulator per
//           row, the activation vector loaded once per 16 columns for 8 rows;
//           tuned for the 2B4T decode shapes (N x K = 3840x2560, 2560x2560,
//           13824x2560, 2560x6912), where the weight stream is the whole cost.
//   t > 1   GEMM: 4-row groups x tiles of up to 4 tokens, each decoded weight
//           register reused by every token of the tile; rows in blocks of 64
//           (<= 110 KB of weights for k = 6912) so a block stays in L2 while all
//           token tiles pass over it, and a token tile (4 x k bytes) stays in L1.
//
// Layout "r8c16 row planes" (what repack writes for one part of [n, k]):
//   rows are taken in tiles of 8 (tile g = rows 8g..8g+7), each tile in two
//   groups of 4 (q = 0, 1); columns in blocks of 16. Tile g is ceil(k/16)
//   consecutive 32-byte blocks, tiles follow each other. In block (g, kb), byte
//   16q + i (i = 0..15) holds in bits 2j..2j+1 (j = 0..3) the code c = T + 1 of
//   row 8g + 4q + j, column 16kb + i. Rows past n and columns past k hold code 1
//   (a zero weight). Size: ceil(n/8) * ceil(k/16) * 32 bytes.
//
// Why this layout: one 128-bit load holds 4 rows x 16 columns, one row per bit
// plane, columns in their natural order, so the matching activations are one
// plain 16-byte load shared by the four rows (by all eight of a tile), and no
// lane shuffles are needed. A row's codes come out of the register as
//   baseline:  (v >> 2j) & 3                  six instructions for four rows;
//   dotprod:   v & (3 << 2j) = 4^j * c (j < 3), v >> 6 (j = 3)
//              one instruction per row: row j's SDOT accumulator holds 4^j
//              times its sum (|4^j c| <= 32 fits int8) and is shifted right by
//              2j once at the end, which is exact.
// Since codes are T + 1, the dot product is S - Σx with S = Σ c * x, and Σx is
// computed once per token per call. Activations past k are read from a
// zero-padded copy, so nothing past the end of xq is read.
//
// Instructions per 1024 weights in the GEMV inner loop, four 16-column blocks
// of an 8-row tile per pass (GCC 12 -O3, counted by scripts/neon-gemv-insns
// from the objdump of the compiled loop):
//   dotprod   142 = 64 SDOT + 64 AND/USHR + 6 LD1 (4 registers each) + 8 loop
//   baseline  238 = 128 SMLAL/SMLAL2 + 96 AND/USHR + 6 LD1 + 8 loop
// Either way one 1024-weight pass reads 256 weight bytes and 128 activation bytes.
//
// Epilogue: y = float(S - Σx) / s[t] * w_scale, a division then a multiply
// (no FMA, no reciprocal), so y is bit-identical to ref::matmul_w2a8.
#include <algorithm>
#include <array>
#include <cstring>
#include <vector>

#include <arm_neon.h>

#include "kernels/cpu/neon/matmul_tiles.h"
#include "kernels/cpu/neon/neon_kernels.h"

namespace bitlab::cpu::neon {
namespace {

constexpr int64_t kTileBlockBytes = 32;  // one 16-column block of an 8-row tile
constexpr int64_t kGemmTokens = 4;       // tokens per GEMM tile
constexpr int64_t kGemmRowBlock = 64;    // rows whose weights stay in L2 across token tiles

int64_t col_blocks(int64_t k) { return (k + kColBlock - 1) / kColBlock; }
int64_t row_tiles(int64_t n) { return (n + kRowTile - 1) / kRowTile; }

// One canonical byte (four 2-bit codes, columns 4m..4m+3) spread to one code
// per byte, in bits 0..1 of bytes 0..3.
constexpr std::array<uint32_t, 256> make_spread() {
  std::array<uint32_t, 256> t{};
  for (uint32_t b = 0; b < 256; ++b)
    for (uint32_t i = 0; i < 4; ++i) t[b] |= ((b >> (2 * i)) & 3u) << (8 * i);
  return t;
}
constexpr std::array<uint32_t, 256> kSpread = make_spread();

// Σ x over k int8 values, exact in int32.
int32_t row_sum(const int8_t* x, int64_t k) {
  int32x4_t acc = vdupq_n_s32(0);
  int64_t i = 0;
  for (; i + 16 <= k; i += 16) acc = vpadalq_s16(acc, vpaddlq_s8(vld1q_s8(x + i)));
  int32_t sum = vaddvq_s32(acc);
  for (; i < k; ++i) sum += x[i];
  return sum;
}

// y[r] = float(sums[r] - xsum) / s * w_scale for the first `rows` rows.
void store_rows(const int32_t* sums, int64_t rows, int32_t xsum, float s, float w_scale, float* y) {
  const int32x4_t xs = vdupq_n_s32(xsum);
  const float32x4_t sv = vdupq_n_f32(s), wv = vdupq_n_f32(w_scale);
  for (int64_t i = 0; i < rows; i += 4) {
    const int32x4_t acc = vsubq_s32(vld1q_s32(sums + i), xs);
    const float32x4_t out = vmulq_f32(vdivq_f32(vcvtq_f32_s32(acc), sv), wv);
    if (rows - i >= 4) {
      vst1q_f32(y + i, out);
    } else {
      float tmp[4];
      vst1q_f32(tmp, out);
      std::memcpy(y + i, tmp, size_t(rows - i) * sizeof(float));
    }
  }
}

struct Tiles {
  GemvTileFn gemv;
  GemmGroupFn gemm;
};

void matmul_with(const Tiles& tiles, const MatmulArgs& a, int64_t n0, int64_t n1) {
  const int64_t nkb = col_blocks(a.k), kp = nkb * kColBlock, tile_bytes = nkb * kTileBlockBytes;
  thread_local std::vector<int32_t> xsum;
  xsum.resize(size_t(a.t));
  for (int64_t t = 0; t < a.t; ++t) xsum[size_t(t)] = row_sum(a.xq + t * a.k, a.k);

  // Activations in place when k is a multiple of 16, else a zero-padded copy.
  const int8_t* x = a.xq;
  int64_t ldx = a.k;
  thread_local std::vector<int8_t> xpad;
  if (kp != a.k) {
    xpad.assign(size_t(a.t * kp), 0);
    for (int64_t t = 0; t < a.t; ++t) std::memcpy(xpad.data() + t * kp, a.xq + t * a.k, size_t(a.k));
    x = xpad.data();
    ldx = kp;
  }

  int32_t sums[kRowTile * kGemmTokens];
  if (a.t == 1) {
    for (int64_t r0 = n0; r0 < n1; r0 += kRowTile) {
      tiles.gemv(a.packed + (r0 / kRowTile) * tile_bytes, nkb, x, sums);
      store_rows(sums, std::min(kRowTile, n1 - r0), xsum[0], a.s[0], a.w_scale, a.y + r0);
    }
    return;
  }
  for (int64_t b0 = n0; b0 < n1; b0 += kGemmRowBlock) {
    const int64_t b1 = std::min(n1, b0 + kGemmRowBlock);
    for (int64_t t0 = 0; t0 < a.t; t0 += kGemmTokens) {
      const int64_t tb = std::min(kGemmTokens, a.t - t0);
      for (int64_t r0 = b0; r0 < b1; r0 += kGroupRows) {
        const uint8_t* group = a.packed + (r0 / kRowTile) * tile_bytes + ((r0 / kGroupRows) % 2) * 16;
        tiles.gemm(group, nkb, x + t0 * ldx, ldx, int(tb), sums);
        for (int64_t t = 0; t < tb; ++t)
          store_rows(sums + kGroupRows * t, std::min(kGroupRows, b1 - r0), xsum[size_t(t0 + t)], a.s[t0 + t],
                     a.w_scale, a.y + (t0 + t) * a.ldy + r0);
      }
    }
  }
}

}  // namespace

size_t packed_bytes(int64_t n, int64_t k) { return size_t(row_tiles(n) * col_blocks(k) * kTileBlockBytes); }

void repack(const CanonicalTernary& w, uint8_t* out) {
  const int64_t nkb = col_blocks(w.k), rb = w.row_bytes();
  std::memset(out, 0, packed_bytes(w.n, w.k));
  for (int64_t row = 0; row < row_tiles(w.n) * kRowTile; ++row) {
    const int64_t g = row / kRowTile, q = (row / kGroupRows) % 2, j = row % kGroupRows;
    const uint8_t* src = row < w.n ? w.row(row) : nullptr;
    for (int64_t kb = 0; kb < nkb; ++kb) {
      uint8_t* dst = out + (g * nkb + kb) * kTileBlockBytes + 16 * q;
      for (int64_t m = 0; m < 4; ++m) {  // canonical byte 4kb + m: columns 16kb + 4m .. +3
        const int64_t b = 4 * kb + m;
        const uint32_t codes = kSpread[(src && b < rb) ? src[b] : kZeroCodeByte] << (2 * j);
        uint32_t v;
        std::memcpy(&v, dst + 4 * m, 4);
        v |= codes;
        std::memcpy(dst + 4 * m, &v, 4);
      }
    }
  }
}

int code_at(const uint8_t* packed, int64_t /*n*/, int64_t k, int64_t r, int64_t i) {
  const int64_t g = r / kRowTile, q = (r / kGroupRows) % 2, j = r % kGroupRows;
  const uint8_t b = packed[(g * col_blocks(k) + i / kColBlock) * kTileBlockBytes + 16 * q + i % kColBlock];
  return (b >> (2 * j)) & 3;
}

void matmul_baseline(const MatmulArgs& a, int64_t n0, int64_t n1) {
  matmul_with({gemv_tile_baseline, gemm_group_baseline}, a, n0, n1);
}

void matmul_dotprod(const MatmulArgs& a, int64_t n0, int64_t n1) {
  matmul_with({gemv_tile_dotprod, gemm_group_dotprod}, a, n0, n1);
}

}  // namespace bitlab::cpu::neon

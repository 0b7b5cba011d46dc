// Tile geometry of the W2A8 GEMM (matmul_w2a8_gemm.cu) and the per-lane
// fragment gathering for mma.sync.m16n8k32.s8, as plain functions of (lane,
// tile) so the tests can run them on the host against an emulated MMA.
//
// One pipeline stage holds, for a k-tile of 128 codes:
//   A: 64 token rows x 128 int8 = 8 chunks of 16 bytes per row;
//   B: 128 weight rows x 8 w2 words (32 bytes) per row.
// Both are XOR-swizzled so that a warp's fragment loads hit 32 distinct banks:
//   A chunk c of row r sits at chunk r*8 + (c ^ 4*(r & 1));
//   B word  w of row n sits at word  n*8 + (w ^ 4*((n >> 2) & 1))
// (16-byte granules move as a whole, so cp.async stays 16-byte aligned).
//
// The MMA's k order is free as long as A and B agree. Lane (g = lane/4,
// t = lane%4) feeds, for k-half kc (64 codes), the codes 64kc + 16t .. +15:
// one 16-byte A chunk per row and one B word per column. Step 0 of the pair of
// k32 MMAs takes bytes 0..7 of those 16 (A regs .x/.y, B codes_x4 j = 0, 1),
// step 1 bytes 8..15 (.z/.w, j = 2, 3) — the PTX fragment layout puts logical
// k = 4t..4t+3 in a0/b0 and k = 16+4t.. in a2/b1, so every physical k meets its
// own weight exactly once.
#pragma once
#include <vector_types.h>

#include <cstdint>

#include "kernels/cuda/w2_layout.h"

namespace bitlab::cuda::gemm {

constexpr int kBM = 64;           // token rows per block
constexpr int kBN = 128;          // weight rows (outputs) per block
constexpr int kBK = int(kKTile);  // codes per k-tile
constexpr int kWarps = 4;         // each warp: all 64 rows x 32 outputs
constexpr int kThreads = 32 * kWarps;
constexpr int kStages = 3;
constexpr int kAChunks = kBM * kBK / 16;  // 16-byte chunks of A per stage
constexpr int kBChunks = kBN * kBK / 64;  // 16-byte chunks of B per stage (4 codes a byte)
constexpr int kMTiles = kBM / 16;         // m16 tiles per warp
constexpr int kNTiles = 32 / 8;           // n8 tiles per warp

BITLAB_HD constexpr int a_chunk_index(int row, int chunk) { return row * 8 + (chunk ^ ((row & 1) << 2)); }
BITLAB_HD constexpr int b_word_index(int row, int word) { return row * 8 + (word ^ (((row >> 2) & 1) << 2)); }
// 16-byte granule h (0, 1) of B row n, in granules.
BITLAB_HD constexpr int b_chunk_index(int row, int h) { return row * 2 + (h ^ ((row >> 2) & 1)); }

// A fragments of one lane for m16 tile at row m_base, k-half kc: regs for step 0
// and step 1 in PTX order (a0: row g, a1: row g+8, a2: row g, a3: row g+8).
struct AFrag {
  uint32_t step[2][4];
};
BITLAB_HD AFrag load_a_frag(const uint4* a_tile, int lane, int m_base, int kc) {
  const int g = lane >> 2, t = lane & 3;
  const uint4 lo = a_tile[a_chunk_index(m_base + g, 4 * kc + t)];
  const uint4 hi = a_tile[a_chunk_index(m_base + g + 8, 4 * kc + t)];
  AFrag f;
  f.step[0][0] = lo.x;
  f.step[0][1] = hi.x;
  f.step[0][2] = lo.y;
  f.step[0][3] = hi.y;
  f.step[1][0] = lo.z;
  f.step[1][1] = hi.z;
  f.step[1][2] = lo.w;
  f.step[1][3] = hi.w;
  return f;
}

// B fragments of one lane for the n8 tile at weight row n_base, k-half kc:
// regs b0, b1 for step 0 and step 1, codes 0..2 per byte.
struct BFrag {
  uint32_t step[2][2];
};
BITLAB_HD BFrag load_b_frag(const uint32_t* b_tile, int lane, int n_base, int kc) {
  const int g = lane >> 2, t = lane & 3;
  const uint32_t word = b_tile[b_word_index(n_base + g, 4 * kc + t)];
  BFrag f;
  f.step[0][0] = codes_x4(word, 0);
  f.step[0][1] = codes_x4(word, 1);
  f.step[1][0] = codes_x4(word, 2);
  f.step[1][1] = codes_x4(word, 3);
  return f;
}

// Where accumulator register i (0..3) of a lane lands in the m16 x n8 tile.
BITLAB_HD constexpr int c_row(int lane, int i) { return (lane >> 2) + 8 * (i >> 1); }
BITLAB_HD constexpr int c_col(int lane, int i) { return 2 * (lane & 3) + (i & 1); }

}  // namespace bitlab::cuda::gemm

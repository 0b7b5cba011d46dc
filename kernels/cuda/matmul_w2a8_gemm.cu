// W2A8 GEMM (prefill, many tokens) on int8 tensor cores: mma.sync m16n8k32
// s8 x s8 -> s32 (IMMA). The 2-bit weights travel to shared memory packed
// (4 KB per 128 outputs x 128 codes) and are decoded there, per fragment, with
// one shift + AND per four codes; there is no float path.
//
//   w2a8_gemm_64x128x128__mma_s8   block tile 64 tokens x 128 outputs, k-tile
//                                  128 codes, 4 warps of 64 x 32, 3-stage
//                                  cp.async pipeline (36 KB shared), fragment
//                                  geometry and swizzles in gemm_tile.h
//   act_prep_rows                  Σx per token (the code offset: Σ T·x =
//                                  Σ (T+1)·x − Σ x) and, where x is not 16-byte
//                                  aligned with k a multiple of 128, a padded copy
// Tuned for the 2B4T prefill shapes: tokens 128 .. 512, outputs 2560 .. 13824,
// k 2560 / 6912 (multiples of 128: no copy). Per warp and k-half: 8 LDS.128 of
// activations, 4 LDS.32 of packed weights, 32 MMAs.
#include "kernels/cuda/device_common.cuh"
#include "kernels/cuda/gemm_tile.h"

namespace bitlab::cuda {
namespace {

using namespace gemm;

constexpr int kStageChunks = kAChunks + kBChunks;  // 512 + 256 uint4 = 12 KB

__global__ void __launch_bounds__(256) act_prep_rows(ActPrepArgs a) {
  enter_kernel();
  __shared__ int32_t scratch[32];
  const int64_t r = blockIdx.x;
  const int8_t* x = a.x + r * a.k;
  int32_t sum = 0;
  for (int64_t i = threadIdx.x; i < a.k; i += blockDim.x) sum += x[i];
  if (a.xpad)
    for (int64_t i = threadIdx.x; i < a.kpad; i += blockDim.x) a.xpad[r * a.kpad + i] = i < a.k ? x[i] : int8_t(0);
  sum = block_reduce(sum, scratch, SumOp{});
  if (threadIdx.x == 0) a.rowsum[r] = sum;
}

// Issues the cp.async copies of k-tile kt into one stage.
__device__ __forceinline__ void load_stage(uint4* stage, const MatmulArgs& a, int64_t m0, int64_t n0, int64_t kt) {
  uint4* a_tile = stage;
  uint4* b_tile = stage + kAChunks;
#pragma unroll
  for (int i = 0; i < kAChunks / kThreads; ++i) {
    const int q = threadIdx.x + kThreads * i;
    const int row = q >> 3, chunk = q & 7;
    const bool valid = m0 + row < a.t;
    const int8_t* src = valid ? a.x + (m0 + row) * a.ldx + kt * kBK + chunk * 16 : a.x;
    cp_async16(a_tile + a_chunk_index(row, chunk), src, valid);
  }
#pragma unroll
  for (int i = 0; i < kBChunks / kThreads; ++i) {
    const int q = threadIdx.x + kThreads * i;
    const int row = q >> 1, half = q & 1;
    const bool valid = n0 + row < a.row_end;
    const uint32_t* src = valid ? a.w + (n0 + row) * a.row_words + kt * (kBK / 16) + half * 4 : a.w;
    cp_async16(b_tile + b_chunk_index(row, half), src, valid);
  }
}

__global__ void __launch_bounds__(kThreads) w2a8_gemm_64x128x128__mma_s8(MatmulArgs a) {
  enter_kernel();
  __shared__ uint4 smem[kStages * kStageChunks];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t n0 = a.row_begin + int64_t(blockIdx.x) * kBN;
  const int64_t m0 = int64_t(blockIdx.y) * kBM;
  const int64_t k_tiles = a.row_words / (kBK / 16);

  int32_t acc[kMTiles][kNTiles][4] = {};

#pragma unroll
  for (int s = 0; s < kStages - 1; ++s) {
    if (s < k_tiles) load_stage(smem + s * kStageChunks, a, m0, n0, s);
    cp_async_commit();
  }
  for (int64_t kt = 0; kt < k_tiles; ++kt) {
    cp_async_wait<kStages - 2>();
    __syncthreads();  // tile kt is visible to all; everyone is done with tile kt - 1
    const int64_t next = kt + kStages - 1;
    if (next < k_tiles) load_stage(smem + (next % kStages) * kStageChunks, a, m0, n0, next);
    cp_async_commit();

    const uint4* a_tile = smem + (kt % kStages) * kStageChunks;
    const uint32_t* b_tile = reinterpret_cast<const uint32_t*>(a_tile + kAChunks);
#pragma unroll
    for (int kc = 0; kc < 2; ++kc) {
      BFrag b[kNTiles];
#pragma unroll
      for (int nj = 0; nj < kNTiles; ++nj) b[nj] = load_b_frag(b_tile, lane, 32 * warp + 8 * nj, kc);
#pragma unroll
      for (int mi = 0; mi < kMTiles; ++mi) {
        const AFrag af = load_a_frag(a_tile, lane, 16 * mi, kc);
#pragma unroll
        for (int nj = 0; nj < kNTiles; ++nj)
#pragma unroll
          for (int step = 0; step < 2; ++step) mma_s8_16832(acc[mi][nj], af.step[step], b[nj].step[step]);
      }
    }
  }
  cp_async_wait<0>();

  // Epilogue: subtract Σx, scale per token and per part, store.
#pragma unroll
  for (int mi = 0; mi < kMTiles; ++mi)
#pragma unroll
    for (int nj = 0; nj < kNTiles; ++nj)
#pragma unroll
      for (int i = 0; i < 4; ++i) {
        const int64_t m = m0 + 16 * mi + c_row(lane, i);
        const int64_t n = n0 + 32 * warp + 8 * nj + c_col(lane, i);
        if (m >= a.t || n >= a.row_end) continue;
        for (int p = 0; p < a.nparts; ++p) {
          const MatmulPart& part = a.parts[p];
          if (n >= part.row0 && n < part.row0 + part.rows) {
            part.y[m * part.rows + (n - part.row0)] = bitlinear_out(acc[mi][nj][i] - a.rowsum[m], a.s[m], part.scale);
            break;
          }
        }
      }
}

}  // namespace

void launch_act_prep(const ActPrepArgs& a, const LaunchTarget& to) {
  if (a.t == 0) return;
  launch_kernel(to, "act_prep_rows", act_prep_rows, unsigned(a.t), 256, 0, a);
}

void launch_gemm(const MatmulArgs& a, const LaunchTarget& to) {
  const int64_t rows = a.row_end - a.row_begin;
  if (rows <= 0 || a.t == 0) return;
  const dim3 grid(blocks_for(rows, kBN), blocks_for(a.t, kBM));
  launch_kernel(to, "w2a8_gemm_64x128x128__mma_s8", w2a8_gemm_64x128x128__mma_s8, grid, kThreads, 0, a);
}

}  // namespace bitlab::cuda

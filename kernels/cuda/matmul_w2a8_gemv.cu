// W2A8 GEMV (decode, one token): y_p = (Σ_k T·xq) / s * scale_p over the rows
// of a fused weight (QKV, gate/up: each part its own scale and output).
//
//   w2a8_gemv_r2_u4__dp4a   256 threads = 8 warps, 2 weight rows per warp;
//                           each lane streams 16-byte chunks (64 codes) of both
//                           rows, up to 4 chunks a row in flight (kUnroll), and
//                           decodes them with one shift + AND per 4 codes into
//                           dp4a operands (w2_layout.h).
// Tuned for the 2B4T shapes: k = 2560 (40 chunks a row) and 6912 (108), rows
// 2560 .. 13824. All of a warp's weight loads are issued before the block
// stages the activations in shared memory, so the DRAM latency overlaps that
// work, and before the wait for the kernel in front (programmatic launch,
// device_common.cuh), so on sm_90 they overlap its tail too; weights are read
// with the streaming (evict-first) hint, read once per step. The activation
// vector x (int8, any alignment) is staged once per block, zero-padded to the
// k-tile, with Σx for the code offset.
#include "kernels/cuda/device_common.cuh"
#include "kernels/cuda/w2_layout.h"

namespace bitlab::cuda {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;
constexpr int kRowsPerWarp = 2;
constexpr int kUnroll = 4;  // chunks per lane and row loaded up front: k <= 32 * 4 * 64 = 8192 in one go

__device__ __forceinline__ int32_t chunk_dot(uint4 w, const uint4* x, int32_t acc) {
  const uint4 x0 = x[0], x1 = x[1], x2 = x[2], x3 = x[3];
  acc = word_dot(w.x, x0.x, x0.y, x0.z, x0.w, acc);
  acc = word_dot(w.y, x1.x, x1.y, x1.z, x1.w, acc);
  acc = word_dot(w.z, x2.x, x2.y, x2.z, x2.w, acc);
  acc = word_dot(w.w, x3.x, x3.y, x3.z, x3.w, acc);
  return acc;
}

__global__ void __launch_bounds__(kThreads) w2a8_gemv_r2_u4__dp4a(MatmulArgs a) {
  allow_dependents();  // the weight loads below go ahead of the wait (device_common.cuh)
  extern __shared__ uint4 x_s[];  // padded_k(k) bytes of activations
  __shared__ int32_t sum_scratch[32];
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  const int64_t chunks = a.row_words / 4;  // 16-byte chunks per weight row
  const int64_t row0 = a.row_begin + (int64_t(blockIdx.x) * kWarps + warp) * kRowsPerWarp;
  const uint4* w4 = reinterpret_cast<const uint4*>(a.w);

  // 1. This warp's weights, all in flight at once.
  uint4 w[kRowsPerWarp][kUnroll];
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r)
#pragma unroll
    for (int u = 0; u < kUnroll; ++u) {
      const int64_t c = lane + 32 * u;
      w[r][u] = (row0 + r < a.row_end && c < chunks) ? __ldcs(w4 + (row0 + r) * chunks + c) : make_uint4(0, 0, 0, 0);
    }

  // Everything above read only weights; x and the outputs belong to the kernels around this one.
  wait_for_producers();

  // 2. Activations -> shared memory (zeros past k), and Σx.
  const int64_t words = chunks * 16;  // int8x4 words of padded x
  uint32_t* xw = reinterpret_cast<uint32_t*>(x_s);
  const bool aligned = (reinterpret_cast<uintptr_t>(a.x) & 3) == 0;
  int32_t sum_x = 0;
  for (int64_t i = threadIdx.x; i < words; i += kThreads) {
    uint32_t v = 0;
    if (aligned && 4 * i + 3 < a.k) {
      v = reinterpret_cast<const uint32_t*>(a.x)[i];
    } else {
      for (int b = 0; b < 4; ++b)
        if (4 * i + b < a.k) v |= uint32_t(uint8_t(a.x[4 * i + b])) << (8 * b);
    }
    xw[i] = v;
    sum_x = dot4_s8(v, 0x01010101u, sum_x);
  }
  sum_x = block_reduce(sum_x, sum_scratch, SumOp{});  // ends with __syncthreads: x_s is complete

  // 3. Dot products: Σ code·x over this lane's chunks, then the warp.
  int32_t acc[kRowsPerWarp] = {};
#pragma unroll
  for (int u = 0; u < kUnroll; ++u) {
    const int64_t c = lane + 32 * u;
    if (c < chunks)
#pragma unroll
      for (int r = 0; r < kRowsPerWarp; ++r) acc[r] = chunk_dot(w[r][u], x_s + 4 * c, acc[r]);
  }
  for (int64_t c = lane + 32 * kUnroll; c < chunks; c += 32)  // k > 8192 only
#pragma unroll
    for (int r = 0; r < kRowsPerWarp; ++r)
      if (row0 + r < a.row_end) acc[r] = chunk_dot(__ldcs(w4 + (row0 + r) * chunks + c), x_s + 4 * c, acc[r]);

        // 4. Epilogue: the part this row belongs to gives the scale and the output.
#pragma unroll
  for (int r = 0; r < kRowsPerWarp; ++r) {
    const int32_t dot = warp_reduce(acc[r], SumOp{});
    const int64_t row = row0 + r;
    if (lane != 0 || row >= a.row_end) continue;
    for (int p = 0; p < a.nparts; ++p) {
      const MatmulPart& part = a.parts[p];
      if (row >= part.row0 && row < part.row0 + part.rows) {
        part.y[row - part.row0] = bitlinear_out(dot - sum_x, a.s[0], part.scale);
        break;
      }
    }
  }
}

}  // namespace

void init_gemv_kernels(size_t bytes) {
  // The opt-in covers static and dynamic shared memory together.
  cudaFuncAttributes attr{};
  check(cudaFuncGetAttributes(&attr, w2a8_gemv_r2_u4__dp4a), "reading w2a8_gemv_r2_u4__dp4a's attributes");
  const int dynamic = int(bytes - attr.sharedSizeBytes);
  check(cudaFuncSetAttribute(w2a8_gemv_r2_u4__dp4a, cudaFuncAttributeMaxDynamicSharedMemorySize, dynamic),
        "raising w2a8_gemv_r2_u4__dp4a's shared memory limit");
}

void launch_gemv(const MatmulArgs& a, const LaunchTarget& to) {
  const int64_t rows = a.row_end - a.row_begin;
  if (rows <= 0) return;
  const unsigned blocks = blocks_for(rows, kWarps * kRowsPerWarp);
  const size_t smem = size_t(a.row_words) * 4;  // padded k bytes
  launch_kernel(to, "w2a8_gemv_r2_u4__dp4a", w2a8_gemv_r2_u4__dp4a, blocks, kThreads, smem, a);
}

}  // namespace bitlab::cuda

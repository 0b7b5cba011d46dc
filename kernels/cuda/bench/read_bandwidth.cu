// measure_read_gbps: device memory read bandwidth for bitlab_cuda_bench's
// roofline, with streaming (evict-first) loads of a buffer far larger than L2.
// (Timed kernels need no L2 flush: the op cases rotate weight copies past the
// caches, harness/op_cases.)
// Every thread streams 16-byte words (grid-stride, 4 loads in flight) and
// folds them into one word, written only if it matches a value it never has,
// so the compiler must keep the loads.
#include <cuda_runtime.h>

#include <cstdint>

#include "kernels/cuda/bench/read_bandwidth.h"
#include "kernels/cuda/cuda_error.h"

namespace bitlab::cuda {
namespace {

// Streaming (evict-first) loads measure DRAM; L2-allocating ones (.cg) flush it.
template <bool Streaming>
__device__ __forceinline__ uint4 load16(const uint4* p) {
  if constexpr (Streaming)
    return __ldcs(p);
  else
    return __ldcg(p);
}

template <bool Streaming>
__global__ void stream_read(const uint4* p, int64_t n, uint32_t* sink) {
  uint32_t acc = 0;
  const int64_t stride = int64_t(gridDim.x) * blockDim.x;
  int64_t i = int64_t(blockIdx.x) * blockDim.x + threadIdx.x;
  for (; i + 3 * stride < n; i += 4 * stride) {
    const uint4 a = load16<Streaming>(p + i), b = load16<Streaming>(p + i + stride),
                c = load16<Streaming>(p + i + 2 * stride), d = load16<Streaming>(p + i + 3 * stride);
    acc ^= a.x ^ a.y ^ a.z ^ a.w ^ b.x ^ b.y ^ b.z ^ b.w ^ c.x ^ c.y ^ c.z ^ c.w ^ d.x ^ d.y ^ d.z ^ d.w;
  }
  for (; i < n; i += stride) {
    const uint4 a = load16<Streaming>(p + i);
    acc ^= a.x ^ a.y ^ a.z ^ a.w;
  }
  if (acc == 0x9e3779b9u) *sink = acc;
}

int sm_count() {
  int sms = 0;
  check(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, 0), "reading the SM count");
  return sms;
}

}  // namespace

double measure_read_gbps(size_t bytes, int repetitions) {
  uint4* buf = nullptr;
  uint32_t* sink = nullptr;
  check(cudaMalloc(reinterpret_cast<void**>(&buf), bytes), "allocating the bandwidth buffer");
  check(cudaMalloc(reinterpret_cast<void**>(&sink), sizeof(uint32_t)), "allocating the bandwidth buffer");
  check(cudaMemset(buf, 1, bytes), "filling the bandwidth buffer");
  const int sms = sm_count();
  cudaEvent_t start, stop;
  cudaEventCreate(&start);
  cudaEventCreate(&stop);
  double best = 0;
  for (int r = 0; r < repetitions; ++r) {
    cudaEventRecord(start);
    stream_read<true><<<unsigned(sms * 8), 512>>>(buf, int64_t(bytes / 16), sink);
    // A launch that failed leaves two events ~0 ms apart: an absurd bandwidth
    // that every roofline fraction would then be divided by.
    check_launch("stream_read");
    cudaEventRecord(stop);
    check(cudaEventSynchronize(stop), "timing the bandwidth probe");
    float ms = 0;
    check(cudaEventElapsedTime(&ms, start, stop), "timing the bandwidth probe");
    const double gbps = double(bytes) / (double(ms) * 1e-3) / 1e9;
    best = gbps > best ? gbps : best;
  }
  cudaEventDestroy(start);
  cudaEventDestroy(stop);
  cudaFree(sink);
  cudaFree(buf);
  return best;
}

}  // namespace bitlab::cuda

#include "harness/bandwidth.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

#include "model/tensor.h"

namespace bitlab {

namespace {
// Sums a slice with wide loads. target_clones builds AVX-512 and AVX2 versions
// picked at load time, so the probe is not held back by baseline SSE2 code
// while the kernels it is compared with use AVX-512 loads. Other architectures
// use their baseline vector unit (NEON is always there on aarch64). The
// software prefetch a few lines ahead is what the weight-streaming kernels do
// too: without it the probe reads slower than the kernels it is the roofline
// of (seen on Zen 4: ~34 GB/s against a bf16 head streaming at 45 GB/s).
#if defined(__x86_64__)
__attribute__((target_clones("avx512f", "avx2", "default")))
#endif
uint64_t sum_slice(const uint64_t* q, size_t n) {
  uint64_t a = 0, b = 0, c = 0, d = 0;
  constexpr size_t kAhead = 128;  // uint64 = 1 KiB
  for (size_t i = 0; i + 32 <= n; i += 32) {
    for (size_t l = 0; l < 32; l += 8) __builtin_prefetch(q + std::min(n - 1, i + kAhead + l));
    for (size_t j = 0; j < 8; ++j) {
      a += q[i + j];
      b += q[i + 8 + j];
      c += q[i + 16 + j];
      d += q[i + 24 + j];
    }
  }
  return a ^ b ^ c ^ d;
}
}  // namespace

BandwidthProbe measure_read_bandwidth(int threads, size_t bytes, int repetitions) {
  const size_t n = bytes / sizeof(uint64_t);
  HostBuffer buf(n * sizeof(uint64_t));
  auto* data = reinterpret_cast<uint64_t*>(buf.data());
  // First touch from the threads that will read, so pages spread like the kernels' weights.
#pragma omp parallel for num_threads(threads) schedule(static)
  for (size_t i = 0; i < n; ++i) data[i] = i;

  BandwidthProbe p;
  p.bytes = n * sizeof(uint64_t);
  p.threads = threads;
  volatile uint64_t sink = 0;
  for (int r = 0; r < repetitions; ++r) {
    const auto t0 = std::chrono::steady_clock::now();
    uint64_t total = 0;
    // One contiguous slice per thread, as the kernels split weight rows.
#pragma omp parallel num_threads(threads) reduction(+ : total)
    {
      const size_t per = n / size_t(omp_get_num_threads()) / 32 * 32;
      total += sum_slice(data + per * size_t(omp_get_thread_num()), per);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sink = sink + total;
    p.read_gbps = std::max(p.read_gbps, double(p.bytes) / s / 1e9);
  }
  return p;
}


}  // namespace bitlab

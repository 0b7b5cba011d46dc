#include "harness/bandwidth.h"

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <string>

#include "model/tensor.h"

namespace bitlab {

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
    // Eight independent sums per thread keep enough loads in flight to saturate DRAM.
#pragma omp parallel for num_threads(threads) schedule(static) reduction(+ : total)
    for (size_t i = 0; i < n / 8; ++i) {
      const uint64_t* q = data + 8 * i;
      total += (q[0] ^ q[1]) + (q[2] ^ q[3]) + (q[4] ^ q[5]) + (q[6] ^ q[7]);
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    sink = sink + total;
    p.read_gbps = std::max(p.read_gbps, double(p.bytes) / s / 1e9);
  }
  return p;
}

size_t last_level_cache_bytes() {
  size_t best = 0;
  for (int idx = 0; idx < 8; ++idx) {
    std::ifstream in("/sys/devices/system/cpu/cpu0/cache/index" + std::to_string(idx) + "/size");
    std::string s;
    if (!(in >> s) || s.empty()) continue;
    size_t v = std::stoul(s);
    if (s.back() == 'K') v <<= 10;
    if (s.back() == 'M') v <<= 20;
    best = std::max(best, v);
  }
  return best ? best : size_t(32) << 20;
}

}  // namespace bitlab

#include "harness/compute_peak.h"

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>

#if defined(__x86_64__)
#include <immintrin.h>
#elif defined(__aarch64__)
#include <arm_neon.h>
#if defined(__linux__)
#include <asm/hwcap.h>
#include <sys/auxv.h>
#endif
#endif

namespace bitlab {

namespace {

// Each path is one function compiled for its ISA with a target attribute (the
// rest of the binary stays baseline, as the kernels do) and called only where
// the CPU reports the ISA. One call runs `iters` iterations of independent
// accumulator chains: twelve dot-product chains cover a 4-5 cycle latency at
// two issues per cycle (Zen 4, Ice Lake and later), so the loop is bound by
// throughput alone. Each chain starts from its own value and passes through an
// empty asm each step: otherwise the compiler sees twelve identical chains and
// keeps one (GCC 12 did: one vpdpbusd per iteration). The AVX2 chain hides its
// operand instead, so each chain computes its own product rather than sharing
// one; eight chains there, as twelve spill (16 ymm registers). The chains are
// summed into the return value: nothing is dead.
//
// What the loops compile to (objdump -d, GCC 12 -O2): avx512-vnni is twelve
// `vpdpbusd zmmN, zmm0, zmm1` on twelve distinct zmm accumulators, then
// add/cmp/jne: no loads, stores or spills. avx-vnni the same on ymm
// (`{vex} vpdpbusd`). avx2 is, per chain, `vpmaddubsw` + `vpmaddwd` (by ones)
// + `vpaddd`, with register copies and three stack stores GCC adds (off the
// dependency chains). neon-dotprod (aarch64 GCC 12) twelve `sdot vN.4s,
// v0.16b, v1.16b`.
constexpr int64_t kItersPerCall = 4096;
#define BITLAB_EIGHT(X) X(0) X(1) X(2) X(3) X(4) X(5) X(6) X(7)
#define BITLAB_TWELVE(X) BITLAB_EIGHT(X) X(8) X(9) X(10) X(11)

#if defined(__x86_64__)
constexpr double kMacsAvx512Vnni = 12 * 64;  // a zmm vpdpbusd: 16 lanes x 4 byte products
constexpr double kMacsAvxVnni = 12 * 32;     // a ymm vpdpbusd: 8 lanes x 4
constexpr double kMacsAvx2 = 8 * 32;         // vpmaddubsw ymm: 32 byte products (pairs summed by vpmaddwd)

__attribute__((target("avx512f,avx512vnni"))) int64_t run_avx512_vnni(int64_t iters, int seed) {
  __m512i a = _mm512_set1_epi32(seed);
  const __m512i b = _mm512_set1_epi32(seed * 7 + 1);
#define DECL(i) __m512i acc##i = _mm512_set1_epi32(i);
#define STEP(i) acc##i = _mm512_dpbusd_epi32(acc##i, a, b); asm volatile("" : "+v"(acc##i));
#define SUM(i) s = _mm512_add_epi32(s, acc##i);
  BITLAB_TWELVE(DECL)
  for (int64_t n = 0; n < iters; ++n) {
    asm volatile("" : "+v"(a));
    BITLAB_TWELVE(STEP)
  }
  __m512i s = _mm512_setzero_si512();
  BITLAB_TWELVE(SUM)
#undef DECL
#undef STEP
#undef SUM
  int32_t lanes[16];
  _mm512_storeu_si512(lanes, s);
  return lanes[0];  // every lane alike: one consumes all twelve chains
}

__attribute__((target("avx2,avxvnni"))) int64_t run_avx_vnni(int64_t iters, int seed) {
  __m256i a = _mm256_set1_epi32(seed);
  const __m256i b = _mm256_set1_epi32(seed * 7 + 1);
#define DECL(i) __m256i acc##i = _mm256_set1_epi32(i);
#define STEP(i) acc##i = _mm256_dpbusd_avx_epi32(acc##i, a, b); asm volatile("" : "+x"(acc##i));
#define SUM(i) s = _mm256_add_epi32(s, acc##i);
  BITLAB_TWELVE(DECL)
  for (int64_t n = 0; n < iters; ++n) {
    asm volatile("" : "+x"(a));
    BITLAB_TWELVE(STEP)
  }
  __m256i s = _mm256_setzero_si256();
  BITLAB_TWELVE(SUM)
#undef DECL
#undef STEP
#undef SUM
  return _mm_cvtsi128_si32(_mm256_castsi256_si128(s));
}

__attribute__((target("avx2"))) int64_t run_avx2(int64_t iters, int seed) {
  __m256i a = _mm256_set1_epi32(seed);
  const __m256i b = _mm256_set1_epi32(seed * 7 + 1);
  const __m256i ones = _mm256_set1_epi16(1);
#define DECL(i) __m256i acc##i = _mm256_set1_epi32(i);
#define STEP(i)                                                                      \
  asm volatile("" : "+x"(a)); /* a fresh product per chain, not one shared by all */ \
  acc##i = _mm256_add_epi32(acc##i, _mm256_madd_epi16(_mm256_maddubs_epi16(a, b), ones));
#define SUM(i) s = _mm256_add_epi32(s, acc##i);
  BITLAB_EIGHT(DECL)
  for (int64_t n = 0; n < iters; ++n) {
    BITLAB_EIGHT(STEP)
  }
  __m256i s = _mm256_setzero_si256();
  BITLAB_EIGHT(SUM)
#undef DECL
#undef STEP
#undef SUM
  return _mm_cvtsi128_si32(_mm256_castsi256_si128(s));
}
#elif defined(__aarch64__)
constexpr double kMacsNeonDotprod = 12 * 16;  // sdot: 4 lanes x 4 byte products

__attribute__((target("arch=armv8.2-a+dotprod"))) int64_t run_neon_dotprod(int64_t iters, int seed) {
  int8x16_t a = vdupq_n_s8(int8_t(seed));
  const int8x16_t b = vdupq_n_s8(int8_t(seed * 7 + 1));
#define DECL(i) int32x4_t acc##i = vdupq_n_s32(i);
#define STEP(i) acc##i = vdotq_s32(acc##i, a, b); asm volatile("" : "+w"(acc##i));
#define SUM(i) s = vaddq_s32(s, acc##i);
  BITLAB_TWELVE(DECL)
  for (int64_t n = 0; n < iters; ++n) {
    asm volatile("" : "+w"(a));
    BITLAB_TWELVE(STEP)
  }
  int32x4_t s = vdupq_n_s32(0);
  BITLAB_TWELVE(SUM)
#undef DECL
#undef STEP
#undef SUM
  return vgetq_lane_s32(s, 0);
}
#endif

struct Path {
  const char* isa = "";
  int64_t (*run)(int64_t, int) = nullptr;
  double macs_per_iter = 0;
};

#if defined(__x86_64__)
// AVX-VNNI: CPUID leaf 7, subleaf 1, EAX bit 4 (read directly: not every
// compiler's __builtin_cpu_supports knows the name).
bool has_avx_vnni() {
  unsigned a = 0, b = 0, c = 0, d = 0;
  return __get_cpuid_count(7, 1, &a, &b, &c, &d) != 0 && ((a >> 4) & 1u) != 0;
}
#endif

// The widest path the CPU reports, as kernels/cpu picks its tables.
Path pick_path() {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vnni"))
    return {"avx512-vnni", run_avx512_vnni, kMacsAvx512Vnni};
  if (__builtin_cpu_supports("avx2") && has_avx_vnni())
    return {"avx-vnni", run_avx_vnni, kMacsAvxVnni};
  if (__builtin_cpu_supports("avx2")) return {"avx2", run_avx2, kMacsAvx2};
#elif defined(__aarch64__) && defined(__linux__)
  if ((getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0) return {"neon-dotprod", run_neon_dotprod, kMacsNeonDotprod};
#endif
  return {};
}

}  // namespace

std::string int8_peak_isa() { return pick_path().isa; }

ComputePeak measure_int8_peak(int threads, double seconds, int repetitions) {
  using clock = std::chrono::steady_clock;
  ComputePeak p;
  p.threads = std::max(1, threads);
  const Path path = pick_path();
  p.isa = path.isa;
  if (!path.run) return p;
  volatile int64_t sink = 0;
  for (int r = 0; r < repetitions; ++r) {
    const auto t0 = clock::now();
    const auto deadline = t0 + std::chrono::duration<double>(seconds);
    int64_t calls = 0, checksum = 0;
    // Every thread runs calls until the shared deadline; a call is ~10 us, so
    // the last one overruns the deadline by little, and the rate counts the
    // work each thread did over the whole parallel region (join included).
#pragma omp parallel num_threads(p.threads) reduction(+ : calls, checksum)
    {
      const int seed = 3 + omp_get_thread_num();
      do {
        checksum += path.run(kItersPerCall, seed);
        ++calls;
      } while (clock::now() < deadline);
    }
    const double s = std::chrono::duration<double>(clock::now() - t0).count();
    sink = sink + checksum;
    p.macs_per_s = std::max(p.macs_per_s, double(calls) * double(kItersPerCall) * path.macs_per_iter / s);
  }
  return p;
}

}  // namespace bitlab

// <immintrin.h> for the avx512 kernels, plus the helpers they share (tail
// masks, int8 row sum, per-thread scratch), all with internal linkage.
#pragma once
// GCC 12's AVX-512 headers build "undefined" vectors by self-initialisation
// (`__m512 __Y = __Y;`, GCC bug 105593), which -Wuninitialized reports inside
// every inlined intrinsic; the warning is about the header, not our code.
// Clang has no -Wmaybe-uninitialized (and no such header problem).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop
#else
#include <immintrin.h>
#endif

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <new>

#include "kernels/cpu/cpu_kernels.h"

namespace bitlab::cpu::avx512 {

// Why the anonymous namespace, in a header: every inline function these files
// instantiate (std::vector<float>::resize, ~vector, ...) would be a weak symbol
// compiled with AVX-512 flags, and the linker keeps one copy of each for the
// whole binary, possibly this one, on the scalar path too. So the kernels use
// no std containers, and their helpers have internal linkage; the build checks
// that these objects define no weak functions (cmake/check_isa_isolation.cmake).
namespace {

// Lanes of a 16-lane vector still inside a row with `left` more elements
// (none when left <= 0, all when left >= 16).
inline __mmask16 tail16(int64_t left) {
  return __mmask16(left <= 0 ? 0u : left >= 16 ? 0xffffu : (1u << left) - 1u);
}
inline __mmask32 tail32(int64_t left) {
  return __mmask32(left <= 0 ? 0u : left >= 32 ? 0xffffffffu : (1u << left) - 1u);
}
inline __mmask64 tail64(int64_t left) {
  return _cvtu64_mask64(left <= 0 ? 0ull : left >= 64 ? ~0ull : (1ull << left) - 1ull);
}

// 64 int8 values summed into 16 int32 lanes of acc: vpdpbusd against ones in a
// file built with VNNI, else vpmaddubsw (pairs into int16, at most 2 * 128:
// exact) then vpmaddwd against ones (pairs into int32). Both are exact.
inline __m512i add_byte_sums(__m512i acc, __m512i x) {
  const __m512i ones = _mm512_set1_epi8(1);
#if defined(__AVX512VNNI__)
  return _mm512_dpbusd_epi32(acc, ones, x);
#else
  return _mm512_add_epi32(acc, _mm512_madd_epi16(_mm512_maddubs_epi16(ones, x), _mm512_set1_epi16(1)));
#endif
}

// Σ x over k int8 values (masked tail), exact in int32; reads nothing past x + k.
inline int32_t row_sum(const int8_t* x, int64_t k) {
  __m512i acc = _mm512_setzero_si512();
  int64_t i = 0;
  for (; i + 64 <= k; i += 64) acc = add_byte_sums(acc, _mm512_loadu_si512(x + i));
  if (i < k) acc = add_byte_sums(acc, _mm512_maskz_loadu_epi8(tail64(k - i), x + i));
  return _mm512_reduce_add_epi32(acc);
}

// Per-thread scratch memory, 64-byte aligned, grown on demand, never shrunk.
// Use as `thread_local Scratch<float> buf; float* p = buf.get(n);`.
template <class T>
class Scratch {
 public:
  Scratch() = default;
  Scratch(const Scratch&) = delete;
  Scratch& operator=(const Scratch&) = delete;
  ~Scratch() { release(); }
  T* get(size_t n) {
    if (n > cap_) {
      release();
      // The aligned operator new throws std::bad_alloc itself: constructing one
      // here would emit its inline constructor, a weak function, in this object.
      p_ = static_cast<T*>(::operator new(n * sizeof(T), std::align_val_t{64}));
      cap_ = n;
    }
    return p_;
  }

 private:
  void release() {
    if (p_) ::operator delete(p_, std::align_val_t{64});
    p_ = nullptr;
    cap_ = 0;
  }

  T* p_ = nullptr;
  size_t cap_ = 0;
};

// One token's activations for a GEMV over kp >= k columns: x itself when
// kp == k, else a zero-padded copy in `pad`, so the kernel reads nothing past k.
inline const int8_t* padded_row(const int8_t* x, int64_t k, int64_t kp, Scratch<int8_t>& pad) {
  if (kp == k) return x;
  int8_t* p = pad.get(size_t(kp));
  std::memcpy(p, x, size_t(k));
  std::memset(p + k, 0, size_t(kp - k));
  return p;
}

// The GEMM kernels' prepared activations (MatmulArgs::prepared), written once
// per matmul call and read by every row block's call:
//   - the t per-token sums Σx (int32), in a region padded to 64 bytes per 16 tokens;
//   - the t token rows of k int8 values regrouped per tile of 16 tokens so that
//     the 16 four-byte groups of one column group are one 64-byte line:
//       tiles[(t / 16) * kp * 16 + (c / 4) * 64 + 4 * (t % 16) + c % 4] = x[t, c],
//     kp: k padded to the layout's column block (a multiple of 4), zero past k
//     and past the last token.
// The backend hands prepare token blocks of this size (CpuKernels::kPrepareTokens).
inline constexpr int64_t kGemmTileTokens = CpuKernels::kPrepareTokens;
inline int64_t prepared_sums_bytes(int64_t t) { return (t + kGemmTileTokens - 1) / kGemmTileTokens * 64; }
inline size_t prepared_size(int64_t t, int64_t kp) {
  return size_t(prepared_sums_bytes(t) + (t + kGemmTileTokens - 1) / kGemmTileTokens * kp * kGemmTileTokens);
}
inline const int32_t* prepared_sums(const uint8_t* p) { return reinterpret_cast<const int32_t*>(p); }
inline const int8_t* prepared_tiles(const uint8_t* p, int64_t t) {
  return reinterpret_cast<const int8_t*>(p + prepared_sums_bytes(t));
}

// In place: v[r] dword c becomes v[c] dword r (a 16 x 16 transpose of 32-bit
// elements: pairs, then quads within 128-bit lanes, then the lanes themselves).
inline void transpose16x16_epi32(__m512i v[16]) {
  __m512i t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_epi32(v[2 * i], v[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_epi32(v[2 * i], v[2 * i + 1]);
  }
  // u[4i + j], 128-bit lane L: rows 4i..4i+3 of column 4L + j.
  for (int i = 0; i < 4; ++i) {
    u[4 * i] = _mm512_unpacklo_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 1] = _mm512_unpackhi_epi64(t[4 * i], t[4 * i + 2]);
    u[4 * i + 2] = _mm512_unpacklo_epi64(t[4 * i + 1], t[4 * i + 3]);
    u[4 * i + 3] = _mm512_unpackhi_epi64(t[4 * i + 1], t[4 * i + 3]);
  }
  // Column 4L + j gathers lane L of u[j], u[4 + j], u[8 + j], u[12 + j].
  for (int j = 0; j < 4; ++j) {
    const __m512i p = _mm512_shuffle_i32x4(u[j], u[4 + j], 0x88), q = _mm512_shuffle_i32x4(u[j], u[4 + j], 0xdd);
    const __m512i p2 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0x88);
    const __m512i q2 = _mm512_shuffle_i32x4(u[8 + j], u[12 + j], 0xdd);
    v[j] = _mm512_shuffle_i32x4(p, p2, 0x88);
    v[4 + j] = _mm512_shuffle_i32x4(q, q2, 0x88);
    v[8 + j] = _mm512_shuffle_i32x4(p, p2, 0xdd);
    v[12 + j] = _mm512_shuffle_i32x4(q, q2, 0xdd);
  }
}

// Writes the sums and whole tiles (zero sums and rows past t included) of tokens
// [t0, t1) into a prepared block of prepared_size(t, kp) bytes; t0 is a
// multiple of 16 and t1 is t or a multiple of 16, so threads may prepare
// disjoint token ranges of one block. Reads nothing past row t - 1, column k - 1.
inline void prepare_tiles(const int8_t* x, int64_t t, int64_t k, int64_t kp, int64_t t0, int64_t t1, uint8_t* out) {
  int32_t* sums = reinterpret_cast<int32_t*>(out);
  int8_t* tiles = reinterpret_cast<int8_t*>(out + prepared_sums_bytes(t));
  const int64_t t1_tiles = (t1 + kGemmTileTokens - 1) / kGemmTileTokens * kGemmTileTokens;
  for (int64_t r = t0; r < t1_tiles; ++r) sums[r] = r < t ? row_sum(x + r * k, k) : 0;
  const int64_t groups = kp / 4;
  for (int64_t r0 = t0; r0 < t1; r0 += kGemmTileTokens) {
    int8_t* dst = tiles + (r0 / kGemmTileTokens) * kp * kGemmTileTokens;
    for (int64_t c0 = 0; c0 < kp; c0 += 64) {
      __m512i v[16];
      for (int r = 0; r < 16; ++r)
        v[r] = r0 + r < t ? _mm512_maskz_loadu_epi8(tail64(k - c0), x + (r0 + r) * k + c0) : _mm512_setzero_si512();
      transpose16x16_epi32(v);
      for (int64_t g = 0; g < 16 && c0 / 4 + g < groups; ++g) _mm512_storeu_si512(dst + (c0 / 4 + g) * 64, v[g]);
    }
  }
}

// The prepared block a GEMM reads: the backend's (`prepared`), or, for a caller
// that passed none, one prepared here in per-thread scratch.
inline const uint8_t* prepared_or_own(const uint8_t* prepared, const int8_t* x, int64_t t, int64_t k, int64_t kp) {
  if (prepared) return prepared;
  thread_local Scratch<uint8_t> own;
  uint8_t* p = own.get(prepared_size(t, kp));
  prepare_tiles(x, t, k, kp, 0, t, p);
  return p;
}

}  // namespace

}  // namespace bitlab::cpu::avx512

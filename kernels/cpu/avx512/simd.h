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

// The GEMM kernels' activation tiles: t token rows of k int8 values (x, row
// stride k) regrouped per tile of `tile` tokens so that the `tile` four-byte
// groups of one column group are one 64-byte line:
//   out[(t / tile) * tile_bytes + (c / 4) * 64 + 4 * (t % tile) + c % 4] = x[t, c],
// tile_bytes = kp * 16 (kp: k padded to the layout's column block), zero past k
// and past the last token. Returns the tiles, in `buf`.
inline int8_t* interleave_tiles(const int8_t* x, int64_t t, int64_t k, int64_t kp, int64_t tile,
                                Scratch<int8_t>& buf) {
  const int64_t tiles = (t + tile - 1) / tile, tile_bytes = kp * 16;
  int8_t* out = buf.get(size_t(tiles * tile_bytes));
  std::memset(out, 0, size_t(tiles * tile_bytes));
  // Each 64 bytes of a token row are 16 four-byte groups, scattered 64 bytes apart.
  const __m512i group_offsets =
      _mm512_setr_epi32(0, 64, 128, 192, 256, 320, 384, 448, 512, 576, 640, 704, 768, 832, 896, 960);
  for (int64_t r = 0; r < t; ++r) {
    int8_t* dst = out + (r / tile) * tile_bytes + 4 * (r % tile);
    const int8_t* src = x + r * k;
    for (int64_t i = 0; i < k; i += 64) {
      const int64_t left = k - i;
      const __m512i v = _mm512_maskz_loadu_epi8(tail64(left), src + i);
      _mm512_mask_i32scatter_epi32(dst + i * 16, tail16((left + 3) / 4), group_offsets, v, 1);
    }
  }
  return out;
}

}  // namespace

}  // namespace bitlab::cpu::avx512

// <immintrin.h> for the avx512 kernels, plus the tail masks they share.
#pragma once
// GCC 12's AVX-512 headers build "undefined" vectors by self-initialisation
// (`__m512 __Y = __Y;`, GCC bug 105593), which -Wuninitialized reports inside
// every inlined intrinsic; the warning is about the header, not our code.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <immintrin.h>
#pragma GCC diagnostic pop

#include <cstdint>

namespace bitlab::cpu::avx512 {

// Lanes of a 16-lane vector still inside a row with `left` more elements
// (none when left <= 0, all when left >= 16).
inline __mmask16 tail16(int64_t left) {
  return __mmask16(left <= 0 ? 0u : left >= 16 ? 0xffffu : (1u << left) - 1u);
}
inline __mmask32 tail32(int64_t left) {
  return __mmask32(left <= 0 ? 0u : left >= 32 ? 0xffffffffu : (1u << left) - 1u);
}

}  // namespace bitlab::cpu::avx512

// The r16k16 layout (r16k16.h) of the AVX-512 matmuls: its size, the repack
// from canonical codes, and a reader for tests. Built without VNNI, as it
// serves the VNNI and the BW matmul alike.
#include <cstring>

#include "kernels/cpu/avx512/r16k16.h"

namespace bitlab::cpu::avx512 {
namespace {

// One canonical byte (four 2-bit codes) spread to one code per byte lane.
// The tables here are plain arrays, not std::array: its operator[] is an
// inline function, which an instrumented build (-O1, sanitizers) emits as a
// weak symbol in this object (cmake/check_isa_isolation.cmake).
struct SpreadTable {
  uint32_t v[256];
};
constexpr SpreadTable make_spread() {
  SpreadTable t{};
  for (uint32_t b = 0; b < 256; ++b)
    for (uint32_t i = 0; i < 4; ++i) t.v[b] |= ((b >> (2 * i)) & 3u) << (8 * i);
  return t;
}
constexpr SpreadTable kSpread = make_spread();

}  // namespace

size_t packed_bytes(int64_t n, int64_t k) { return size_t(row_groups(n) * col_blocks(k) * kBlockBytes); }

// flatten: CanonicalTernary's inline accessors are inlined here, never emitted
// as weak functions compiled for AVX-512.
[[gnu::flatten]] void repack(const CanonicalTernary& w, uint8_t* out) {
  const int64_t nkb = col_blocks(w.k), rb = w.row_bytes();
  for (int64_t g = 0; g < row_groups(w.n); ++g)
    for (int64_t r = 0; r < kRowGroup; ++r) {
      const int64_t row = g * kRowGroup + r;
      const uint8_t* src = row < w.n ? w.row(row) : nullptr;
      for (int64_t kb = 0; kb < nkb; ++kb) {
        uint32_t v = 0;
        for (int64_t j = 0; j < 4; ++j) {
          const int64_t b = 4 * kb + j;  // canonical byte: columns 4b..4b+3
          const uint8_t codes = (src && b < rb) ? src[b] : kZeroCodeByte;
          v |= kSpread.v[codes] << (2 * j);
        }
        std::memcpy(out + (g * nkb + kb) * kBlockBytes + 4 * r, &v, 4);
      }
    }
}

int code_at(const uint8_t* packed, int64_t /*n*/, int64_t k, int64_t r, int64_t i) {
  const int64_t g = r / kRowGroup, kb = i / kColBlock, c = i % kColBlock;
  const uint8_t b = packed[(g * col_blocks(k) + kb) * kBlockBytes + 4 * (r % kRowGroup) + c % 4];
  return (b >> (2 * (c / 4))) & 3;
}

}  // namespace bitlab::cpu::avx512

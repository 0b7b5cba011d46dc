// The b3r16k20 layout (b3r16k20.h) of the 1.6-bit AVX-512 matmul: its size and
// the repack from canonical codes. Built without VNNI like repack_r16k16.cpp:
// it is plain byte work.
#include <cstring>

#include "kernels/cpu/avx512/b3r16k20.h"
#include "kernels/cpu/base3.h"

namespace bitlab::cpu::avx512 {

size_t packed_bytes_b3(int64_t n, int64_t k) { return size_t(b3_row_groups(n) * b3_col_blocks(k) * kB3BlockBytes); }

// flatten: CanonicalTernary's inline accessors are inlined here, never emitted
// as weak functions compiled for AVX-512. Each row is first spread to one code
// per byte (padded with code 1 to the block boundary), so the encoding reads
// plain bytes.
[[gnu::flatten]] void repack_b3(const CanonicalTernary& w, uint8_t* out) {
  const int64_t nkb = b3_col_blocks(w.k), kp = nkb * kB3ColBlock;
  thread_local Scratch<uint8_t> codes_scratch;
  uint8_t* codes = codes_scratch.get(size_t(kp));
  for (int64_t g = 0; g < b3_row_groups(w.n); ++g)
    for (int64_t r = 0; r < kRowGroup; ++r) {
      const int64_t row = g * kRowGroup + r;
      std::memset(codes, 1, size_t(kp));
      if (row < w.n) {
        const uint8_t* src = w.row(row);
        for (int64_t i = 0; i < w.k; ++i) codes[i] = uint8_t((src[i >> 2] >> (2 * (i & 3))) & 3u);
      }
      for (int64_t kb = 0; kb < nkb; ++kb) {
        uint8_t* dst = out + (g * nkb + kb) * kB3BlockBytes + 4 * r;
        for (int64_t i = 0; i < 4; ++i) {
          const uint8_t* c = codes + kb * kB3ColBlock + i;
          const uint8_t five[base3::kDigits] = {c[0], c[4], c[8], c[12], c[16]};
          dst[i] = base3::encode(five);
        }
      }
    }
}

}  // namespace bitlab::cpu::avx512

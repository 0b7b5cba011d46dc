#include "kernels/cuda/w2_layout.h"

#include "model/weights/canonical.h"

namespace bitlab::cuda {

std::vector<uint32_t> repack_w2(const CanonicalTernary& w) {
  const int64_t words = row_words(w.k);
  // Every code starts as 1 (a zero weight): the padding past k stays that way.
  std::vector<uint32_t> out(size_t(w.n * words), 0x55555555u);
  for (int64_t r = 0; r < w.n; ++r) {
    const uint8_t* src = w.row(r);
    uint32_t* dst = out.data() + r * words;
    for (int64_t i = 0; i < w.k; ++i) {
      const uint32_t code = (src[i >> 2] >> (2 * (i & 3))) & 3u;
      const int shift = code_shift(int(i & 15));
      uint32_t& word = dst[i >> 4];
      word = (word & ~(3u << shift)) | (code << shift);
    }
  }
  return out;
}

int8_t w2_value(const uint32_t* words, int64_t k, int64_t row, int64_t i) {
  const uint32_t word = words[row * row_words(k) + (i >> 4)];
  return int8_t(int((word >> code_shift(int(i & 15))) & 3u) - 1);
}

}  // namespace bitlab::cuda

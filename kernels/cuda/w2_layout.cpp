#include "kernels/cuda/w2_layout.h"

#include "model/weights/ternary_formats.h"

namespace bitlab::cuda {

// w2 words are the shared t2x16 layout with rows padded to whole k-tiles.
std::vector<uint32_t> repack_w2(const CanonicalTernary& w) { return pack_t2x16(w, row_words(w.k)); }

int8_t w2_value(const uint32_t* words, int64_t k, int64_t row, int64_t i) {
  const uint32_t word = words[row * row_words(k) + (i >> 4)];
  return int8_t(int((word >> code_shift(int(i & 15))) & 3u) - 1);
}

}  // namespace bitlab::cuda

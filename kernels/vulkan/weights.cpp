#include "kernels/vulkan/weights.h"

namespace bitlab::vk {

// Decodes each weight on its own from the documented bit position, not by
// undoing pack_t2x16 step by step, so a round trip checks the layout itself.
std::vector<int8_t> unpack_t2x16(const uint32_t* words, int64_t n, int64_t k) {
  const int64_t kw = words_per_row(k);
  std::vector<int8_t> out(size_t(n * k));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < k; ++i) {
      const int64_t g = i / 16, j = (i % 16) / 4, lane = i % 4;
      const uint32_t code = (words[r * kw + g] >> (8 * lane + 2 * j)) & 3u;
      out[size_t(r * k + i)] = int8_t(int(code) - 1);
    }
  return out;
}

}  // namespace bitlab::vk

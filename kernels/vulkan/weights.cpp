#include "kernels/vulkan/weights.h"

#include "kernels/cpu/base3.h"

namespace bitlab::vk {

namespace base3 = cpu::base3;

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

std::vector<uint32_t> repack_b3x80(const CanonicalTernary& w) {
  const int64_t kw = b3_words_per_row(w.k);
  std::vector<uint32_t> out(size_t(w.n * kw));
  for (int64_t r = 0; r < w.n; ++r)
    for (int64_t blk = 0; blk < kw / 4; ++blk)
      for (int64_t m = 0; m < 16; ++m) {
        uint8_t codes[base3::kDigits];
        for (int j = 0; j < base3::kDigits; ++j) {
          const int64_t i = blk * kB3BlockWeights + 16 * j + m;
          codes[j] = uint8_t(i < w.k ? w.at(r, i) + 1 : 1);
        }
        out[size_t(r * kw + blk * 4 + m / 4)] |= uint32_t(base3::encode(codes)) << (8 * (m % 4));
      }
  return out;
}

// As unpack_t2x16: weight i read from its own byte and digit.
std::vector<int8_t> unpack_b3x80(const uint32_t* words, int64_t n, int64_t k) {
  const int64_t kw = b3_words_per_row(k);
  std::vector<int8_t> out(size_t(n * k));
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < k; ++i) {
      const int64_t blk = i / kB3BlockWeights, j = (i % kB3BlockWeights) / 16, m = i % 16;
      const uint8_t byte = uint8_t(words[r * kw + blk * 4 + m / 4] >> (8 * (m % 4)));
      out[size_t(r * k + i)] = int8_t(int(base3::digit(byte, int(j))) - 1);
    }
  return out;
}

}  // namespace bitlab::vk

#include "kernels/vulkan/weights.h"

#include <array>

namespace bitlab::vk {
namespace {

// spread[byte]: the four 2-bit codes of one canonical byte (weights 4m..4m+3)
// placed in bits 0-1 of byte lanes 0..3.
constexpr std::array<uint32_t, 256> make_spread() {
  std::array<uint32_t, 256> t{};
  for (uint32_t b = 0; b < 256; ++b)
    for (uint32_t lane = 0; lane < 4; ++lane) t[b] |= ((b >> (2 * lane)) & 3u) << (8 * lane);
  return t;
}
constexpr std::array<uint32_t, 256> kSpread = make_spread();
constexpr uint8_t kZeroCodes = 0x55;  // four codes of 1: T = 0

}  // namespace

std::vector<uint32_t> repack_t2x16(const CanonicalTernary& w) {
  const int64_t kw = words_per_row(w.k), rb = w.row_bytes();
  std::vector<uint32_t> out(size_t(w.n * kw));
  for (int64_t r = 0; r < w.n; ++r) {
    const uint8_t* src = w.row(r);
    uint32_t* dst = out.data() + r * kw;
    for (int64_t g = 0; g < kw; ++g) {
      // Canonical byte 4g + j holds weights 16g + 4j + {0..3}; they go to bits 2j of lanes 0..3.
      uint32_t word = 0;
      for (int64_t j = 0; j < 4; ++j) {
        const int64_t byte = 4 * g + j;
        word |= kSpread[byte < rb ? src[byte] : kZeroCodes] << (2 * j);
      }
      dst[g] = word;
    }
  }
  return out;
}

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

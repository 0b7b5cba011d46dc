#include "model/weights/tq_formats.h"

#include <cstring>

#include <fmt/format.h>

#include "model/error.h"
#include "model/weights/f16_formats.h"
#include "model/weights/half.h"

namespace bitlab {

namespace {

constexpr uint64_t kTq2Bytes = 66, kTq1Bytes = 54;
constexpr int kTq1Qs = 48, kTq1Qh = 4;

void check_shape(const CanonicalTernary& w, const char* type, uint64_t want, size_t have) {
  if (w.k % kTqBlock != 0)
    throw UsageError(fmt::format("'{}' [{}, {}] cannot be stored as {}: its rows of {} weights are not a multiple "
                                 "of the {}-weight block",
                                 w.name, w.n, w.k, type, w.k, kTqBlock));
  if (have != want)
    throw UsageError(fmt::format("encode {} '{}': {} bytes, needs {}", type, w.name, have, want));
}

void check_decode(const std::string& name, int64_t n, int64_t k, const char* type, uint64_t want, size_t have) {
  if (k % kTqBlock != 0 || have != want)
    throw InputError(fmt::format("tensor '{}': {} {} bytes for shape [{}, {}] (needs k % 256 == 0 and {} bytes)",
                                 name, have, type, n, k, want));
}

// Base-3 digits d[0..len) (d[0] most significant, then `pad` zero digits) as
// the byte ggml stores: ceil(value * 256 / 243).
uint8_t pack_trits(const unsigned* d, int len, int pad) {
  unsigned v = 0;
  for (int i = 0; i < len; ++i) v = v * 3 + d[i];
  for (int i = 0; i < pad; ++i) v *= 3;
  return uint8_t((v * 256 + 242) / 243);
}

// Digit n (0 = most significant) of a packed byte, as dequantize_row_tq1_0 reads it.
unsigned trit(uint8_t q, int n) {
  static constexpr uint8_t kPow3[5] = {1, 3, 9, 27, 81};
  const uint8_t shifted = uint8_t(q * kPow3[n]);
  return (unsigned(shifted) * 3u) >> 8;
}

// Where element j of a TQ1_0 block lives: byte index (qs then qh) and digit.
struct TritPos {
  int byte, digit;
};
TritPos tq1_pos(int j) {
  if (j < 160) return {j % 32, j / 32};
  if (j < 240) return {32 + (j - 160) % 16, (j - 160) / 16};
  return {kTq1Qs + (j - 240) % 4, (j - 240) / 4};
}

float read_d(const uint8_t* p) {
  uint16_t h;
  std::memcpy(&h, p, 2);
  return f16_to_f32(h);
}

void check_same_d(const std::string& name, int64_t block, float d, float first) {
  if (std::memcmp(&d, &first, 4) != 0)
    throw InputError(fmt::format("tensor '{}': block {} has scale {}, block 0 has {} (one scale per tensor)", name,
                                 block, d, first));
}

}  // namespace

uint64_t tq2_0_bytes(int64_t n, int64_t k) { return uint64_t(n) * uint64_t(k / kTqBlock) * kTq2Bytes; }
uint64_t tq1_0_bytes(int64_t n, int64_t k) { return uint64_t(n) * uint64_t(k / kTqBlock) * kTq1Bytes; }

void encode_tq2_0(const CanonicalTernary& w, float d, std::span<uint8_t> out) {
  check_shape(w, "TQ2_0", tq2_0_bytes(w.n, w.k), out.size());
  const uint16_t dh = f32_to_f16(d);
  const int64_t blocks = w.k / kTqBlock;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < w.n; ++r)
    for (int64_t b = 0; b < blocks; ++b) {
      uint8_t* dst = out.data() + (uint64_t(r) * uint64_t(blocks) + uint64_t(b)) * kTq2Bytes;
      std::memset(dst, 0, 64);
      for (int j = 0; j < kTqBlock; ++j) {
        const unsigned c = unsigned(w.at(r, b * kTqBlock + j) + 1);
        dst[32 * (j / 128) + j % 32] = uint8_t(dst[32 * (j / 128) + j % 32] | (c << (2 * ((j % 128) / 32))));
      }
      std::memcpy(dst + 64, &dh, 2);
    }
}

void encode_tq1_0(const CanonicalTernary& w, float d, std::span<uint8_t> out) {
  check_shape(w, "TQ1_0", tq1_0_bytes(w.n, w.k), out.size());
  const uint16_t dh = f32_to_f16(d);
  const int64_t blocks = w.k / kTqBlock;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < w.n; ++r)
    for (int64_t b = 0; b < blocks; ++b) {
      uint8_t* dst = out.data() + (uint64_t(r) * uint64_t(blocks) + uint64_t(b)) * kTq1Bytes;
      unsigned digits[kTq1Qs + kTq1Qh][5] = {};
      for (int j = 0; j < kTqBlock; ++j) {
        const TritPos p = tq1_pos(j);
        digits[p.byte][p.digit] = unsigned(w.at(r, b * kTqBlock + j) + 1);
      }
      // qh bytes carry four digits and a fifth, zero, least significant one.
      for (int i = 0; i < kTq1Qs + kTq1Qh; ++i) dst[i] = pack_trits(digits[i], i < kTq1Qs ? 5 : 4, i < kTq1Qs ? 0 : 1);
      std::memcpy(dst + kTq1Qs + kTq1Qh, &dh, 2);
    }
}

CanonicalTernary decode_tq2_0(std::string name, int64_t n, int64_t k, std::span<const uint8_t> bytes) {
  check_decode(name, n, k, "TQ2_0", tq2_0_bytes(n, k), bytes.size());
  const int64_t blocks = k / kTqBlock;
  const float d0 = bytes.empty() ? 1.0f : read_d(bytes.data() + 64);
  CanonicalTernary w = zero_ternary(std::move(name), n, k, d0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t block = r * blocks + b;
      const uint8_t* src = bytes.data() + uint64_t(block) * kTq2Bytes;
      check_same_d(w.name, block, read_d(src + 64), d0);
      for (int j = 0; j < kTqBlock; ++j) {
        const unsigned c = (src[32 * (j / 128) + j % 32] >> (2 * ((j % 128) / 32))) & 3u;
        if (c == 3) throw InputError(fmt::format("tensor '{}': invalid ternary code 3 in block {}", w.name, block));
        set_code(w.packed.data() + r * w.row_bytes(), b * kTqBlock + j, c);
      }
    }
  return w;
}

CanonicalTernary decode_tq1_0(std::string name, int64_t n, int64_t k, std::span<const uint8_t> bytes) {
  check_decode(name, n, k, "TQ1_0", tq1_0_bytes(n, k), bytes.size());
  const int64_t blocks = k / kTqBlock;
  const float d0 = bytes.empty() ? 1.0f : read_d(bytes.data() + kTq1Qs + kTq1Qh);
  CanonicalTernary w = zero_ternary(std::move(name), n, k, d0);
  for (int64_t r = 0; r < n; ++r)
    for (int64_t b = 0; b < blocks; ++b) {
      const int64_t block = r * blocks + b;
      const uint8_t* src = bytes.data() + uint64_t(block) * kTq1Bytes;
      check_same_d(w.name, block, read_d(src + kTq1Qs + kTq1Qh), d0);
      // A byte is a packing only if re-packing its digits gives it back.
      for (int i = 0; i < kTq1Qs + kTq1Qh; ++i) {
        const int len = i < kTq1Qs ? 5 : 4;
        unsigned d[5];
        for (int n5 = 0; n5 < 5; ++n5) d[n5] = trit(src[i], n5);
        if (pack_trits(d, len, 5 - len) != src[i] || (len == 4 && d[4] != 0))
          throw InputError(fmt::format("tensor '{}': byte {} of block {} ({}) is no base-3 packing", w.name, i, block,
                                       src[i]));
      }
      for (int j = 0; j < kTqBlock; ++j) {
        const TritPos p = tq1_pos(j);
        set_code(w.packed.data() + r * w.row_bytes(), b * kTqBlock + j, trit(src[p.byte], p.digit));
      }
    }
  return w;
}

}  // namespace bitlab

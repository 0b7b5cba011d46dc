#include "model/weights/bn_formats.h"

#include <cstring>

#include <fmt/format.h>

#include "model/error.h"
#include "model/weights/f16_formats.h"
#include "model/weights/half.h"

namespace bitlab {

namespace {

constexpr uint64_t kIq2BlockBytes = 16, kIq1BlockBytes = 13;

void check_shape(const CanonicalTernary& w, const char* type, uint64_t want, size_t have) {
  if (w.k % kBnBlock != 0)
    throw UsageError(fmt::format("'{}' [{}, {}] cannot be stored as {}: its rows of {} weights are not a multiple "
                                 "of the {}-weight block",
                                 w.name, w.n, w.k, type, w.k, kBnBlock));
  if (have != want) throw UsageError(fmt::format("encode {} '{}': {} bytes, needs {}", type, w.name, have, want));
}

void check_decode(const std::string& name, int64_t n, int64_t k, const char* type, uint64_t want, size_t have) {
  if (k % kBnBlock != 0 || have != want)
    throw InputError(fmt::format("tensor '{}': {} {} bytes for shape [{}, {}] (needs k % 64 == 0 and {} bytes)", name,
                                 have, type, n, k, want));
}

void check_same_scale(const std::string& name, int64_t row, float s, float first) {
  if (std::memcmp(&s, &first, 4) != 0)
    throw InputError(
        fmt::format("tensor '{}': row {} has scale {}, row 0 has {} (one scale per tensor)", name, row, s, first));
}

// Digits d[0..len) with d[0] the LEAST significant, as ik packs them.
uint8_t pack_trits_lsd(const unsigned* d, int len) {
  unsigned v = 0;
  for (int i = len - 1; i >= 0; --i) v = v * 3 + d[i];
  return uint8_t((v * 256 + 242) / 243);
}

// Digit i (0 = least significant) of a packed byte, as dequantize_row_iq1_bn reads it.
unsigned trit_lsd(uint8_t q, int i) {
  static constexpr uint8_t kMult[5] = {81, 27, 9, 3, 1};
  const uint8_t v = uint8_t(q * kMult[i]);
  return (unsigned(v) + (unsigned(v) >> 1)) >> 7;
}

// Element e (0..63) of an IQ1_BN block: byte (ql 0..11, extra 12) and digit.
struct TritPos {
  int byte, digit;
};
TritPos iq1_pos(int e) {
  const int g = e / 16, m = e % 16;
  if (m == 15) return {12, g};
  return {3 * g + m / 5, m % 5};
}

}  // namespace

uint64_t iq2_bn_row_bytes(int64_t k) { return 4 + uint64_t(k / kBnBlock) * kIq2BlockBytes; }
uint64_t iq1_bn_row_bytes(int64_t k) { return 2 + uint64_t(k / kBnBlock) * kIq1BlockBytes; }

void encode_iq2_bn(const CanonicalTernary& w, float row_scale, std::span<uint8_t> out) {
  const uint64_t rb = iq2_bn_row_bytes(w.k);
  check_shape(w, "IQ2_BN", rb * uint64_t(w.n), out.size());
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < w.n; ++r) {
    uint8_t* dst = out.data() + uint64_t(r) * rb;
    std::memcpy(dst, &row_scale, 4);
    uint8_t* qs = dst + 4;
    std::memset(qs, 0, rb - 4);
    for (int64_t i = 0; i < w.k; ++i) {
      const int64_t b = i / kBnBlock, j = i % kBnBlock;
      qs[b * 16 + j % 16] = uint8_t(qs[b * 16 + j % 16] | (unsigned(w.at(r, i) + 1) << (2 * (j / 16))));
    }
  }
}

void encode_iq1_bn(const CanonicalTernary& w, float row_scale, std::span<uint8_t> out) {
  const uint64_t rb = iq1_bn_row_bytes(w.k);
  check_shape(w, "IQ1_BN", rb * uint64_t(w.n), out.size());
  const uint16_t dh = f32_to_f16(row_scale);
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < w.n; ++r) {
    uint8_t* dst = out.data() + uint64_t(r) * rb;
    std::memcpy(dst, &dh, 2);
    for (int64_t b = 0; b < w.k / kBnBlock; ++b) {
      unsigned digits[13][5] = {};
      for (int e = 0; e < kBnBlock; ++e) {
        const TritPos p = iq1_pos(e);
        digits[p.byte][p.digit] = unsigned(w.at(r, b * kBnBlock + e) + 1);
      }
      uint8_t* blk = dst + 2 + uint64_t(b) * kIq1BlockBytes;
      for (int i = 0; i < 13; ++i) blk[i] = pack_trits_lsd(digits[i], i < 12 ? 5 : 4);
    }
  }
}

CanonicalTernary decode_iq2_bn(std::string name, int64_t n, int64_t k, std::span<const uint8_t> bytes) {
  const uint64_t rb = iq2_bn_row_bytes(k);
  check_decode(name, n, k, "IQ2_BN", rb * uint64_t(n), bytes.size());
  float s0 = 1.0f;
  if (n > 0) std::memcpy(&s0, bytes.data(), 4);
  CanonicalTernary w = zero_ternary(std::move(name), n, k, s0);
  for (int64_t r = 0; r < n; ++r) {
    const uint8_t* src = bytes.data() + uint64_t(r) * rb;
    float s;
    std::memcpy(&s, src, 4);
    check_same_scale(w.name, r, s, s0);
    for (int64_t i = 0; i < k; ++i) {
      const int64_t b = i / kBnBlock, j = i % kBnBlock;
      const unsigned c = (src[4 + b * 16 + j % 16] >> (2 * (j / 16))) & 3u;
      if (c == 3) throw InputError(fmt::format("tensor '{}': invalid ternary code 3 in row {}", w.name, r));
      set_code(w.packed.data() + r * w.row_bytes(), i, c);
    }
  }
  return w;
}

CanonicalTernary decode_iq1_bn(std::string name, int64_t n, int64_t k, std::span<const uint8_t> bytes) {
  const uint64_t rb = iq1_bn_row_bytes(k);
  check_decode(name, n, k, "IQ1_BN", rb * uint64_t(n), bytes.size());
  auto row_scale = [&](int64_t r) {
    uint16_t h;
    std::memcpy(&h, bytes.data() + uint64_t(r) * rb, 2);
    return f16_to_f32(h);
  };
  const float s0 = n > 0 ? row_scale(0) : 1.0f;
  CanonicalTernary w = zero_ternary(std::move(name), n, k, s0);
  for (int64_t r = 0; r < n; ++r) {
    check_same_scale(w.name, r, row_scale(r), s0);
    for (int64_t b = 0; b < k / kBnBlock; ++b) {
      const uint8_t* blk = bytes.data() + uint64_t(r) * rb + 2 + uint64_t(b) * kIq1BlockBytes;
      for (int i = 0; i < 13; ++i) {
        const int len = i < 12 ? 5 : 4;
        unsigned d[5];
        for (int t = 0; t < 5; ++t) d[t] = trit_lsd(blk[i], t);
        if (pack_trits_lsd(d, len) != blk[i] || (len == 4 && d[4] != 0))
          throw InputError(
              fmt::format("tensor '{}': row {} block {} byte {} ({}) is no base-3 packing", w.name, r, b, i, blk[i]));
      }
      for (int e = 0; e < kBnBlock; ++e) {
        const TritPos p = iq1_pos(e);
        set_code(w.packed.data() + r * w.row_bytes(), b * kBnBlock + e, trit_lsd(blk[p.byte], p.digit));
      }
    }
  }
  return w;
}

}  // namespace bitlab

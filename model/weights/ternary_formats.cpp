#include "model/weights/ternary_formats.h"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "model/error.h"

namespace bitlab {

namespace {

void check_scale(const std::string& name, float scale, const char* where) {
  if (!std::isfinite(scale) || scale == 0.0f)
    throw InputError(fmt::format("tensor '{}': weight scale {} ({}) is not a finite non-zero number", name, scale,
                                 where));
}

}  // namespace

CanonicalTernary decode_i2s(std::string name, int64_t n, int64_t k, std::span<const uint8_t> bytes) {
  const uint64_t elements = uint64_t(n) * uint64_t(k);
  if (elements % 128 != 0 || bytes.size() < elements / 4 + 4)
    throw InputError(fmt::format("tensor '{}': {} I2_S bytes for shape [{}, {}]", name, bytes.size(), n, k));
  float scale;
  std::memcpy(&scale, bytes.data() + elements / 4, 4);
  check_scale(name, scale, fmt::format("fp32 after the codes, tensor byte {}", elements / 4).c_str());
  CanonicalTernary w = zero_ternary(std::move(name), n, k, scale);
  const int64_t rb = w.row_bytes();
  const uint8_t* src = bytes.data();
  if (k % 128 == 0) {
    // Fast path: every row is whole blocks. Canonical byte m of a block holds
    // codes j = 4m..4m+3, which sit in bytes (4m % 32) + t at shift 6 - 2 * (m / 8).
    unsigned any_bad = 0;
#pragma omp parallel for schedule(static) reduction(| : any_bad)
    for (int64_t r = 0; r < n; ++r) {
      const uint8_t* blocks = src + r * (k / 4);
      uint8_t* row = w.packed.data() + r * rb;
      for (int64_t b = 0; b < k / 128; ++b) {
        const uint8_t* s = blocks + b * 32;
        for (int m = 0; m < 32; ++m) {
          const int shift = 6 - 2 * (m / 8), p = (4 * m) % 32;
          const unsigned out = ((s[p] >> shift) & 3u) | (((s[p + 1] >> shift) & 3u) << 2) |
                               (((s[p + 2] >> shift) & 3u) << 4) | (((s[p + 3] >> shift) & 3u) << 6);
          row[b * 32 + m] = uint8_t(out);
          any_bad |= has_code3(out);
        }
      }
    }
    if (any_bad == 0) return w;
    // A code 3 somewhere: the general path below finds and names its byte.
  }
  int64_t bad = -1;
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; ++r) {
    uint8_t* row = w.packed.data() + r * rb;
    for (int64_t i = 0; i < k; ++i) {
      const uint64_t e = uint64_t(r) * uint64_t(k) + uint64_t(i);
      const uint64_t j = e % 128;
      const uint64_t byte = (e / 128) * 32 + j % 32;
      const unsigned c = (src[byte] >> (6 - 2 * (j / 32))) & 3u;
      if (c == 3) {
#pragma omp critical
        if (bad < 0 || int64_t(byte) < bad) bad = int64_t(byte);
      }
      set_code(row, i, c);
    }
  }
  if (bad >= 0) throw InputError(fmt::format("tensor '{}': invalid ternary code 3 in tensor byte {}", w.name, bad));
  return w;
}

void encode_i2s(const CanonicalTernary& w, std::span<uint8_t> out) {
  const uint64_t elements = uint64_t(w.n) * uint64_t(w.k);
  if (elements % 128 != 0 || out.size() != elements / 4 + 32)
    throw UsageError(fmt::format("encode_i2s '{}': shape [{}, {}] needs a multiple of 128 codes and {} bytes", w.name,
                                 w.n, w.k, elements / 4 + 32));
  std::memset(out.data(), 0, out.size());
  uint8_t* dst = out.data();
  if (w.k % 128 == 0) {
    // Fast path, the inverse of decode_i2s's: whole blocks per row.
#pragma omp parallel for schedule(static)
    for (int64_t r = 0; r < w.n; ++r) {
      const uint8_t* row = w.row(r);
      uint8_t* blocks = dst + r * (w.k / 4);
      for (int64_t b = 0; b < w.k / 128; ++b)
        for (int m = 0; m < 32; ++m) {
          const int shift = 6 - 2 * (m / 8), p = (4 * m) % 32;
          const unsigned c = row[b * 32 + m];
          for (int t = 0; t < 4; ++t)
            blocks[b * 32 + p + t] = uint8_t(blocks[b * 32 + p + t] | (((c >> (2 * t)) & 3u) << shift));
        }
    }
    std::memcpy(dst + elements / 4, &w.scale, 4);
    return;
  }
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < int64_t(elements / 128); ++b) {
    for (unsigned j = 0; j < 128; ++j) {
      const uint64_t e = uint64_t(b) * 128 + j;
      const int64_t r = int64_t(e / uint64_t(w.k)), i = int64_t(e % uint64_t(w.k));
      const unsigned c = (w.row(r)[i >> 2] >> (2 * (i & 3))) & 3u;
      dst[b * 32 + j % 32] = uint8_t(dst[b * 32 + j % 32] | (c << (6 - 2 * (j / 32))));
    }
  }
  std::memcpy(dst + elements / 4, &w.scale, 4);
}

CanonicalTernary decode_hf_packed(std::string name, int64_t n, int64_t k, std::span<const uint8_t> packed,
                                  float scale) {
  if (n % 4 != 0 || packed.size() != uint64_t(n / 4) * uint64_t(k))
    throw InputError(fmt::format("tensor '{}': {} packed bytes for shape [{}, {}] (needs n % 4 == 0 and n/4*k bytes)",
                                 name, packed.size(), n, k));
  check_scale(name, scale, "weight_scale");
  CanonicalTernary w = zero_ternary(std::move(name), n, k, scale);
  const int64_t rb = w.row_bytes(), q = n / 4;
  int64_t bad = -1;
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < q; ++p) {
    const uint8_t* src = packed.data() + p * k;
    for (int64_t i = 0; i < k; ++i) {
      const uint8_t b = src[i];
      if (has_code3(b)) {
#pragma omp critical
        if (bad < 0 || p * k + i < bad) bad = p * k + i;
      }
      for (int j = 0; j < 4; ++j) set_code(w.packed.data() + (j * q + p) * rb, i, (b >> (2 * j)) & 3u);
    }
  }
  if (bad >= 0) throw InputError(fmt::format("tensor '{}': invalid ternary code 3 in tensor byte {}", w.name, bad));
  return w;
}

void encode_hf_packed(const CanonicalTernary& w, std::span<uint8_t> out) {
  if (w.n % 4 != 0 || out.size() != uint64_t(w.n / 4) * uint64_t(w.k))
    throw UsageError(fmt::format("encode_hf_packed '{}': shape [{}, {}] needs n % 4 == 0", w.name, w.n, w.k));
  const int64_t q = w.n / 4;
#pragma omp parallel for schedule(static)
  for (int64_t p = 0; p < q; ++p)
    for (int64_t i = 0; i < w.k; ++i) {
      unsigned b = 0;
      for (int j = 0; j < 4; ++j) b |= ((w.row(j * q + p)[i >> 2] >> (2 * (i & 3))) & 3u) << (2 * j);
      out[size_t(p * w.k + i)] = uint8_t(b);
    }
}

CanonicalTernary quantize_absmean(std::string name, int64_t n, int64_t k, std::span<const float> w) {
  if (w.size() != uint64_t(n) * uint64_t(k))
    throw UsageError(fmt::format("quantize_absmean '{}': {} values for [{}, {}]", name, w.size(), n, k));
  double sum = 0;
  for (float x : w) {
    if (!std::isfinite(x)) throw InputError(fmt::format("tensor '{}': master weight {} is not finite", name, x));
    sum += std::fabs(double(x));
  }
  const float scale = std::max(float(sum / double(w.size())), 1e-5f);
  CanonicalTernary t = zero_ternary(std::move(name), n, k, scale);
  const int64_t rb = t.row_bytes();
#pragma omp parallel for schedule(static)
  for (int64_t r = 0; r < n; ++r)
    for (int64_t i = 0; i < k; ++i) {
      // nearbyint rounds ties to even, as torch.round does; clamping the
      // rounded value to [-1, 1] keeps only its sign.
      const float v = std::nearbyint(w[size_t(r * k + i)] / scale);
      const int c = v > 0.0f ? 2 : v < 0.0f ? 0 : 1;
      set_code(t.packed.data() + r * rb, i, unsigned(c));
    }
  return t;
}

}  // namespace bitlab

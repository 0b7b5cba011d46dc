#include "model/weights/tl2_formats.h"

#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "model/error.h"

namespace bitlab {

namespace {

// Row of a byte inside its 32-byte run: the run's 8-byte quarters 1 and 2
// are swapped (the kernel's unpack order), which is its own inverse.
constexpr int64_t run_row(int64_t s) {
  const int64_t quarter = s / 8;
  return (quarter == 1 ? 2 : quarter == 2 ? 1 : quarter) * 8 + s % 8;
}

// The three parts' sizes and where they start.
struct Tl2Parts {
  Tl2Tiling tiling;
  int64_t k3 = 0, k2 = 0;
  uint64_t magnitudes = 0, signs = 0, pairs = 0, payload = 0;
};

Tl2Parts parts(const std::string& name, int64_t n, int64_t k) {
  Tl2Parts p;
  p.tiling = tl2_tiling(name, n, k);
  p.k2 = k % p.tiling.bk;
  p.k3 = k - p.k2;
  p.magnitudes = uint64_t(n) * uint64_t(p.k3) / 6;
  p.signs = uint64_t(n) * uint64_t(p.k3) / 24;
  p.pairs = uint64_t(n) * uint64_t(p.k2) / 4;
  p.payload = p.magnitudes + p.signs + p.pairs;
  return p;
}

// Calls f(byte offset, row, first group) for every byte of a nibble part
// (magnitudes: groups of 3 weights, `per_block` = BK/3 per k-block; pairs:
// groups of 2, 16 per block); the byte holds that group (high nibble) and the
// next (low nibble).
template <class F>
void for_each_nibble_byte(int64_t bm_tile, int64_t blocks, int64_t per_block, int64_t tile, F&& f) {
  const int64_t groups = bm_tile / kTl2RowStep;
  uint64_t off = uint64_t(tile) * uint64_t(blocks * groups * (per_block / 2) * 32);
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t q = 0; q < groups; ++q)
      for (int64_t p = 0; p < per_block / 2; ++p)
        for (int64_t s = 0; s < 32; ++s, ++off)
          f(off, tile * bm_tile + q * kTl2RowStep + run_row(s), b * per_block + 2 * p);
}

// Calls f(byte offset of a uint16 word, bit, row, triple) for every sign bit of `tile`.
template <class F>
void for_each_sign_bit(int64_t bm_tile, int64_t bk, int64_t blocks, int64_t tile, F&& f) {
  const int64_t groups = bm_tile / kTl2RowStep, quarters = bk / 24;
  uint64_t off = uint64_t(tile) * uint64_t(blocks * groups * quarters * 32);
  for (int64_t b = 0; b < blocks; ++b)
    for (int64_t q = 0; q < groups; ++q)
      for (int64_t h = 0; h < quarters; ++h, off += 32)
        for (int64_t l = 0; l < 16; ++l)
          for (int64_t j = 0; j < 16; ++j)
            f(off + uint64_t(2 * l), int(15 - j), tile * bm_tile + q * kTl2RowStep + 16 * (j % 2) + l,
              b * (bk / 3) + 8 * h + j / 2);
}

// 9*T0 + 3*T1 + T2 of the triple starting at weight i.
int triple(const CanonicalTernary& w, int64_t r, int64_t i) { return 9 * w.at(r, i) + 3 * w.at(r, i + 1) + w.at(r, i + 2); }
// 3*T0 + T1 + 4 of the pair starting at weight i.
int pair(const CanonicalTernary& w, int64_t r, int64_t i) { return 3 * w.at(r, i) + w.at(r, i + 1) + 4; }

}  // namespace

Tl2Tiling tl2_tiling(const std::string& name, int64_t n, int64_t k) {
  for (const Tl2Tiling& t : kTl2Kernels)
    if (t.n == n && t.k == k) return t;
  const auto refuse = [&](const std::string& why) {
    throw UsageError(fmt::format("cannot export as gguf-tl2: tensor '{}' [{}, {}]: {}", name, n, k, why));
  };
  if (n <= 0 || n % kTl2RowStep != 0) refuse(fmt::format("{} rows are not a multiple of {}", n, kTl2RowStep));
  if (k < 256) refuse("rows of fewer than 256 weights (bitnet.cpp's TL2 size formula assumes at least 256)");
  if ((k % kTl2Bk) % 32 != 0)
    refuse(fmt::format("k % {} = {} is not a multiple of 32 (the 2-weight tail the kernels take)", kTl2Bk, k % kTl2Bk));
  Tl2Tiling t{n, k, kTl2RowStep, kTl2Bk, kTl2RowStep};
  for (int64_t bm = kTl2MaxTile; bm >= kTl2RowStep; bm -= kTl2RowStep)
    if (n % bm == 0) {
      t.bm_tile = bm;
      break;
    }
  return t;
}

uint64_t tl2_scale_offset(int64_t n, int64_t k) {
  // bitnet.cpp's ggml_nbytes / ggml_bitnet_transform_tensor, in C's order of
  // integer operations (truncating where (k - 256) * n is not a multiple of 3).
  const uint64_t un = uint64_t(n), uk = uint64_t(k);
  const uint64_t nbytes = (uk - 256) * un / 3 * 5 / 8 + 256 * un / 2 * 4 / 8;
  return (nbytes + 31) / 32 * 32;
}

uint64_t tl2_bytes(int64_t n, int64_t k) { return tl2_scale_offset(n, k) + 32; }

void encode_tl2(const CanonicalTernary& w, float scale, std::span<uint8_t> out) {
  const Tl2Parts p = parts(w.name, w.n, w.k);
  if (out.size() != tl2_bytes(w.n, w.k))
    throw UsageError(fmt::format("encode_tl2 '{}': {} bytes for shape [{}, {}], needs {}", w.name, out.size(), w.n,
                                 w.k, tl2_bytes(w.n, w.k)));
  std::memset(out.data(), 0, out.size());
  const Tl2Tiling& t = p.tiling;
  uint8_t* mag = out.data();
  uint8_t* sign = mag + p.magnitudes;
  uint8_t* two = sign + p.signs;
  const int64_t tiles = w.n / t.bm_tile, blocks3 = p.k3 / t.bk;
#pragma omp parallel for schedule(static)
  for (int64_t tile = 0; tile < tiles; ++tile) {
    for_each_nibble_byte(t.bm_tile, blocks3, t.bk / 3, tile, [&](uint64_t off, int64_t r, int64_t g) {
      mag[off] = uint8_t((std::abs(triple(w, r, 3 * g)) << 4) | std::abs(triple(w, r, 3 * g + 3)));
    });
    for_each_sign_bit(t.bm_tile, t.bk, blocks3, tile, [&](uint64_t off, int bit, int64_t r, int64_t g) {
      if (triple(w, r, 3 * g) < 0) sign[off + uint64_t(bit / 8)] |= uint8_t(1u << (bit % 8));
    });
    if (p.k2 > 0)
      for_each_nibble_byte(t.bm_tile, p.k2 / 32, 16, tile, [&](uint64_t off, int64_t r, int64_t g) {
        two[off] = uint8_t((pair(w, r, p.k3 + 2 * g) << 4) | pair(w, r, p.k3 + 2 * g + 2));
      });
  }
  std::memcpy(out.data() + tl2_scale_offset(w.n, w.k), &scale, 4);
}

CanonicalTernary decode_tl2(std::string name, int64_t n, int64_t k, std::span<const uint8_t> bytes) {
  const Tl2Parts p = parts(name, n, k);
  if (bytes.size() < tl2_bytes(n, k))
    throw InputError(fmt::format("tensor '{}': {} TL2 bytes for shape [{}, {}], needs {}", name, bytes.size(), n, k,
                                 tl2_bytes(n, k)));
  const uint64_t scale_at = tl2_scale_offset(n, k);
  float scale;
  std::memcpy(&scale, bytes.data() + scale_at, 4);
  if (!std::isfinite(scale) || scale == 0.0f)
    throw InputError(fmt::format("tensor '{}': TL2 scale {} (tensor byte {}) is not a finite non-zero number", name,
                                 scale, scale_at));
  for (uint64_t i = p.payload; i < tl2_bytes(n, k); ++i)
    if ((i < scale_at || i >= scale_at + 4) && bytes[i] != 0)
      throw InputError(fmt::format("tensor '{}': TL2 padding byte {} is {}, not 0", name, i, bytes[i]));
  CanonicalTernary w = zero_ternary(std::move(name), n, k, scale);
  const Tl2Tiling& t = p.tiling;
  const uint8_t* mag = bytes.data();
  const uint8_t* sign = mag + p.magnitudes;
  const uint8_t* two = sign + p.signs;
  const int64_t tiles = n / t.bm_tile, blocks3 = p.k3 / t.bk, rb = w.row_bytes();
  // Triples first get their magnitude (as 9*c0 + 3*c1 + c2 of |v|), then the
  // sign pass negates v = u - 13 by rewriting the codes.
  std::vector<uint8_t> value(size_t(n * (p.k3 / 3)), 0);  // |v| per triple, then v + 13
  int64_t bad = -1;
#pragma omp parallel for schedule(static)
  for (int64_t tile = 0; tile < tiles; ++tile) {
    int64_t tile_bad = -1;
    for_each_nibble_byte(t.bm_tile, blocks3, t.bk / 3, tile, [&](uint64_t off, int64_t r, int64_t g) {
      const unsigned hi = mag[off] >> 4, lo = mag[off] & 15u;
      if ((hi > 13 || lo > 13) && tile_bad < 0) tile_bad = int64_t(off);
      value[size_t(r * (p.k3 / 3) + g)] = uint8_t(hi);
      value[size_t(r * (p.k3 / 3) + g + 1)] = uint8_t(lo);
    });
    for_each_sign_bit(t.bm_tile, t.bk, blocks3, tile, [&](uint64_t off, int bit, int64_t r, int64_t g) {
      uint8_t& v = value[size_t(r * (p.k3 / 3) + g)];
      const bool negative = (sign[off + uint64_t(bit / 8)] >> (bit % 8)) & 1u;
      if (negative && v == 0 && tile_bad < 0) tile_bad = int64_t(p.magnitudes + off + uint64_t(bit / 8));
      v = uint8_t(negative ? 13 - v : 13 + v);
    });
    for (int64_t r = tile * t.bm_tile; r < (tile + 1) * t.bm_tile; ++r) {
      uint8_t* row = w.packed.data() + r * rb;
      for (int64_t g = 0; g < p.k3 / 3; ++g) {
        const unsigned u = value[size_t(r * (p.k3 / 3) + g)];
        set_code(row, 3 * g, u / 9);
        set_code(row, 3 * g + 1, (u / 3) % 3);
        set_code(row, 3 * g + 2, u % 3);
      }
    }
    if (p.k2 > 0)
      for_each_nibble_byte(t.bm_tile, p.k2 / 32, 16, tile, [&](uint64_t off, int64_t r, int64_t g) {
        const unsigned hi = two[off] >> 4, lo = two[off] & 15u;
        if ((hi > 8 || lo > 8) && tile_bad < 0) tile_bad = int64_t(p.magnitudes + p.signs + off);
        uint8_t* row = w.packed.data() + r * rb;
        set_code(row, p.k3 + 2 * g, hi / 3);
        set_code(row, p.k3 + 2 * g + 1, hi % 3);
        set_code(row, p.k3 + 2 * g + 2, lo / 3);
        set_code(row, p.k3 + 2 * g + 3, lo % 3);
      });
    if (tile_bad >= 0) {
#pragma omp critical
      if (bad < 0 || tile_bad < bad) bad = tile_bad;
    }
  }
  if (bad >= 0)
    throw InputError(fmt::format("tensor '{}': TL2 tensor byte {} holds a value no ternary weights encode to", w.name,
                                 bad));
  return w;
}

}  // namespace bitlab

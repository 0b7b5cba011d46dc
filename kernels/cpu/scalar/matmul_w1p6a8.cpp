// Ternary x int8 matmul on 1.6-bit weights, scalar variant (t1p6i8_matmul_b3__scalar).
//
// Layout "b3 rows": each row of [n, k] is ceil(k/5) bytes in the base-3 byte
// encoding of kernels/cpu/base3.h; byte b of a row holds columns 5b..5b+4 with
// column 5b as code c0 (the most significant digit). Columns past k hold code 1
// (a zero weight), so a kernel reading whole bytes adds nothing. Parts follow
// each other, rows row-major within a part. Size: n * ceil(k/5) bytes, 80% of
// the canonical 2-bit rows for k a multiple of 20.
//
// As in the 2-bit scalar kernel, each row is decoded once into int8 {-1, 0, +1}
// through a 256-entry table (one byte -> five weights), then dotted with every
// token; the int32 sums, and so y, are those of ref::matmul_w2a8.
#include <array>
#include <vector>

#include "kernels/cpu/base3.h"
#include "kernels/cpu/scalar/scalar_kernels.h"

namespace bitlab::cpu::scalar {
namespace {

using Quint = std::array<int8_t, base3::kDigits>;

// Weights (code - 1) of every byte; bytes above 242 decode to whatever the
// digit rule gives and never occur in a repacked matrix.
constexpr std::array<Quint, 256> make_decode_table() {
  std::array<Quint, 256> t{};
  for (int b = 0; b < 256; ++b)
    for (int j = 0; j < base3::kDigits; ++j) t[size_t(b)][size_t(j)] = int8_t(base3::digit(uint8_t(b), j) - 1);
  return t;
}
constexpr std::array<Quint, 256> kDecode = make_decode_table();

}  // namespace

int64_t b3_row_bytes(int64_t k) { return (k + base3::kDigits - 1) / base3::kDigits; }

size_t b3_packed_bytes(int64_t n, int64_t k) { return size_t(n * b3_row_bytes(k)); }

void b3_repack(const CanonicalTernary& w, uint8_t* out) {
  const int64_t rb = b3_row_bytes(w.k);
  for (int64_t r = 0; r < w.n; ++r)
    for (int64_t b = 0; b < rb; ++b) {
      uint8_t c[base3::kDigits];
      for (int64_t j = 0; j < base3::kDigits; ++j) {
        const int64_t i = base3::kDigits * b + j;
        c[j] = uint8_t(i < w.k ? w.at(r, i) + 1 : 1);
      }
      out[r * rb + b] = base3::encode(c);
    }
}

void b3_matmul(const MatmulArgs& a, int64_t n0, int64_t n1) {
  const int64_t rb = b3_row_bytes(a.k);
  thread_local std::vector<int8_t> row;  // decoded weights of one row
  row.resize(size_t(rb * base3::kDigits));
  for (int64_t r = n0; r < n1; ++r) {
    const uint8_t* src = a.packed + r * rb;
    for (int64_t b = 0; b < rb; ++b)
      for (int j = 0; j < base3::kDigits; ++j) row[size_t(base3::kDigits * b + j)] = kDecode[src[b]][size_t(j)];
    for (int64_t tok = 0; tok < a.t; ++tok) {
      const int8_t* x = a.xq + tok * a.k;
      int32_t acc = 0;
      for (int64_t i = 0; i < a.k; ++i) acc += int32_t(row[size_t(i)]) * int32_t(x[i]);
      a.y[tok * a.ldy + r] = float(acc) / a.s[tok] * a.w_scale;
    }
  }
}

}  // namespace bitlab::cpu::scalar

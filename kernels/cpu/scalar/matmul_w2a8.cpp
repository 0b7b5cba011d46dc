// Ternary x int8 matmul, scalar variant (t2i8_matmul__scalar).
//
// Layout: canonical (model/weights/canonical.h), parts kept as they are.
// Each row's 2-bit codes are decoded once into int8 {-1, 0, +1} through a
// 256-entry table (one byte -> four weights), then dotted with every token, so
// prefill reads the weights once per row block rather than once per token.
// Tuned for nothing in particular: the readable baseline for all shapes.
#include <array>
#include <vector>

#include "kernels/cpu/scalar/scalar_kernels.h"

namespace bitlab::cpu::scalar {
namespace {

using Quad = std::array<int8_t, 4>;

constexpr std::array<Quad, 256> make_decode_table() {
  std::array<Quad, 256> t{};
  for (int b = 0; b < 256; ++b)
    for (int j = 0; j < 4; ++j) t[size_t(b)][size_t(j)] = int8_t(((b >> (2 * j)) & 3) - 1);
  return t;
}
constexpr std::array<Quad, 256> kDecode = make_decode_table();

}  // namespace

size_t packed_bytes(int64_t n, int64_t k) { return size_t(n * ((k + 3) / 4)); }

void repack(const CanonicalTernary& w, uint8_t* out) {
  std::copy(w.packed.begin(), w.packed.end(), out);
}

void matmul(const MatmulArgs& a, int64_t n0, int64_t n1) {
  const int64_t row_bytes = (a.k + 3) / 4;
  thread_local std::vector<int8_t> row;  // decoded weights of one row
  row.resize(size_t(row_bytes * 4));
  for (int64_t r = n0; r < n1; ++r) {
    const uint8_t* src = a.packed + r * row_bytes;
    for (int64_t b = 0; b < row_bytes; ++b)
      for (int j = 0; j < 4; ++j) row[size_t(4 * b + j)] = kDecode[src[b]][size_t(j)];
    for (int64_t tok = 0; tok < a.t; ++tok) {
      const int8_t* x = a.xq + tok * a.k;
      int32_t acc = 0;
      for (int64_t i = 0; i < a.k; ++i) acc += int32_t(row[size_t(i)]) * int32_t(x[i]);
      a.y[tok * a.ldy + r] = float(acc) / a.s[tok] * a.w_scale;
    }
  }
}

}  // namespace bitlab::cpu::scalar

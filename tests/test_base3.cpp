// The base-3 byte encoding of the 1.6-bit weight layouts (kernels/cpu/base3.h),
// checked exhaustively, and the scalar 1.6-bit matmul t1p6i8_matmul_b3__scalar:
// its "b3 rows" layout round-trips to the canonical codes with zero weights past
// k and writes exactly packed_bytes, and its outputs are bit-identical to
// ref::matmul_w2a8 on odd shapes, with fused parts keeping their own rows and
// scales.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/base3.h"
#include "kernels/cpu/scalar/scalar_kernels.h"
#include "kernels/registry.h"
#include "model/reference.h"
#include "tests/test_util.h"

namespace bitlab {
namespace {

namespace b3 = cpu::base3;

// The five codes of tuple number v (0..242), c[0] most significant.
void tuple(unsigned v, uint8_t (&c)[b3::kDigits]) {
  for (int j = b3::kDigits - 1; j >= 0; --j) {
    c[j] = uint8_t(v % 3);
    v /= 3;
  }
}

TEST(Base3, EveryTupleRoundTripsThroughEncodeDecodeAndDigit) {
  std::vector<bool> seen(256, false);
  for (unsigned v = 0; v < 243; ++v) {
    uint8_t c[b3::kDigits];
    tuple(v, c);
    const uint8_t q = b3::encode(c);
    EXPECT_FALSE(seen[q]) << "two tuples share byte " << int(q);
    seen[q] = true;
    uint8_t d[b3::kDigits];
    b3::decode(q, d);
    for (int j = 0; j < b3::kDigits; ++j) {
      EXPECT_EQ(d[j], c[j]) << "decode: tuple " << v << " digit " << j;
      EXPECT_EQ(b3::digit(q, j), c[j]) << "digit: tuple " << v << " digit " << j;
    }
  }
}

TEST(Base3, ZeroByteIsFiveZeroWeights) {
  for (int j = 0; j < b3::kDigits; ++j) EXPECT_EQ(b3::digit(b3::kZeroByte, j), 1) << "digit " << j;
}

TEST(Base3, LinearIdentityHoldsForEveryByteAndDigit) {
  // c_j = (3 p_j - p_{j+1}) / 256 with p_0 = q, p_{j+1} = 3 p_j mod 256: exact
  // for every byte, not only the 243 a layout stores.
  for (unsigned q = 0; q < 256; ++q) {
    unsigned p = q;
    for (int j = 0; j < b3::kDigits; ++j) {
      const unsigned next = (3 * p) & 0xffu;
      const int diff = int(3 * p) - int(next);
      EXPECT_EQ(diff % 256, 0) << "byte " << q << " digit " << j;
      EXPECT_EQ(diff / 256, b3::digit(uint8_t(q), j)) << "byte " << q << " digit " << j;
      p = next;
    }
  }
}

// ---- the scalar 1.6-bit layout and matmul ----------------------------------------

TEST(ScalarBase3, RepackRoundTripsWithZeroPaddingPastK) {
  for (int64_t n : {1, 3, 17})
    for (int64_t k : {1, 4, 5, 6, 19, 21, 41, 2561}) {
      SCOPED_TRACE(testing::Message() << "n=" << n << " k=" << k);
      const CanonicalTernary w = test::random_matrix("w", n, k, uint64_t(n * 7919 + k), 0.5f);
      const int64_t rb = (k + 4) / 5;
      ASSERT_EQ(cpu::scalar::b3_row_bytes(k), rb);
      const size_t bytes = cpu::scalar::b3_packed_bytes(n, k);
      ASSERT_EQ(bytes, size_t(n * rb));
      // Guard bytes after the layout catch a repack that writes past packed_bytes.
      std::vector<uint8_t> packed(bytes + 64, 0xA5);
      cpu::scalar::b3_repack(w, packed.data());
      for (size_t i = bytes; i < packed.size(); ++i) ASSERT_EQ(packed[i], 0xA5) << "repack wrote past its size";
      for (int64_t r = 0; r < n; ++r)
        for (int64_t i = 0; i < 5 * rb; ++i) {
          const uint8_t q = packed[size_t(r * rb + i / 5)];
          const int want = i < k ? w.at(r, i) + 1 : 1;
          ASSERT_EQ(b3::digit(q, int(i % 5)), want) << "row " << r << " col " << i;
        }
    }
}

// Uploads `parts` fused into one weight, runs the matmul on xq/s ([t, k]) and
// checks every part bit for bit against ref::matmul_w2a8 on that part alone.
void expect_exact(Backend& be, const std::vector<CanonicalTernary>& parts, const std::vector<int8_t>& xq,
                  const std::vector<float>& s) {
  const int64_t k = parts[0].k, t = int64_t(s.size());
  std::vector<const CanonicalTernary*> ptrs;
  for (const auto& p : parts) ptrs.push_back(&p);
  const TernaryWeight w = be.upload(ptrs);
  const QuantAct x{test::upload(be, xq, DType::I8, {t, k}), test::upload(be, s, DType::F32, {t, 1})};
  std::vector<Tensor> ys;
  for (const auto& p : parts) ys.push_back(be.new_tensor(DType::F32, {t, p.n}));
  be.matmul_w2a8(x, w, ys);
  for (size_t i = 0; i < parts.size(); ++i) {
    const CanonicalTernary& p = parts[i];
    std::vector<float> want(size_t(t * p.n));
    ref::matmul_w2a8(xq.data(), s.data(), t, p.packed.data(), p.n, k, p.scale, want.data(), p.n);
    const std::vector<float> got = test::download<float>(be, ys[i]);
    for (size_t j = 0; j < got.size(); ++j)
      if (std::memcmp(&got[j], &want[j], sizeof(float)) != 0) {
        FAIL() << p.name << " [" << p.n << "x" << k << "], t=" << t << ": first mismatch at token "
               << int64_t(j) / p.n << " row " << int64_t(j) % p.n << ": got " << got[j] << ", want " << want[j];
      }
  }
}

void reference_activations(int64_t t, int64_t k, uint64_t seed, std::vector<int8_t>& xq, std::vector<float>& s) {
  const std::vector<float> x = test::random_floats(size_t(t * k), seed, 2.0f);
  xq.resize(size_t(t * k));
  s.resize(size_t(t));
  ref::quantize_act(x.data(), t, k, xq.data(), s.data());
}

std::unique_ptr<Backend> scalar_b3(int threads) {
  auto be = make_backend("scalar", BackendOptions{.threads = threads, .variants = {"t1p6i8_matmul_b3__scalar"}});
  const auto& k = be->info().kernels;
  EXPECT_NE(std::find(k.begin(), k.end(), std::pair<std::string, std::string>("matmul_w2a8", "t1p6i8_matmul_b3__scalar")),
            k.end());
  return be;
}

TEST(ScalarBase3, MatmulIsBitExactOnOddShapes) {
  const auto be = scalar_b3(2);
  for (int64_t n : {1, 3, 17, 33})
    for (int64_t k : {1, 4, 5, 6, 19, 21, 41, 2561})
      for (int64_t t : {1, 2, 7, 16, 17, 33}) {
        SCOPED_TRACE(testing::Message() << "n=" << n << " k=" << k << " t=" << t);
        std::vector<int8_t> xq;
        std::vector<float> s;
        reference_activations(t, k, uint64_t(t * 1009 + k), xq, s);
        expect_exact(*be, {test::random_matrix("w", n, k, uint64_t(n * 31 + k), 0.0371f)}, xq, s);
      }
}

TEST(ScalarBase3, FusedPartsKeepTheirOwnRowsAndScales) {
  const auto be = scalar_b3(3);
  for (int64_t t : {1, 6}) {
    std::vector<int8_t> xq;
    std::vector<float> s;
    reference_activations(t, 131, uint64_t(t), xq, s);
    expect_exact(*be,
                 {test::random_matrix("a", 13, 131, 1, 0.5f), test::random_matrix("b", 21, 131, 2, 250.0f),
                  test::random_matrix("c", 3, 131, 3, 0.01f)},
                 xq, s);
  }
}

TEST(ScalarBase3, ExtremeActivations) {
  // All +1 or all -1 weights against int8 extremes: the largest sums a row can have.
  const int64_t n = 5, k = 2561;
  const std::vector<int8_t> plus(size_t(n * k), 1), minus(size_t(n * k), -1);
  for (int8_t xv : {int8_t(-128), int8_t(127)}) {
    const std::vector<int8_t> xq(size_t(2 * k), xv);
    expect_exact(*scalar_b3(1),
                 {pack_ternary("plus", n, k, plus, 1.0f), pack_ternary("minus", n, k, minus, 1.0f)}, xq,
                 {1.0f, 0.5f});
  }
}

}  // namespace
}  // namespace bitlab

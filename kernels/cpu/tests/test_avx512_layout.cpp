// The avx512 variant's own contract (kernels/cpu/avx512/matmul_w2a8.cpp): the
// r16k16 repack round-trips to the canonical codes with zero-weight padding,
// writes exactly packed_bytes, and the matmul is bit-identical to
// ref::matmul_w2a8 on odd shapes (rows not a multiple of 16, k not a multiple
// of 4/16/64), for GEMV and GEMM token counts, fused parts included; and both
// paths of the LM head kernel agree with the reference. The GEMM's prepared
// activations follow their tile layout.
// Skipped on a CPU without AVX-512 VNNI.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/cpu/avx512/avx512_kernels.h"
#include "model/reference.h"
#include "kernels/registry.h"
#include "tests/test_util.h"

namespace bitlab {
namespace {

constexpr int64_t kRows[] = {1, 3, 17, 33};
constexpr int64_t kCols[] = {4, 12, 100, 130, 2560 + 4};
constexpr int64_t kTokens[] = {1, 3, 8, 13, 37};  // 37: two full 16-token tiles and a tail

class Avx512Layout : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const BackendEntry& e : list_backends())
      if (e.name == "avx512" && !e.probe.usable) GTEST_SKIP() << "avx512 backend not usable: " << e.probe.reason;
  }
};

TEST_F(Avx512Layout, RepackRoundTripsWithZeroPadding) {
  for (int64_t n : kRows)
    for (int64_t k : kCols) {
      SCOPED_TRACE(testing::Message() << "n=" << n << " k=" << k);
      const CanonicalTernary w = test::random_matrix("w", n, k, uint64_t(n * 7919 + k), 0.5f);
      const size_t bytes = cpu::avx512::packed_bytes(n, k);
      ASSERT_EQ(bytes % 64, 0u);
      // Guard bytes after the layout catch a repack that writes past packed_bytes.
      std::vector<uint8_t> packed(bytes + 64, 0xA5);
      cpu::avx512::repack(w, packed.data());
      for (size_t i = bytes; i < packed.size(); ++i) ASSERT_EQ(packed[i], 0xA5) << "repack wrote past its size";
      const int64_t np = (n + 15) / 16 * 16, kp = (k + 15) / 16 * 16;
      for (int64_t r = 0; r < np; ++r)
        for (int64_t i = 0; i < kp; ++i) {
          const int code = cpu::avx512::code_at(packed.data(), n, k, r, i);
          const int want = (r < n && i < k) ? w.at(r, i) + 1 : 1;
          ASSERT_EQ(code, want) << "row " << r << " col " << i;
        }
    }
}

// Random activations quantised by the reference, so xq and s are realistic.
QuantAct reference_activations(Backend& be, int64_t t, int64_t k, uint64_t seed, std::vector<int8_t>& xq,
                               std::vector<float>& s) {
  const std::vector<float> x = test::random_floats(size_t(t * k), seed, 2.0f);
  xq.resize(size_t(t * k));
  s.resize(size_t(t));
  ref::quantize_act(x.data(), t, k, xq.data(), s.data());
  return {test::upload(be, xq, DType::I8, {t, k}), test::upload(be, s, DType::F32, {t, 1})};
}

TEST_F(Avx512Layout, MatmulIsBitExactOnOddShapes) {
  std::unique_ptr<Backend> be = make_backend("avx512", BackendOptions{.threads = 2, .device = 0});
  for (int64_t n : kRows)
    for (int64_t k : kCols)
      for (int64_t t : kTokens) {
        SCOPED_TRACE(testing::Message() << "n=" << n << " k=" << k << " t=" << t);
        const CanonicalTernary w = test::random_matrix("w", n, k, uint64_t(n * 31 + k), 0.0371f);
        const TernaryWeight tw = be->upload(w);
        std::vector<int8_t> xq;
        std::vector<float> s;
        const QuantAct x = reference_activations(*be, t, k, uint64_t(t * 1009 + k), xq, s);
        Tensor y[] = {be->new_tensor(DType::F32, {t, n})};
        be->matmul_w2a8(x, tw, y);
        std::vector<float> want(size_t(t * n));
        ref::matmul_w2a8(xq.data(), s.data(), t, w.packed.data(), n, k, w.scale, want.data(), n);
        const std::vector<float> got = test::download<float>(*be, y[0]);
        ASSERT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float)));
      }
}

TEST_F(Avx512Layout, FusedPartsKeepTheirOwnRowsAndScales) {
  std::unique_ptr<Backend> be = make_backend("avx512", BackendOptions{.threads = 2, .device = 0});
  const int64_t k = 130;
  const CanonicalTernary a = test::random_matrix("a", 17, k, 1, 0.5f);
  const CanonicalTernary b = test::random_matrix("b", 33, k, 2, 0.25f);
  const CanonicalTernary c = test::random_matrix("c", 3, k, 3, 2.0f);
  const CanonicalTernary* parts[] = {&a, &b, &c};
  const TernaryWeight tw = be->upload(parts);
  for (int64_t t : {int64_t(1), int64_t(13)}) {
    std::vector<int8_t> xq;
    std::vector<float> s;
    const QuantAct x = reference_activations(*be, t, k, uint64_t(t), xq, s);
    Tensor y[] = {be->new_tensor(DType::F32, {t, a.n}), be->new_tensor(DType::F32, {t, b.n}),
                  be->new_tensor(DType::F32, {t, c.n})};
    be->matmul_w2a8(x, tw, y);
    for (size_t p = 0; p < 3; ++p) {
      const CanonicalTernary& w = *parts[p];
      std::vector<float> want(size_t(t * w.n));
      ref::matmul_w2a8(xq.data(), s.data(), t, w.packed.data(), w.n, k, w.scale, want.data(), w.n);
      const std::vector<float> got = test::download<float>(*be, y[p]);
      ASSERT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float))) << "part " << w.name;
    }
  }
}

// The GEMM's activations, prepared once per matmul (CpuKernels::prepare):
// the sums and the 16-token tiles exactly as the layout comment says, zero past
// k and past the last token, nothing written past prepared_bytes, the same
// bytes whether the token blocks are prepared in one call or one at a time in
// any order; and the kernel gives the same bits from a prepared block as when
// it prepares its own.
TEST_F(Avx512Layout, PreparedActivationsFollowTheTileLayout) {
  for (int64_t k : kCols)
    for (int64_t t : {int64_t(2), int64_t(13), int64_t(37)}) {
      SCOPED_TRACE(testing::Message() << "k=" << k << " t=" << t);
      std::vector<int8_t> xq(size_t(t * k));
      for (size_t i = 0; i < xq.size(); ++i) xq[i] = int8_t(int(i * 2654435761u >> 24) - 128);
      const size_t bytes = cpu::avx512::prepared_bytes(t, k);
      std::vector<uint8_t> whole(bytes + 64, 0xA5), blocks(bytes + 64, 0x5A);
      cpu::avx512::prepare(xq.data(), t, k, 0, t, whole.data());
      const int64_t block = cpu::CpuKernels::kPrepareTokens, n_blocks = (t + block - 1) / block;
      for (int64_t b = n_blocks - 1; b >= 0; --b)
        cpu::avx512::prepare(xq.data(), t, k, b * block, std::min(t, (b + 1) * block), blocks.data());
      for (size_t i = bytes; i < whole.size(); ++i) ASSERT_EQ(whole[i], 0xA5) << "prepare wrote past its size";
      ASSERT_EQ(0, std::memcmp(whole.data(), blocks.data(), bytes));

      const int64_t kp = (k + 15) / 16 * 16, sums_bytes = (t + 15) / 16 * 64;
      ASSERT_EQ(bytes, size_t(sums_bytes + (t + 15) / 16 * kp * 16));
      for (int64_t r = 0; r < t; ++r) {
        int32_t sum = 0;
        for (int64_t c = 0; c < k; ++c) sum += xq[size_t(r * k + c)];
        int32_t got;
        std::memcpy(&got, whole.data() + 4 * r, 4);
        ASSERT_EQ(got, sum) << "sum of token " << r;
      }
      const uint8_t* tiles = whole.data() + sums_bytes;
      for (int64_t r = 0; r < (t + 15) / 16 * 16; ++r)
        for (int64_t c = 0; c < kp; ++c) {
          const int8_t want = r < t && c < k ? xq[size_t(r * k + c)] : int8_t(0);
          const auto got = int8_t(tiles[(r / 16) * kp * 16 + (c / 4) * 64 + 4 * (r % 16) + c % 4]);
          ASSERT_EQ(got, want) << "token " << r << " column " << c;
        }

      const int64_t n = 33;
      const CanonicalTernary w = test::random_matrix("w", n, k, uint64_t(k + t), 0.5f);
      // The kernel loads weight blocks 64-byte aligned, as the backend allocates them.
      std::vector<uint8_t> packed_storage(cpu::avx512::packed_bytes(n, k) + 64);
      uint8_t* packed = packed_storage.data() + (64 - reinterpret_cast<uintptr_t>(packed_storage.data()) % 64) % 64;
      cpu::avx512::repack(w, packed);
      const std::vector<float> s(size_t(t), 3.0f);
      std::vector<float> own(size_t(t * n)), shared(size_t(t * n));
      cpu::MatmulArgs a{.packed = packed, .n = n, .k = k, .w_scale = 0.5f, .xq = xq.data(), .s = s.data(),
                        .t = t, .y = own.data(), .ldy = n};
      cpu::avx512::matmul(a, 0, n);
      a.y = shared.data();
      a.prepared = whole.data();
      cpu::avx512::matmul(a, 0, n);
      ASSERT_EQ(0, std::memcmp(own.data(), shared.data(), own.size() * sizeof(float)));
    }
}

// The LM head has a GEMV path (t = 1, one row at a time) and a tiled path
// (t > 1, 4 rows x 4 tokens); both, with row and token remainders and d tails.
TEST_F(Avx512Layout, LmHeadPathsMatchReference) {
  std::unique_ptr<Backend> be = make_backend("avx512", BackendOptions{.threads = 2, .device = 0});
  for (int64_t d : {64, 100, 2560})
    for (int64_t t : {1, 5}) {
      SCOPED_TRACE(testing::Message() << "d=" << d << " t=" << t);
      const int64_t vocab = 777;
      std::vector<uint16_t> table(size_t(vocab * d));
      test::fill_bf16(table, uint64_t(d));
      const std::vector<float> x = test::random_floats(size_t(t * d), uint64_t(t), 1.0f);
      Tensor logits = be->new_tensor(DType::F32, {t, vocab});
      be->lm_head(test::upload(*be, x, DType::F32, {t, d}), test::upload(*be, table, DType::BF16, {vocab, d}), logits);
      std::vector<float> want(size_t(t * vocab));
      ref::lm_head(x.data(), t, table.data(), vocab, d, want.data());
      EXPECT_LT(test::nmse(test::download<float>(*be, logits), want), 1e-10);
    }
}

}  // namespace
}  // namespace bitlab

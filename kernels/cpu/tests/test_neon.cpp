// The neon variant's own contract (kernels/cpu/neon/): the r8c16 repack
// round-trips to the canonical codes with zero-weight padding and writes
// exactly packed_bytes; BOTH instruction paths (Armv8-A baseline and SDOT),
// whatever the probe would pick here, give matmul outputs bit-identical to
// ref::matmul_w2a8 on odd shapes, on the 2B4T shapes and on activations at the
// int8 extremes (the accumulator overflow bounds in the kernel comments); the
// float ops that mirror the scalar variant give its bits; the tiny model runs
// end to end like `scalar`; and the probe picks the path from the CPU's hwcaps.
// The same holds for the two 1.6-bit (base-3, r4c80) matmuls, whose network
// output is the 2-bit layout's bit for bit. The dot-product paths are skipped
// on a CPU without asimddp.
#include <asm/hwcap.h>
#include <gtest/gtest.h>
#include <sys/auxv.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/cpu_backend.h"
#include "kernels/cpu/neon/neon_kernels.h"
#include "model/error.h"
#include "model/reference.h"
#include "kernels/registry.h"
#include "model/sampling.h"
#include "model/transformer.h"
#include "tests/test_util.h"

namespace bitlab {
namespace {

bool cpu_has_dotprod() { return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0; }

// ---- layout -----------------------------------------------------------------------

TEST(NeonLayout, RepackRoundTripsWithZeroPadding) {
  for (int64_t n : {1, 3, 4, 5, 8, 9, 17, 33})
    for (int64_t k : {1, 4, 15, 16, 17, 100, 130, 2564}) {
      SCOPED_TRACE(testing::Message() << "n=" << n << " k=" << k);
      const CanonicalTernary w = test::random_matrix("w", n, k, uint64_t(n * 7919 + k), 0.5f);
      const size_t bytes = cpu::neon::packed_bytes(n, k);
      ASSERT_EQ(bytes, size_t(((n + 7) / 8) * ((k + 15) / 16) * 32));
      // Guard bytes after the layout catch a repack that writes past packed_bytes.
      std::vector<uint8_t> packed(bytes + 64, 0xA5);
      cpu::neon::repack(w, packed.data());
      for (size_t i = bytes; i < packed.size(); ++i) ASSERT_EQ(packed[i], 0xA5) << "repack wrote past its size";
      const int64_t np = (n + 7) / 8 * 8, kp = (k + 15) / 16 * 16;
      for (int64_t r = 0; r < np; ++r)
        for (int64_t i = 0; i < kp; ++i) {
          const int want = (r < n && i < k) ? w.at(r, i) + 1 : 1;
          ASSERT_EQ(cpu::neon::code_at(packed.data(), n, k, r, i), want) << "row " << r << " col " << i;
        }
    }
}

TEST(NeonBase3Layout, RepackRoundTripsWithZeroPadding) {
  for (int64_t n : {1, 3, 4, 5, 9, 17})
    for (int64_t k : {1, 4, 5, 6, 16, 19, 21, 41, 79, 80, 81, 2561}) {
      SCOPED_TRACE(testing::Message() << "n=" << n << " k=" << k);
      const CanonicalTernary w = test::random_matrix("w", n, k, uint64_t(n * 7919 + k), 0.5f);
      const size_t bytes = cpu::neon::b3_packed_bytes(n, k);
      ASSERT_EQ(bytes, size_t(((n + 3) / 4) * ((k + 79) / 80) * 64));
      // Guard bytes after the layout catch a repack that writes past packed_bytes.
      std::vector<uint8_t> packed(bytes + 64, 0xA5);
      cpu::neon::b3_repack(w, packed.data());
      for (size_t i = bytes; i < packed.size(); ++i) ASSERT_EQ(packed[i], 0xA5) << "repack wrote past its size";
      const int64_t np = (n + 3) / 4 * 4, kp = (k + 79) / 80 * 80;
      for (int64_t r = 0; r < np; ++r)
        for (int64_t i = 0; i < kp; ++i) {
          const int want = (r < n && i < k) ? w.at(r, i) + 1 : 1;
          ASSERT_EQ(cpu::neon::b3_code_at(packed.data(), n, k, r, i), want) << "row " << r << " col " << i;
        }
    }
}

// ---- both instruction paths, both layouts ----------------------------------------------

struct Path {
  const char* name;
  const cpu::CpuKernels& (*kernels)();
  bool needs_dotprod;
};
// The default table with one 1.6-bit matmul pinned.
template <const char* Variant>
const cpu::CpuKernels& base3_kernels() {
  static const cpu::CpuKernels k = cpu::build_table("neon", cpu::neon_variants(), {Variant}).kernels;
  return k;
}
constexpr char kB3Baseline[] = "t1p6i8_matmul_r4c80__neon";
constexpr char kB3Dotprod[] = "t1p6i8_matmul_r4c80__neondot";
const Path kPaths[] = {{"baseline", cpu::neon_kernels, false},
                       {"dotprod", cpu::neon_dotprod_kernels, true},
                       {"base3_baseline", base3_kernels<kB3Baseline>, false},
                       {"base3_dotprod", base3_kernels<kB3Dotprod>, true}};

class NeonPath : public ::testing::TestWithParam<Path> {
 protected:
  void SetUp() override {
    if (GetParam().needs_dotprod && !cpu_has_dotprod())
      GTEST_SKIP() << "CPU lacks asimddp (the dot-product extension), so the SDOT path cannot run here";
    be_ = cpu::make_cpu_backend("neon", GetParam().kernels(), BackendOptions{.threads = 2, .device = 0});
  }
  std::unique_ptr<Backend> be_;
};

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
        const int64_t tok = int64_t(j) / p.n, row = int64_t(j) % p.n;
        FAIL() << p.name << " [" << p.n << "x" << k << "], t=" << t << ": first mismatch at token " << tok
               << " row " << row << ": got " << got[j] << ", want " << want[j] << " (acc "
               << ref::ternary_dot(p.row(row), xq.data() + tok * k, k) << ")";
      }
  }
}

// Random activations quantised by the reference, so xq and s are realistic.
void reference_activations(int64_t t, int64_t k, uint64_t seed, std::vector<int8_t>& xq, std::vector<float>& s) {
  const std::vector<float> x = test::random_floats(size_t(t * k), seed, 2.0f);
  xq.resize(size_t(t * k));
  s.resize(size_t(t));
  ref::quantize_act(x.data(), t, k, xq.data(), s.data());
}

TEST_P(NeonPath, MatmulIsBitExactOnOddShapes) {
  // Rows around the 4-row group, the 8-row tile and the 64-row GEMM block;
  // columns around the 16-column block and the 64-block int16 fold; tokens
  // around the 4-token GEMM tile.
  for (int64_t n : {1, 4, 5, 8, 9, 17, 70})
    for (int64_t k : {1, 15, 16, 17, 63, 100, 1040})
      for (int64_t t : {1, 2, 3, 4, 5, 9}) {
        SCOPED_TRACE(testing::Message() << "n=" << n << " k=" << k << " t=" << t);
        std::vector<int8_t> xq;
        std::vector<float> s;
        reference_activations(t, k, uint64_t(t * 1009 + k), xq, s);
        expect_exact(*be_, {test::random_matrix("w", n, k, uint64_t(n * 31 + k), 0.0371f)}, xq, s);
      }
}

TEST_P(NeonPath, MatmulIsBitExactOnBase3Shapes) {
  // Columns around the 5-weight byte and the 80-column block of the base-3
  // layout; rows around its 4-row tile; tokens around the 4-token tile.
  for (int64_t n : {1, 3, 5, 70})
    for (int64_t k : {1, 4, 5, 6, 19, 21, 41, 79, 80, 81, 2561})
      for (int64_t t : {1, 2, 7, 16, 17, 33}) {
        SCOPED_TRACE(testing::Message() << "n=" << n << " k=" << k << " t=" << t);
        std::vector<int8_t> xq;
        std::vector<float> s;
        reference_activations(t, k, uint64_t(t * 1013 + k), xq, s);
        expect_exact(*be_, {test::random_matrix("w", n, k, uint64_t(n * 37 + k), 0.0371f)}, xq, s);
      }
}

TEST_P(NeonPath, FusedPartsKeepTheirOwnRowsAndScales) {
  for (int64_t t : {1, 6}) {
    std::vector<int8_t> xq;
    std::vector<float> s;
    reference_activations(t, 130, uint64_t(t), xq, s);
    expect_exact(*be_,
                 {test::random_matrix("a", 13, 130, 1, 0.5f), test::random_matrix("b", 8, 130, 2, 250.0f),
                  test::random_matrix("c", 3, 130, 3, 0.01f)},
                 xq, s);
  }
}

TEST_P(NeonPath, MatmulIsBitExactOn2b4tShapes) {
  // Fused QKV (2560+640+640) x 2560, o 2560 x 2560, fused gate/up
  // (6912+6912) x 2560 and down 2560 x 6912, for decode and small prefills.
  std::vector<int8_t> xq;
  std::vector<float> s;
  const std::vector<CanonicalTernary> qkv = {test::random_matrix("q", 2560, 2560, 11, 0.02f),
                                             test::random_matrix("k", 640, 2560, 12, 0.03f),
                                             test::random_matrix("v", 640, 2560, 13, 0.04f)};
  for (int64_t t : {1, 6}) {
    reference_activations(t, 2560, 100 + uint64_t(t), xq, s);
    expect_exact(*be_, qkv, xq, s);
  }
  reference_activations(1, 2560, 7, xq, s);
  expect_exact(*be_, {test::random_matrix("o", 2560, 2560, 14, 0.02f)}, xq, s);
  expect_exact(*be_,
               {test::random_matrix("gate", 6912, 2560, 15, 0.02f), test::random_matrix("up", 6912, 2560, 16, 0.03f)},
               xq, s);
  for (int64_t t : {1, 3}) {
    reference_activations(t, 6912, 200 + uint64_t(t), xq, s);
    expect_exact(*be_, {test::random_matrix("down", 2560, 6912, 17, 0.01f)}, xq, s);
  }
}

TEST_P(NeonPath, ExtremeActivationsDoNotOverflow) {
  // Every weight +1 (code 2) against every activation -128 or 127 drives each
  // accumulator lane to its bound: the baseline's int16 lanes reach -32768 at
  // the 64-block fold, and the SDOT path's x16 row reaches its chunk bound at
  // k = 16 * 2^14; mixed signs and an all -1 matrix check the other corners.
  for (int64_t k : {1024, 1040, 4096, 16 * 16384 + 48}) {
    const int64_t n = 9;
    std::vector<int8_t> plus(size_t(n * k), 1), minus(size_t(n * k), -1), mixed(size_t(n * k));
    for (size_t i = 0; i < mixed.size(); ++i) mixed[i] = int8_t(i % 3 == 0 ? -1 : 1);
    for (int8_t xv : {int8_t(-128), int8_t(127)})
      for (int64_t t : {1, 2}) {
        SCOPED_TRACE(testing::Message() << "k=" << k << " x=" << int(xv) << " t=" << t);
        const std::vector<int8_t> xq(size_t(t * k), xv);
        const std::vector<float> s(size_t(t), 1.0f);
        expect_exact(*be_,
                     {pack_ternary("plus", n, k, plus, 1.0f), pack_ternary("minus", n, k, minus, 1.0f),
                      pack_ternary("mixed", n, k, mixed, 1.0f)},
                     xq, s);
      }
  }
}

TEST_P(NeonPath, ElementwiseOpsGiveTheScalarBits) {
  // relu2_mul and add mirror the scalar variant's fp32 operations, so they must
  // match it exactly (tails included).
  auto scalar = make_backend("scalar", BackendOptions{.threads = 2, .device = 0});
  for (int64_t n : {1, 7, 8, 9, 4096 + 3}) {
    auto g = test::random_floats(size_t(n), uint64_t(n)), u = test::random_floats(size_t(n), uint64_t(n) + 9);
    if (n > 2) g[1] = -0.0f;
    auto run = [&](Backend& be) {
      Tensor gt = be.upload_tensor(g.data(), DType::F32, {1, n}), ut = be.upload_tensor(u.data(), DType::F32, {1, n});
      Tensor y = be.new_tensor(DType::F32, {1, n}), z = be.new_tensor(DType::F32, {1, n});
      be.relu2_mul(gt, ut, y);
      be.add(gt, ut, z);
      return std::make_pair(test::download<float>(be, y), test::download<float>(be, z));
    };
    const auto got = run(*be_), want = run(*scalar);
    EXPECT_EQ(0, std::memcmp(got.first.data(), want.first.data(), size_t(n) * 4)) << "relu2_mul n=" << n;
    EXPECT_EQ(got.second, want.second) << "add n=" << n;
  }
}

TEST_P(NeonPath, TinyModelEndToEndMatchesScalar) {
  // Greedy generation gives scalar's tokens, and every position's logits give
  // scalar's argmax. The logits differ from scalar's only through float
  // summation order (rmsnorm sums its squares in two-lane double here, the LM
  // head in four-lane fp32; scalar sums both sequentially); int8 activations,
  // matmul accumulators, relu2_mul and add are the same on both.
  const ModelWeights w = synthetic_weights(config_by_name("tiny"), 5);
  auto scalar = make_backend("scalar", BackendOptions{.threads = 2, .device = 0});
  SplitMix64 g(99);
  std::vector<int32_t> prompt{w.config.bos};
  while (prompt.size() < 12) prompt.push_back(int32_t(3 + g.next() % uint64_t(w.config.vocab - 3)));

  Transformer mine(*be_, w, 64), theirs(*scalar, w, 64);
  const auto got = mine.forward(prompt, true), want = theirs.forward(prompt, true);
  ASSERT_EQ(got.size(), want.size());
  const auto vocab = size_t(w.config.vocab);
  for (size_t p = 0; p < prompt.size(); ++p) {
    const auto row = [&](const std::vector<float>& l) {
      return std::max_element(l.begin() + long(p * vocab), l.begin() + long((p + 1) * vocab)) - l.begin();
    };
    EXPECT_EQ(row(got), row(want)) << "argmax at position " << p;
  }
  // Measured 4.7e-14 on both paths (GCC 12, qemu cortex-a76).
  EXPECT_LT(test::nmse(got, want), 1e-12);

  mine.reset();
  theirs.reset();
  EXPECT_EQ(generate(mine, prompt, 24, SamplingParams{}).tokens, generate(theirs, prompt, 24, SamplingParams{}).tokens);
}

TEST(NeonPaths, GiveBitIdenticalLogitsEndToEnd) {
  // The paths differ only in how the int32 accumulators are formed, and those
  // are exact: the whole network must agree bit for bit.
  if (!cpu_has_dotprod()) GTEST_SKIP() << "CPU lacks asimddp (the dot-product extension): only one path runs here";
  const ModelWeights w = synthetic_weights(config_by_name("tiny"), 7);
  auto base = cpu::make_cpu_backend("neon", cpu::neon_kernels(), BackendOptions{.threads = 2, .device = 0});
  auto dot = cpu::make_cpu_backend("neon", cpu::neon_dotprod_kernels(), BackendOptions{.threads = 2, .device = 0});
  const std::vector<int32_t> prompt = {w.config.bos, 17, 4, 99, 250, 3, 400};
  Transformer a(*base, w, 16), b(*dot, w, 16);
  const auto la = a.forward(prompt, true), lb = b.forward(prompt, true);
  ASSERT_EQ(la.size(), lb.size());
  EXPECT_EQ(0, std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)));
  const int32_t next[] = {5};
  const auto da = a.forward(next), db = b.forward(next);
  EXPECT_EQ(0, std::memcmp(da.data(), db.data(), da.size() * sizeof(float)));
}

TEST(NeonPaths, Base3GivesTheTwoBitLogitsBitForBit) {
  // Both 1.6-bit paths against the 2-bit baseline path: exact accumulators in
  // every layout, so the whole network agrees bit for bit.
  const ModelWeights w = synthetic_weights(config_by_name("tiny"), 7);
  auto two = cpu::make_cpu_backend("neon", cpu::neon_kernels(), BackendOptions{.threads = 2, .device = 0});
  const std::vector<int32_t> prompt = {w.config.bos, 17, 4, 99, 250, 3, 400};
  const int32_t next[] = {5};
  Transformer a(*two, w, 16);
  const auto la = a.forward(prompt, true), da = a.forward(next);
  int ran = 0;
  for (const Path& p : {kPaths[2], kPaths[3]}) {
    if (p.needs_dotprod && !cpu_has_dotprod()) continue;
    SCOPED_TRACE(p.name);
    auto b3 = cpu::make_cpu_backend("neon", p.kernels(), BackendOptions{.threads = 2, .device = 0});
    Transformer b(*b3, w, 16);
    const auto lb = b.forward(prompt, true), db = b.forward(next);
    ASSERT_EQ(la.size(), lb.size());
    EXPECT_EQ(0, std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)));
    ASSERT_EQ(da.size(), db.size());
    EXPECT_EQ(0, std::memcmp(da.data(), db.data(), da.size() * sizeof(float)));
    ++ran;
  }
  EXPECT_GT(ran, 0);
}

std::string path_name(const ::testing::TestParamInfo<Path>& info) { return info.param.name; }
INSTANTIATE_TEST_SUITE_P(Both, NeonPath, ::testing::ValuesIn(kPaths), path_name);

// ---- the probe ------------------------------------------------------------------------

BackendProbe neon_probe() {
  for (const BackendEntry& e : list_backends())
    if (e.name == "neon") return e.probe;
  ADD_FAILURE() << "neon is not in the registry of an aarch64 build";
  return {};
}

TEST(NeonBackend, ProbePicksThePathFromHwcaps) {
  const bool dot = cpu_has_dotprod();
  const BackendProbe p = neon_probe();
  EXPECT_TRUE(p.usable) << p.reason;
  EXPECT_NE(p.reason.find(dot ? "neon-dotprod" : "lacks asimddp"), std::string::npos) << p.reason;
  EXPECT_EQ(make_backend("neon")->info().variant, dot ? "neon-dotprod" : "neon");
  std::printf("neon path on this CPU: %s\n", make_backend("neon")->info().variant.c_str());
}

TEST(NeonBackend, OnePointSixBitsRunTheDotProductPathWhereItCan) {
  const auto be = make_backend("neon", BackendOptions{.threads = 1, .device = 0, .weight_bits = WeightBits::OnePointSix});
  const std::pair<std::string, std::string> want{"matmul_w2a8", cpu_has_dotprod() ? kB3Dotprod : kB3Baseline};
  const auto& k = be->info().kernels;
  EXPECT_NE(std::find(k.begin(), k.end(), want), k.end()) << want.second;
  EXPECT_EQ(be->info().variant, cpu_has_dotprod() ? "neon-dotprod" : "neon");
}

TEST(NeonBackend, PinCanForceTheBaselinePath) {
  const BackendOptions base{.threads = 0, .device = 0, .variants = {"t2i8_matmul_r8c16__neon"}};
  EXPECT_EQ(make_backend("neon", base)->info().variant, "neon");
  const BackendOptions dot{.threads = 0, .device = 0, .variants = {"t2i8_matmul_r8c16__neondot"}};
  if (cpu_has_dotprod())
    EXPECT_EQ(make_backend("neon", dot)->info().variant, "neon-dotprod");
  else
    EXPECT_THROW(make_backend("neon", dot), DeviceError);
}

}  // namespace
}  // namespace bitlab

// The Vulkan matmul on 1.6-bit weights (b3x80, kernels/vulkan/weights.h): the
// layout round trip and each weight's documented byte and digit; outputs bit
// for bit equal to ref::matmul_w2a8 on both dot paths in both shader forms,
// on odd shapes, unaligned activations, rows that end inside a block and fused
// parts; the variants as the registry lists them; and a model forward through
// make_backend's weight_bits giving the same logits as the 2-bit layout.
#include <gtest/gtest.h>

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernels/cpu/base3.h"
#include "kernels/registry.h"
#include "kernels/vulkan/device.h"
#include "kernels/vulkan/vulkan_backend.h"
#include "kernels/vulkan/weights.h"
#include "model/transformer.h"
#include "tests/test_util.h"

namespace bitlab {
namespace {

using test::random_matrix;

bool vulkan_usable(std::string* why) {
  for (const BackendEntry& e : list_backends())
    if (e.name == "vulkan") {
      if (!e.probe.usable) *why = e.probe.reason;
      return e.probe.usable;
    }
  *why = "not in the registry";
  return false;
}

// The kernel variant a backend runs for matmul_w2a8.
std::string matmul_kernel(const Backend& be) {
  for (const auto& [op, kernel] : be.info().kernels)
    if (op == "matmul_w2a8") return kernel;
  return "";
}

#define SKIP_WITHOUT_VULKAN()                                              \
  do {                                                                     \
    std::string why;                                                       \
    if (!vulkan_usable(&why)) GTEST_SKIP() << "no Vulkan device: " << why; \
  } while (0)

TEST(VulkanBase3, LayoutRoundTripsWithZeroPadding) {
  for (int64_t n : {1, 3, 7})
    for (int64_t k : {1, 5, 16, 21, 67, 79, 80, 81, 2561}) {
      const std::vector<int8_t> values = test::random_ternary(size_t(n * k), uint64_t(n * 1000 + k));
      const CanonicalTernary c = pack_ternary("w", n, k, values, 1.0f);
      const std::vector<uint32_t> words = vk::repack_b3x80(c);
      ASSERT_EQ(words.size(), size_t(n * vk::b3_words_per_row(k)));
      EXPECT_EQ(vk::unpack_b3x80(words.data(), n, k), values) << "n=" << n << " k=" << k;
      // Weights past k, up to the block's end, are zero: they add nothing to a dot product.
      const int64_t kp = vk::b3_words_per_row(k) * 20;
      const std::vector<int8_t> padded = vk::unpack_b3x80(words.data(), n, kp);
      for (int64_t r = 0; r < n; ++r)
        for (int64_t i = k; i < kp; ++i) ASSERT_EQ(padded[size_t(r * kp + i)], 0) << "row " << r << " index " << i;
    }
}

TEST(VulkanBase3, EachWeightSitsInItsDocumentedByteAndDigit) {
  // One nonzero weight in a row of zeros: exactly one byte is not the zero
  // byte, byte m = i % 16 of block i / 80, and its digit (i % 80) / 16 is the code.
  const int64_t k = 250;
  for (int64_t i : {0, 1, 15, 16, 17, 63, 64, 79, 80, 95, 159, 160, 249})
    for (int8_t v : {int8_t(-1), int8_t(1)}) {
      std::vector<int8_t> values(size_t(k), 0);
      values[size_t(i)] = v;
      const std::vector<uint32_t> words = vk::repack_b3x80(pack_ternary("w", 1, k, values, 1.0f));
      std::vector<uint8_t> bytes(words.size() * 4);
      std::memcpy(bytes.data(), words.data(), bytes.size());  // little-endian: byte 4w + b is byte b of word w
      const size_t at = size_t(i / 80 * 16 + i % 16);
      for (size_t b = 0; b < bytes.size(); ++b) {
        if (b == at) continue;
        ASSERT_EQ(bytes[b], cpu::base3::kZeroByte) << "weight " << i << ": byte " << b;
      }
      uint8_t codes[cpu::base3::kDigits] = {1, 1, 1, 1, 1};
      codes[(i % 80) / 16] = uint8_t(v + 1);
      EXPECT_EQ(bytes[at], cpu::base3::encode(codes)) << "weight " << i;
    }
}

struct Path {
  const char* name;
  vk::DotPath dot;
  int64_t gemv_max_tokens;  // 0: every matmul runs the GEMM shader; large: every one the GEMV shader
};
void PrintTo(const Path& p, std::ostream* os) { *os << p.name; }
const Path kPaths[] = {
    {"int_dot_gemv", vk::DotPath::IntegerDot, 1 << 20},
    {"int_dot_gemm", vk::DotPath::IntegerDot, 0},
    {"portable_gemv", vk::DotPath::Portable, 1 << 20},
    {"portable_gemm", vk::DotPath::Portable, 0},
};
std::string path_name(const ::testing::TestParamInfo<Path>& info) { return info.param.name; }

class VulkanBase3Matmul : public ::testing::TestWithParam<Path> {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_VULKAN();
    if (GetParam().dot == vk::DotPath::IntegerDot && !vk::Device::open(0)->caps().int_dot)
      GTEST_SKIP() << "device 0 reports no integer dot product; the portable path covers it";
    vk::VulkanOptions o;
    o.dot = GetParam().dot;
    o.gemv_max_tokens = GetParam().gemv_max_tokens;
    o.matmul_bits = WeightBits::OnePointSix;
    be_ = vk::make_backend(o);
    ASSERT_EQ(matmul_kernel(*be_).rfind("t1p6i8_", 0), 0u) << matmul_kernel(*be_);
  }
  std::unique_ptr<Backend> be_;
};

TEST_P(VulkanBase3Matmul, BitExactOnOddShapesAndOffsets) {
  // n = 33: not a whole number of GEMV workgroups (8 or 32 rows) nor GEMM tiles (128).
  for (int64_t n : {1, 33, 130})
    for (int64_t k : {1, 5, 21, 67, 80, 2561})
      for (int64_t t : {1, 3, 5, 17})
        for (int64_t row0 : {0, 1}) {
          // Activations row0 rows into their buffer: odd k puts them at odd byte offsets.
          SCOPED_TRACE("n=" + std::to_string(n) + " k=" + std::to_string(k) + " t=" + std::to_string(t) +
                       " row0=" + std::to_string(row0));
          test::matmul_exact(*be_, {random_matrix("w", n, k, uint64_t(n * 131 + k), 0.05f)}, t,
                             uint64_t(t * 7 + k + row0), {2.0f, size_t(row0 * k)});
        }
}

TEST_P(VulkanBase3Matmul, BitExactOnWholeBlockRowsAndFusedParts) {
  // k = 160 and 2560: rows of whole blocks read in place; k = 6912 (the down
  // projection) and 176 read in place but end inside a block.
  for (int64_t k : {160, 176})
    test::matmul_exact(*be_, {random_matrix("a", 40, k, uint64_t(k), 0.1f), random_matrix("b", 9, k, 2, 3.0f)}, 5,
                       uint64_t(k + 1), {2.0f});
  test::matmul_exact(*be_,
                     {random_matrix("q", 2560, 2560, 21, 0.02f), random_matrix("k", 640, 2560, 22, 0.5f),
                      random_matrix("v", 640, 2560, 23, 40.0f)},
                     2, 5, {2.0f});
  test::matmul_exact(*be_, {random_matrix("down", 2560, 6912, 24, 0.01f)}, 1, 6, {2.0f});
}

INSTANTIATE_TEST_SUITE_P(Paths, VulkanBase3Matmul, ::testing::ValuesIn(kPaths), path_name);

TEST(VulkanBase3, VariantsAreListedWithTheirBitsAndNeverDefault) {
  SKIP_WITHOUT_VULKAN();
  int listed = 0;
  for (const KernelVariant& v : kernel_variants("vulkan")) {
    const bool b3 = v.name == vk::kMatmulB3IntDot || v.name == vk::kMatmulB3Portable;
    if (!b3) {
      EXPECT_EQ(v.weight_bits, WeightBits::Two) << v.name;
      continue;
    }
    ++listed;
    EXPECT_EQ(v.op, "matmul_w2a8");
    EXPECT_EQ(v.weight_bits, WeightBits::OnePointSix) << v.name;
    EXPECT_FALSE(v.is_default) << v.name;
  }
  EXPECT_EQ(listed, 2);
  // Pinning one picks the layout at upload and the shader at run.
  auto pinned = make_backend("vulkan", BackendOptions{.variants = {vk::kMatmulB3Portable}});
  EXPECT_EQ(matmul_kernel(*pinned), vk::kMatmulB3Portable);
  const CanonicalTernary w = random_matrix("w", 3, 200, 1, 1.0f);
  EXPECT_EQ(pinned->upload(w).packed.bytes(), size_t(3 * vk::b3_words_per_row(200) * 4));
  test::matmul_exact(*pinned, {w}, 2, 3);
  // Nothing asked: the 2-bit layout.
  auto plain = make_backend("vulkan", BackendOptions{});
  EXPECT_EQ(plain->upload(w).packed.bytes(), size_t(3 * vk::words_per_row(200) * 4));
}

TEST(VulkanBase3, ModelForwardEqualsThe2BitLayout) {
  SKIP_WITHOUT_VULKAN();
  auto two = make_backend("vulkan", BackendOptions{});
  auto b3 = make_backend("vulkan", BackendOptions{.weight_bits = WeightBits::OnePointSix});
  ASSERT_EQ(matmul_kernel(*b3).rfind("t1p6i8_", 0), 0u) << matmul_kernel(*b3);
  const ModelWeights w = synthetic_weights(config_by_name("tiny"), 3);
  Transformer want(*two, w, 16), got(*b3, w, 16);
  EXPECT_LT(got.layer_weight_bytes(), want.layer_weight_bytes());
  // A prompt (GEMM) then decode steps (GEMV): every logit the same bits.
  const std::vector<int32_t> prompt = {w.config.bos, 7, 11, 13, 17, 19, 23};
  const std::vector<float> a = got.forward(prompt, true), b = want.forward(prompt, true);
  ASSERT_EQ(a.size(), b.size());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * 4), 0) << "prompt logits differ";
  for (int32_t tok : {5, 9, 2}) {
    const std::vector<int32_t> one = {tok};
    const std::vector<float> x = got.forward(one), y = want.forward(one);
    ASSERT_EQ(x.size(), y.size());
    EXPECT_EQ(std::memcmp(x.data(), y.data(), x.size() * 4), 0) << "decode logits differ after token " << tok;
  }
}

}  // namespace
}  // namespace bitlab

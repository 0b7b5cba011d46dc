// The Vulkan backend beyond what the every-backend tests (test_backend_ops,
// test_transformer) check on its default path: both matmul paths (integer dot
// products and portable int32 arithmetic) in both shader forms (GEMV and GEMM)
// bit-exact on odd sizes, unaligned activations and fused parts; the exact
// division on scales spanning many binades; the t2x16 layout round trip;
// greedy tokens identical to the scalar backend on both paths; device
// selection, a missing driver and a failed allocation as clear errors;
// timestamps; and that the validation layer is listening, with zero messages
// over the whole run when it is on (BITLAB_VULKAN_VALIDATION=1).
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kernels/vulkan/buffer.h"
#include "kernels/vulkan/device.h"
#include "kernels/vulkan/vulkan_backend.h"
#include "kernels/vulkan/weights.h"
#include "model/error.h"
#include "model/reference.h"
#include "kernels/registry.h"
#include "model/sampling.h"
#include "model/transformer.h"
#include "tests/test_util.h"
#include "tests/paths.h"

namespace bitlab {
namespace {

using test::download;
using test::random_matrix;

// Validation messages this file provokes on purpose (ValidationLayerIsListening).
uint64_t g_provoked_messages = 0;

bool vulkan_usable(std::string* why) {
  for (const BackendEntry& e : list_backends())
    if (e.name == "vulkan") {
      if (!e.probe.usable && why) *why = e.probe.reason;
      return e.probe.usable;
    }
  if (why) *why = "not in the registry";
  return false;
}

#define SKIP_WITHOUT_VULKAN()                                          \
  do {                                                                 \
    std::string why;                                                   \
    if (!vulkan_usable(&why)) GTEST_SKIP() << "no Vulkan device: " << why; \
  } while (0)

// At the end of the run: a validated run must have seen no message but the provoked ones.
class ValidationGate : public ::testing::Environment {
 public:
  void TearDown() override {
    if (!vk::validation_requested()) return;
    EXPECT_EQ(vk::validation_message_count(), g_provoked_messages)
        << "the Vulkan validation layer reported messages (printed above as 'vulkan validation: ...')";
  }
};
const auto* const kGate = ::testing::AddGlobalTestEnvironment(new ValidationGate);

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

std::unique_ptr<Backend> make_path_backend(const Path& p) {
  vk::VulkanOptions o;
  o.dot = p.dot;
  o.gemv_max_tokens = p.gemv_max_tokens;
  return vk::make_backend(o);
}

class VulkanMatmul : public ::testing::TestWithParam<Path> {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_VULKAN();
    if (GetParam().dot == vk::DotPath::IntegerDot && !vk::Device::open(0)->caps().int_dot)
      GTEST_SKIP() << "device 0 reports no integer dot product; the portable path covers it";
    be_ = make_path_backend(GetParam());
  }
  std::unique_ptr<Backend> be_;
};

TEST_P(VulkanMatmul, BitExactOnOddShapesAndOffsets) {
  for (int64_t n : {1, 17, 64, 65, 130})
    for (int64_t k : {5, 16, 63, 100, 257})
      for (int64_t t : {1, 3, 33})
        for (int64_t row0 : {0, 1}) {
          // Activations row0 rows into their buffer: odd k puts them at odd byte offsets.
          SCOPED_TRACE("n=" + std::to_string(n) + " k=" + std::to_string(k) + " t=" + std::to_string(t) +
                       " row0=" + std::to_string(row0));
          test::matmul_exact(*be_, {random_matrix("w", n, k, uint64_t(n * 131 + k), 0.05f)}, t,
                             uint64_t(t * 7 + k + row0), {2.0f, size_t(row0 * k)});
        }
}

TEST_P(VulkanMatmul, BitExactOn2b4tShapesWithFusedParts) {
  test::matmul_exact(*be_,
                     {random_matrix("q", 2560, 2560, 21, 0.02f), random_matrix("k", 640, 2560, 22, 0.5f),
                      random_matrix("v", 640, 2560, 23, 40.0f)},
                     2, 5, {2.0f});
  test::matmul_exact(*be_, {random_matrix("down", 2560, 6912, 24, 0.01f)}, 1, 6, {2.0f});
}

std::string path_name(const ::testing::TestParamInfo<Path>& info) { return info.param.name; }
// The int8 head on both dot paths: word-aligned rows (the words shaders) and
// rows at byte offsets that are not multiples of 4 or of odd width (the bytes
// shader), bit for bit. Whole-row offsets first, then, at d = 100, x and the
// table each at byte offset 1 (bytes shader) or 4 (words shaders).
TEST_P(VulkanMatmul, Int8HeadIsBitExactOnBothLayouts) {
  const int64_t vocab = 37, t = 5;
  for (int64_t d : {64, 2560, 63, 100})
    for (int64_t row0 : {0, 1}) {
      SCOPED_TRACE("d=" + std::to_string(d) + " row0=" + std::to_string(row0));
      test::lm_head_i8_exact(*be_, vocab, d, t, uint64_t(d), {2.0f, size_t(row0 * d), size_t(row0 * d)});
    }
  for (size_t x_offset : {size_t{1}, size_t{4}})
    for (size_t table_offset : {size_t{1}, size_t{4}}) {
      SCOPED_TRACE("d=100 x_offset=" + std::to_string(x_offset) + " table_offset=" + std::to_string(table_offset));
      test::lm_head_i8_exact(*be_, vocab, 100, t, 100 + x_offset * 8 + table_offset, {2.0f, x_offset, table_offset});
    }
}

INSTANTIATE_TEST_SUITE_P(Paths, VulkanMatmul, ::testing::ValuesIn(kPaths), path_name);

// Both models end to end on each dot path, with the default shader choice
// (prompts through the GEMM shader, decode steps through the GEMV shader):
// the same greedy tokens as the scalar CPU backend.
const Path kModelPaths[] = {{"int_dot", vk::DotPath::IntegerDot, vk::VulkanOptions{}.gemv_max_tokens},
                            {"portable", vk::DotPath::Portable, vk::VulkanOptions{}.gemv_max_tokens}};
class VulkanModel : public VulkanMatmul {};

TEST_P(VulkanModel, GreedyTokensEqualTheScalarBackend) {
  for (const char* config : {"tiny", "2b4t-1layer"}) {
    SCOPED_TRACE(config);
    const ModelWeights w = synthetic_weights(config_by_name(config), 3);
    const std::vector<int32_t> prompt = {w.config.bos, 7, 11, 13, 17, 19, 23};
    auto scalar = make_backend("scalar", BackendOptions{.threads = 2, .device = 0});
    Transformer want_model(*scalar, w, 16);
    const auto want = generate(want_model, prompt, 6, SamplingParams{}).tokens;
    Transformer got_model(*be_, w, 16);
    EXPECT_EQ(generate(got_model, prompt, 6, SamplingParams{}).tokens, want);
  }
}

INSTANTIATE_TEST_SUITE_P(Paths, VulkanModel, ::testing::ValuesIn(kModelPaths), path_name);

TEST(Vulkan, StagingPathAsOnADiscreteGpu) {
  // Device memory left unmapped: every write and read goes through the
  // staging buffer (or inline updates), as on a discrete GPU.
  SKIP_WITHOUT_VULKAN();
  vk::VulkanOptions o;
  o.map_memory = false;
  auto be = vk::make_backend(o);
  const std::shared_ptr<Buffer> buf = be->alloc(3 << 20);
  ASSERT_FALSE(dynamic_cast<vk::VulkanBuffer&>(*buf).mapped());
  std::vector<uint8_t> bytes(size_t(3) << 20);
  SplitMix64 g(5);
  for (uint8_t& b : bytes) b = uint8_t(g.next());
  buf->write(bytes.data(), 0, bytes.size());          // large: staged
  buf->write(bytes.data() + 7, 3, 1);                  // one byte at an odd offset: staged
  bytes[3] = bytes[7];
  buf->write(bytes.data() + 100, 1000, 70000);         // above the inline limit
  std::copy(bytes.begin() + 100, bytes.begin() + 70100, bytes.begin() + 1000);
  buf->write(bytes.data() + 64, 4096, 256);            // inline (vkCmdUpdateBuffer)
  std::copy(bytes.begin() + 64, bytes.begin() + 320, bytes.begin() + 4096);
  std::vector<uint8_t> back(bytes.size());
  buf->read(back.data(), 0, back.size());
  EXPECT_TRUE(back == bytes);
  std::vector<uint8_t> part(5);
  buf->read(part.data(), 4095, 5);
  EXPECT_TRUE(std::equal(part.begin(), part.end(), bytes.begin() + 4095));

  // Activations one row (100 bytes) into their buffer.
  test::matmul_exact(*be, {random_matrix("q", 40, 100, 1, 0.01f), random_matrix("k", 9, 100, 2, 3.0f)}, 3, 9,
                     {2.0f, 100});
  const ModelWeights w = synthetic_weights(config_by_name("tiny"), 3);
  const std::vector<int32_t> prompt = {w.config.bos, 7, 11, 13, 17, 19, 23};
  auto scalar = make_backend("scalar", BackendOptions{.threads = 2, .device = 0});
  Transformer want(*scalar, w, 16), got(*be, w, 16);
  EXPECT_EQ(generate(got, prompt, 6, SamplingParams{}).tokens, generate(want, prompt, 6, SamplingParams{}).tokens);
}

TEST(Vulkan, QuantizeScalesAreTrueDivisionsAcrossBinades) {
  // s = 127 / absmax needs a correctly rounded division (the shader builds it
  // from integer long division). Rows of 3 values whose absmax spans 2^-40 ..
  // 2^40 with random significands: every scale and every int8 must match.
  SKIP_WITHOUT_VULKAN();
  auto be = make_backend("vulkan", BackendOptions{.threads = 0, .device = 0});
  const int64_t t = 4096, k = 3;
  SplitMix64 g(77);
  std::vector<float> x(size_t(t * k));
  for (int64_t r = 0; r < t; ++r) {
    const float mag = std::ldexp(1.0f + float(g.next() % (1u << 23)) / float(1u << 23), int(g.next() % 81) - 40);
    x[size_t(r * k)] = mag * (g.next() % 2 ? 1.0f : -1.0f);
    x[size_t(r * k + 1)] = mag * float(g.next() % 1000) / 1000.0f;
    x[size_t(r * k + 2)] = -mag * 0.5f;
  }
  const Tensor xt = be->upload_tensor(x.data(), DType::F32, {t, k});
  QuantAct q{be->new_tensor(DType::I8, {t, k}), be->new_tensor(DType::F32, {t, 1})};
  be->quantize_act(xt, q);
  std::vector<int8_t> want_q(size_t(t * k));
  std::vector<float> want_s(static_cast<size_t>(t));
  ref::quantize_act(x.data(), t, k, want_q.data(), want_s.data());
  const auto got_s = download<float>(*be, q.scale);
  size_t bad = 0;
  for (int64_t r = 0; r < t; ++r)
    if (std::memcmp(&got_s[size_t(r)], &want_s[size_t(r)], 4) != 0 && bad++ < 3)
      ADD_FAILURE() << "row " << r << ": absmax " << std::fabs(x[size_t(r * k)]) << " gives s = " << got_s[size_t(r)]
                    << ", want " << want_s[size_t(r)];
  EXPECT_EQ(bad, 0u);
  EXPECT_EQ(download<int8_t>(*be, q.q), want_q);
}

TEST(Vulkan, WeightLayoutRoundTrips) {
  for (int64_t n : {1, 3, 40})
    for (int64_t k : {1, 4, 15, 16, 17, 100, 2560}) {
      const std::vector<int8_t> values = test::random_ternary(size_t(n * k), uint64_t(n * 1000 + k));
      const CanonicalTernary c = pack_ternary("w", n, k, values, 1.0f);
      const std::vector<uint32_t> words = vk::repack_t2x16(c);
      ASSERT_EQ(words.size(), size_t(n * vk::words_per_row(k)));
      EXPECT_EQ(vk::unpack_t2x16(words.data(), n, k), values) << "n=" << n << " k=" << k;
      // Weights past k (rows are padded to 64) are code 1 (T = 0): they add nothing to a dot product.
      if (k % 64) {
        const std::vector<int8_t> padded = vk::unpack_t2x16(words.data(), n, vk::words_per_row(k) * 16);
        for (int64_t r = 0; r < n; ++r)
          for (int64_t i = k; i < vk::words_per_row(k) * 16; ++i)
            ASSERT_EQ(padded[size_t(r * vk::words_per_row(k) * 16 + i)], 0) << "row " << r << " index " << i;
      }
    }
  // Rows too short for k are refused, not overrun.
  EXPECT_THROW(pack_t2x16(pack_ternary("w", 1, 17, std::vector<int8_t>(17, 1), 1.0f), 1), UsageError);
}

TEST(Vulkan, DeviceSelectionAndItsErrors) {
  SKIP_WITHOUT_VULKAN();
  auto be = make_backend("vulkan", BackendOptions{.threads = 0, .device = 0});
  EXPECT_FALSE(be->info().name.empty());
  EXPECT_NE(be->info().driver.find("Vulkan 1."), std::string::npos) << be->info().driver;
  EXPECT_EQ(be->info().kind, "gpu");
  for (int bad : {99, -1}) {
    try {
      make_backend("vulkan", BackendOptions{.threads = 0, .device = bad});
      ADD_FAILURE() << "device " << bad << " was accepted";
    } catch (const DeviceError& e) {
      EXPECT_NE(std::string(e.what()).find("there is no device " + std::to_string(bad)), std::string::npos)
          << e.what();
      EXPECT_NE(std::string(e.what()).find(be->info().name), std::string::npos) << "lists the devices: " << e.what();
    }
  }
  if (!vk::Device::open(0)->caps().int_dot) {
    vk::VulkanOptions o;
    o.dot = vk::DotPath::IntegerDot;
    EXPECT_THROW(vk::make_backend(o), DeviceError);
  }
}

TEST(Vulkan, FailedAllocationIsAClearDeviceError) {
  SKIP_WITHOUT_VULKAN();
  auto be = make_backend("vulkan", BackendOptions{.threads = 0, .device = 0});
  try {
    be->alloc(size_t(1) << 50);
    ADD_FAILURE() << "a 1 PiB buffer was allocated";
  } catch (const DeviceError& e) {
    EXPECT_NE(std::string(e.what()).find("cannot allocate 1125899906842624"), std::string::npos) << e.what();
  }
  // The backend still works afterwards.
  const std::vector<float> v = {1.5f, -2.0f};
  const Tensor a = be->upload_tensor(v.data(), DType::F32, {1, 2});
  Tensor y = be->new_tensor(DType::F32, {1, 2});
  be->add(a, a, y);
  EXPECT_EQ(download<float>(*be, y), (std::vector<float>{3.0f, -4.0f}));
  // A tensor in another backend's memory is refused, not dereferenced.
  auto cpu = make_backend("scalar", BackendOptions{.threads = 1, .device = 0});
  const Tensor host = cpu->upload_tensor(v.data(), DType::F32, {1, 2});
  EXPECT_THROW(be->add(host, a, y), UsageError);
}

TEST(Vulkan, TimerReadsDeviceTimestamps) {
  SKIP_WITHOUT_VULKAN();
  auto be = make_backend("vulkan", BackendOptions{.threads = 0, .device = 0});
  const CanonicalTernary w = random_matrix("w", 2560, 2560, 3, 0.02f);
  const TernaryWeight tw = be->upload(w);
  std::vector<int8_t> xq(2560, 3);
  const std::vector<float> s = {2.0f};
  const QuantAct qa{be->upload_tensor(xq.data(), DType::I8, {1, 2560}),
                    be->upload_tensor(s.data(), DType::F32, {1, 1})};
  std::vector<Tensor> ys{be->new_tensor(DType::F32, {1, 2560})};
  auto timer = be->timer();
  EXPECT_THROW(timer->stop_seconds(), UsageError);
  timer->start();
  be->matmul_w2a8(qa, tw, ys);
  const double seconds = timer->stop_seconds();
  EXPECT_GT(seconds, 0.0);
  EXPECT_LT(seconds, 10.0);
}

TEST(Vulkan, ValidationLayerIsListening) {
  // A deliberate misuse (a zero-sized buffer) must be reported, and the next
  // wait must throw: otherwise "zero validation messages" would prove nothing.
  SKIP_WITHOUT_VULKAN();
  if (!vk::validation_requested()) GTEST_SKIP() << "validation is off (set BITLAB_VULKAN_VALIDATION=1)";
  auto be = make_backend("vulkan", BackendOptions{.threads = 0, .device = 0});
  std::shared_ptr<vk::Device> dev = vk::Device::open(0);
  const uint64_t before = vk::validation_message_count();
  auto info = vk::make_info<VkBufferCreateInfo>(VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO);
  info.size = 0;
  info.usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT;
  VkBuffer buffer = VK_NULL_HANDLE;
  const VkResult r = dev->api().vkCreateBuffer(dev->handle(), &info, nullptr, &buffer);
  if (r == VK_SUCCESS && buffer) dev->api().vkDestroyBuffer(dev->handle(), buffer, nullptr);
  const uint64_t provoked = vk::validation_message_count() - before;
  g_provoked_messages += provoked;
  EXPECT_GE(provoked, 1u);
  EXPECT_THROW(be->synchronize(), DeviceError);
  be->synchronize();  // reported once, then clear
}

// The CLI with no usable Vulkan driver: `info` says why, `run` fails with exit
// code 1 and one line naming the problem.
std::string run_cli(const std::string& env_and_args, int* rc) {
  const std::string cmd = env_and_args + " 2>&1";
  FILE* p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[512];
  while (p && fgets(buf, sizeof buf, p)) out += buf;
  const int status = p ? pclose(p) : -1;
  *rc = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  return out;
}

TEST(Vulkan, MissingDriverIsExplainedByTheCli) {
  const std::string no_driver = "VK_ICD_FILENAMES=/nonexistent.json VK_DRIVER_FILES=/nonexistent.json ";
  int rc = 0;
  const std::string info = run_cli(no_driver + BITLAB_BIN " info", &rc);
  EXPECT_EQ(rc, 0);
  EXPECT_NE(info.find("vulkan     no device  vulkan: no Vulkan driver is installed"), std::string::npos) << info;
  const std::string run = run_cli(no_driver + BITLAB_BIN " run --backend vulkan --model synthetic:tiny", &rc);
  EXPECT_EQ(rc, 1) << run;
  EXPECT_NE(run.find("backend 'vulkan' cannot run here"), std::string::npos) << run;
  if (vulkan_usable(nullptr)) {
    const std::string bad = run_cli(BITLAB_BIN " run --backend vulkan --model synthetic:tiny --device 9", &rc);
    EXPECT_EQ(rc, 1) << bad;
    EXPECT_NE(bad.find("there is no device 9"), std::string::npos) << bad;
  }
}

}  // namespace
}  // namespace bitlab

// Kernel variants as the registry lists them (kernels/registry.h): every listed
// variant of every usable backend can be pinned and is then what the backend
// reports for its op; each op has exactly one default, which is what runs
// unpinned; bad pins are refused with the right error. And the worked example
// of a new variant, t2i8_matmul_r16k16__avx512bw: bit-exact with the reference
// on odd shapes and at the int16 extremes.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <set>
#include <sstream>
#include <vector>

#include "kernels/cpu/cpu_variants.h"
#include "model/error.h"
#include "model/reference.h"
#include "kernels/registry.h"
#include "tests/cli_test_util.h"
#include "tests/test_util.h"

namespace bitlab {
namespace {

using OpVariant = std::pair<std::string, std::string>;

bool reports(const Backend& be, const std::string& op, const std::string& name) {
  const auto& k = be.info().kernels;
  return std::find(k.begin(), k.end(), OpVariant{op, name}) != k.end();
}

TEST(KernelVariants, EveryUsableVariantCanBePinnedAndIsReportedForItsOp) {
  int pinned = 0;
  for (const std::string& backend : usable_backends())
    for (const KernelVariant& v : kernel_variants(backend)) {
      if (!v.usable) continue;
      SCOPED_TRACE(backend + " " + v.name);
      const auto be = make_backend(backend, BackendOptions{.threads = 1, .device = 0, .variants = {v.name}});
      EXPECT_TRUE(reports(*be, v.op, v.name));
      // One entry per op: the pin replaced the default instead of joining it.
      EXPECT_EQ(1, std::count_if(be->info().kernels.begin(), be->info().kernels.end(),
                                 [&](const OpVariant& k) { return k.first == v.op; }));
      ++pinned;
    }
  EXPECT_GT(pinned, 0) << "the CPU backends list variants on every machine";
}

TEST(KernelVariants, EachOpHasOneDefaultAndItRunsUnpinned) {
  for (const std::string& backend : usable_backends()) {
    SCOPED_TRACE(backend);
    std::map<std::string, int> defaults;
    std::set<std::string> ops;
    for (const KernelVariant& v : kernel_variants(backend)) {
      ops.insert(v.op);
      if (!v.is_default) continue;
      EXPECT_TRUE(v.usable) << v.name << " is the default but cannot run here";
      ++defaults[v.op];
    }
    const auto be = make_backend(backend, BackendOptions{.threads = 1, .device = 0});
    for (const std::string& op : ops) EXPECT_EQ(defaults[op], 1) << op;
    for (const KernelVariant& v : kernel_variants(backend))
      EXPECT_EQ(reports(*be, v.op, v.name), v.is_default) << v.name;
    EXPECT_EQ(be->info().kernels.size(), ops.size());
  }
}

TEST(KernelVariants, ScalarKernelsAreVariantsOfTheSimdBackendsButNeverTheirDefault) {
  // Where an op has a SIMD kernel that runs here, its scalar one is listed as
  // well (the reference point) but never the default.
  for (const char* backend : {"avx512", "neon"}) {
    std::set<std::string> simd_ops, scalar_names;
    for (const KernelVariant& v : kernel_variants(backend)) {
      if (!v.name.ends_with("__scalar") && v.usable) simd_ops.insert(v.op);
      if (v.name.ends_with("__scalar")) scalar_names.insert(v.name);
    }
    for (const KernelVariant& v : kernel_variants(backend)) {
      if (v.name.ends_with("__scalar") && simd_ops.count(v.op)) {
        EXPECT_FALSE(v.is_default) << backend << " " << v.name;
      }
    }
    if (!kernel_variants(backend).empty()) {
      EXPECT_EQ(scalar_names.size(), cpu::scalar_variants().size()) << backend;
    }
  }
  const auto list = kernel_variants("scalar");
  EXPECT_EQ(list.size(), cpu::scalar_variants().size());
  // Every scalar kernel is its op's default there, except the 1.6-bit matmul
  // (it runs when asked for).
  EXPECT_TRUE(std::all_of(list.begin(), list.end(), [](const KernelVariant& v) {
    return v.usable && v.is_default == (v.weight_bits == WeightBits::Two);
  }));
}

TEST(KernelVariants, UnknownPinIsAUsageError) {
  EXPECT_THROW(make_backend("scalar", BackendOptions{.variants = {"t2i8_matmul__nonesuch"}}), UsageError);
  EXPECT_THROW(make_backend("reference", BackendOptions{.variants = {"t2i8_matmul__scalar"}}), UsageError);
  // A variant of another backend is unknown to this one.
  EXPECT_THROW(make_backend("scalar", BackendOptions{.variants = {"t2i8_matmul_r16k16__avx512bw"}}), UsageError);
}

TEST(KernelVariants, TwoPinsForOneOpAreAUsageError) {
  for (const std::string& backend : usable_backends()) {
    std::map<std::string, std::vector<std::string>> by_op;
    for (const KernelVariant& v : kernel_variants(backend))
      if (v.usable) by_op[v.op].push_back(v.name);
    for (const auto& [op, names] : by_op) {
      if (names.size() >= 2) {
        EXPECT_THROW(make_backend(backend, BackendOptions{.variants = {names[0], names[1]}}), UsageError)
            << backend << " " << op;
      }
    }
  }
  // Twice the same name pins one op twice, too.
  EXPECT_THROW(make_backend("scalar", BackendOptions{.variants = {"f32_add__scalar", "f32_add__scalar"}}),
               UsageError);
}

TEST(KernelVariants, PinThatCannotRunHereIsADeviceError) {
  // Whatever this machine lacks among the usable backends' variants...
  for (const std::string& backend : usable_backends())
    for (const KernelVariant& v : kernel_variants(backend))
      if (!v.usable) {
        EXPECT_FALSE(v.why_not.empty()) << v.name;
        EXPECT_THROW(make_backend(backend, BackendOptions{.variants = {v.name}}), DeviceError) << v.name;
      }
  // ...and, on every machine, a list whose variant asks for a feature no CPU
  // has: the table builder refuses it as the registry does.
  static const cpu::CpuVariant kImpossible{"t2i8_matmul__impossible", "matmul_w2a8",
                                           [] { return std::string("CPU lacks everything"); },
                                           [](cpu::CpuKernels&) {}};
  std::vector<cpu::CpuVariant> list(cpu::scalar_variants().begin(), cpu::scalar_variants().end());
  list.push_back(kImpossible);
  const std::vector<KernelVariant> described = cpu::describe_variants(list);
  EXPECT_FALSE(described.back().usable);
  EXPECT_FALSE(described.back().is_default);
  EXPECT_EQ(described.back().why_not, "CPU lacks everything");
  try {
    cpu::build_table("scalar", list, {"t2i8_matmul__impossible"});
    ADD_FAILURE() << "an unusable pin was accepted";
  } catch (const DeviceError& e) {
    EXPECT_NE(std::string(e.what()).find("CPU lacks everything"), std::string::npos) << e.what();
  }
  EXPECT_EQ(cpu::build_table("scalar", list, {}).kernels.matmul, cpu::scalar_kernels().matmul);
}

TEST(KernelVariants, BackendNotBuiltRefusesPins) {
  for (const BackendEntry& e : list_backends())
    if (!e.compiled) {
      EXPECT_TRUE(kernel_variants(e.name).empty()) << e.name;
      EXPECT_THROW(make_backend(e.name, BackendOptions{.variants = {"anything"}}), DeviceError) << e.name;
    }
}

// ---- t2i8_matmul_r16k16__avx512bw -------------------------------------------------

constexpr const char* kBw = "t2i8_matmul_r16k16__avx512bw";

std::unique_ptr<Backend> bw_backend() {
  for (const KernelVariant& v : kernel_variants("avx512"))
    if (v.name == kBw) {
      if (!v.usable) return nullptr;
      return make_backend("avx512", BackendOptions{.threads = 2, .device = 0, .variants = {kBw}});
    }
  return nullptr;
}

// Runs the matmul of `be` on one weight and compares it bit for bit with ref::matmul_w2a8.
void expect_exact(Backend& be, const CanonicalTernary& w, const std::vector<int8_t>& xq, const std::vector<float>& s) {
  const int64_t t = int64_t(s.size());
  const TernaryWeight tw = be.upload(w);
  const QuantAct x{test::upload(be, xq, DType::I8, {t, w.k}), test::upload(be, s, DType::F32, {t, 1})};
  Tensor y = be.new_tensor(DType::F32, {t, w.n});
  be.matmul_w2a8(x, tw, {&y, 1});
  std::vector<float> want(size_t(t * w.n));
  ref::matmul_w2a8(xq.data(), s.data(), t, w.packed.data(), w.n, w.k, w.scale, want.data(), w.n);
  const std::vector<float> got = test::download<float>(be, y);
  for (size_t j = 0; j < got.size(); ++j)
    ASSERT_EQ(0, std::memcmp(&got[j], &want[j], sizeof(float)))
        << "token " << int64_t(j) / w.n << " row " << int64_t(j) % w.n << ": got " << got[j] << ", want " << want[j];
}

TEST(Avx512BwMatmul, IsBitExactWithTheReferenceOnOddShapes) {
  const auto be = bw_backend();
  if (!be) GTEST_SKIP() << kBw << " cannot run here";
  ASSERT_TRUE(reports(*be, "matmul_w2a8", kBw));
  EXPECT_EQ(be->info().variant, "avx512-bw");
  for (int64_t n : {1, 15, 17, 33})
    for (int64_t k : {1, 5, 15, 17, 100, 130, 2560 + 4})
      for (int64_t t : {1, 2, 5, 17}) {
        SCOPED_TRACE(testing::Message() << "n=" << n << " k=" << k << " t=" << t);
        const std::vector<float> xf = test::random_floats(size_t(t * k), uint64_t(n * 7 + k * 3 + t), 2.0f);
        std::vector<int8_t> xq(static_cast<size_t>(t * k));
        std::vector<float> s(static_cast<size_t>(t));
        ref::quantize_act(xf.data(), t, k, xq.data(), s.data());
        expect_exact(*be, test::random_matrix("w", n, k, uint64_t(n * 31 + k), 0.0371f), xq, s);
      }
}

TEST(Avx512BwMatmul, IsExactWhereTheInt16PairSumsAreLargest) {
  // Every weight +1 (code 2) and every activation at the int8 extreme: each
  // vpmaddubsw pair is 2 * 2 * x and a block's four registers add to 16 * x in
  // int16, the most the kernel ever holds there.
  const auto be = bw_backend();
  if (!be) GTEST_SKIP() << kBw << " cannot run here";
  for (int8_t x : {int8_t(127), int8_t(-127), int8_t(-128)})
    for (int64_t k : {64, 2560 + 3})
      for (int64_t t : {1, 3}) {
        SCOPED_TRACE(testing::Message() << "x=" << int(x) << " k=" << k << " t=" << t);
        CanonicalTernary w = zero_ternary("ones", 19, k, 0.5f);
        for (int64_t r = 0; r < w.n; ++r)
          for (int64_t i = 0; i < k; ++i) set_code(w.packed.data() + r * w.row_bytes(), i, 2);
        expect_exact(*be, w, std::vector<int8_t>(size_t(t * k), x), std::vector<float>(size_t(t), 0.25f));
      }
}

TEST(Avx512BwMatmul, IsTheDefaultOnlyWhereVnniIsMissing) {
  bool vnni_usable = false;
  for (const KernelVariant& v : kernel_variants("avx512"))
    if (v.name == "t2i8_matmul_r16k16__avx512vnni") vnni_usable = v.usable;
  for (const KernelVariant& v : kernel_variants("avx512")) {
    if (v.name == kBw) {
      EXPECT_EQ(v.is_default, v.usable && !vnni_usable);
    }
  }
}

// ---- bitlab info --kernels -----------------------------------------------------------

// The line of `bitlab info --kernels` for (variant, backend): its columns split at blanks.
std::vector<std::string> kernels_line(const std::string& out, const std::string& name, const std::string& backend) {
  std::istringstream lines(out);
  for (std::string line; std::getline(lines, line);) {
    std::istringstream words(line);
    std::vector<std::string> w;
    for (std::string x; words >> x;) w.push_back(x);
    if (w.size() >= 4 && w[0] == name && w[2] == backend) return w;
  }
  return {};
}

TEST(InfoKernels, ListsEveryVariantOfEveryBackendOneALine) {
  const test::CmdResult r = test::run_bitlab("info --kernels");
  ASSERT_EQ(r.code, 0) << r.err;
  int listed = 0;
  for (const BackendEntry& e : list_backends())
    for (const KernelVariant& v : kernel_variants(e.name)) {
      const std::vector<std::string> w = kernels_line(r.out, v.name, e.name);
      ASSERT_FALSE(w.empty()) << v.name << " of " << e.name << " missing from:\n" << r.out;
      EXPECT_EQ(w[1], v.op);
      EXPECT_EQ(w[3], !v.usable ? "no:" : v.is_default ? "default" : "usable") << v.name;
      ++listed;
    }
  EXPECT_GT(listed, 0);
  // The columns are aligned: every variant's op starts at the same offset.
  const size_t at = r.out.find("t2i8_matmul__scalar");
  ASSERT_NE(at, std::string::npos);
  const size_t col = r.out.find("matmul_w2a8", at) - at;
  EXPECT_EQ(r.out.find("op"), col) << r.out;
}

}  // namespace
}  // namespace bitlab

// Choosing the weight layout by bits per weight (BackendOptions::weight_bits):
// make_backend pins the backend's first usable matmul variant of those bits,
// and the network's output is the 2-bit layout's bit for bit; a pinned matmul
// of other bits is a UsageError; a backend without such a matmul a DeviceError;
// the listings mark the 1.6-bit matmuls and never make one a default; and
// parse_weight_bits takes "2" and "1.6" only.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "kernels/cpu/cpu_variants.h"
#include "kernels/registry.h"
#include "model/error.h"
#include "model/transformer.h"
#include "model/weights/synthetic.h"

namespace bitlab {
namespace {

constexpr WeightBits k16 = WeightBits::OnePointSix;

// The matmul variant a backend reports running.
std::string matmul_of(const Backend& be) {
  for (const auto& [op, name] : be.info().kernels)
    if (op == "matmul_w2a8") return name;
  return {};
}

const KernelVariant* find_variant(const std::vector<KernelVariant>& list, const std::string& name) {
  const auto it = std::find_if(list.begin(), list.end(), [&](const KernelVariant& v) { return v.name == name; });
  return it == list.end() ? nullptr : &*it;
}

// The first usable 1.6-bit matmul a backend lists, empty if none.
std::string first_usable_1p6(const std::string& backend) {
  for (const KernelVariant& v : kernel_variants(backend))
    if (v.op == "matmul_w2a8" && v.weight_bits == k16 && v.usable) return v.name;
  return {};
}

TEST(WeightBits, ParseTakesTwoAndOnePointSixOnly) {
  EXPECT_EQ(parse_weight_bits("2"), WeightBits::Two);
  EXPECT_EQ(parse_weight_bits("1.6"), k16);
  EXPECT_STREQ(weight_bits_name(WeightBits::Two), "2");
  EXPECT_STREQ(weight_bits_name(k16), "1.6");
  for (const char* bad : {"3", "", "1.58", "2.0", " 2", "1,6"}) {
    SCOPED_TRACE(bad);
    try {
      parse_weight_bits(bad);
      ADD_FAILURE() << "accepted";
    } catch (const UsageError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(std::string("'") + bad + "'"), std::string::npos) << what;
      EXPECT_EQ(what.find('\n'), std::string::npos) << what;
    }
  }
}

TEST(WeightBits, ScalarRunsItsOnePointSixBitMatmulWhenAskedFor) {
  const auto be = make_backend("scalar", BackendOptions{.threads = 1, .weight_bits = k16});
  EXPECT_EQ(matmul_of(*be), "t1p6i8_matmul_b3__scalar");
  // Every other op keeps its default.
  const auto plain = make_backend("scalar", BackendOptions{.threads = 1});
  ASSERT_EQ(be->info().kernels.size(), plain->info().kernels.size());
  for (size_t i = 0; i < plain->info().kernels.size(); ++i) {
    if (plain->info().kernels[i].first != "matmul_w2a8") {
      EXPECT_EQ(be->info().kernels[i], plain->info().kernels[i]);
    }
  }
  // Asking for 2 bits is the default layout.
  EXPECT_EQ(matmul_of(*make_backend("scalar", BackendOptions{.weight_bits = WeightBits::Two})),
            "t2i8_matmul__scalar");
}

TEST(WeightBits, EveryCpuBackendPicksItsFirstUsableOnePointSixBitMatmul) {
  for (const std::string& backend : usable_backends()) {
    const std::string want = first_usable_1p6(backend);
    if (want.empty()) continue;
    SCOPED_TRACE(backend);
    EXPECT_EQ(matmul_of(*make_backend(backend, BackendOptions{.threads = 1, .weight_bits = k16})), want);
  }
  EXPECT_FALSE(first_usable_1p6("scalar").empty()) << "the scalar backend has a 1.6-bit matmul on every machine";
}

TEST(WeightBits, OtherPinsStayAndTheMatmulIsAdded) {
  const auto be = make_backend("scalar",
                               BackendOptions{.threads = 1, .variants = {"f32_add__scalar"}, .weight_bits = k16});
  EXPECT_EQ(matmul_of(*be), "t1p6i8_matmul_b3__scalar");
  // A pinned matmul of the asked-for bits is kept as it is.
  const auto pinned = make_backend(
      "scalar", BackendOptions{.threads = 1, .variants = {"t1p6i8_matmul_b3__scalar"}, .weight_bits = k16});
  EXPECT_EQ(matmul_of(*pinned), "t1p6i8_matmul_b3__scalar");
  // Pinned with no weight_bits, the 1.6-bit matmul runs too.
  EXPECT_EQ(matmul_of(*make_backend("scalar", BackendOptions{.variants = {"t1p6i8_matmul_b3__scalar"}})),
            "t1p6i8_matmul_b3__scalar");
  // An unknown pin is still refused as one.
  EXPECT_THROW(make_backend("scalar", BackendOptions{.variants = {"t1p6i8_matmul__nonesuch"}, .weight_bits = k16}),
               UsageError);
}

TEST(WeightBits, PinnedMatmulOfOtherBitsIsAUsageError) {
  for (const auto& [pin, bits] : {std::pair{"t2i8_matmul__scalar", k16},
                                  std::pair{"t1p6i8_matmul_b3__scalar", WeightBits::Two}}) {
    SCOPED_TRACE(pin);
    try {
      make_backend("scalar", BackendOptions{.variants = {pin}, .weight_bits = bits});
      ADD_FAILURE() << "accepted";
    } catch (const UsageError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(pin), std::string::npos) << what;
      EXPECT_NE(what.find(std::string(weight_bits_name(bits)) + "-bit"), std::string::npos) << what;
    }
  }
}

TEST(WeightBits, ReferenceTakesEitherBits) {
  // The oracle computes from the canonical weights: every layout's results
  // are its results, so it takes either request and runs as it always does.
  for (const WeightBits bits : {WeightBits::Two, k16}) {
    EXPECT_EQ(make_backend("reference", BackendOptions{.weight_bits = bits})->info().backend, "reference");
  }
}

TEST(WeightBits, BackendWithoutOnePointSixBitMatmulIsADeviceError) {
  int checked = 0;
  for (const std::string& backend : usable_backends()) {
    if (!first_usable_1p6(backend).empty()) continue;
    SCOPED_TRACE(backend);
    try {
      make_backend(backend, BackendOptions{.weight_bits = k16});
      ADD_FAILURE() << "accepted";
    } catch (const DeviceError& e) {
      const std::string what = e.what();
      EXPECT_NE(what.find(backend), std::string::npos) << what;
      EXPECT_NE(what.find("1.6-bit"), std::string::npos) << what;
    }
    ++checked;
  }
  if (checked == 0) GTEST_SKIP() << "every usable backend here has a 1.6-bit matmul";
}

TEST(WeightBits, ListingsMarkOnePointSixBitMatmulsAndNeverMakeThemDefault) {
  for (const std::string& backend : usable_backends()) {
    SCOPED_TRACE(backend);
    for (const KernelVariant& v : kernel_variants(backend)) {
      // The names say the bits: t1p6i8_ is 1.6-bit, t2i8_ 2-bit.
      if (v.name.starts_with("t1p6i8_")) {
        EXPECT_EQ(v.op, "matmul_w2a8") << v.name;
        EXPECT_EQ(v.weight_bits, k16) << v.name;
        EXPECT_FALSE(v.is_default) << v.name;
      } else {
        EXPECT_EQ(v.weight_bits, WeightBits::Two) << v.name;
      }
    }
  }
  const std::vector<KernelVariant> scalar = kernel_variants("scalar");  // find_variant points into it
  const KernelVariant* s = find_variant(scalar, "t1p6i8_matmul_b3__scalar");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->usable);
  // The SIMD backends list the scalar 1.6-bit matmul too.
  for (const char* backend : {"avx512", "neon"}) {
    const std::vector<KernelVariant> list = kernel_variants(backend);
    if (!list.empty()) {
      EXPECT_NE(find_variant(list, "t1p6i8_matmul_b3__scalar"), nullptr) << backend;
    }
  }
}

TEST(WeightBits, ACpuListNeverDefaultsToOnePointSixBitsWhateverItsOrder) {
  // The scalar list with its 1.6-bit matmul moved before the 2-bit one: still
  // the 2-bit matmul is the default, and an unpinned table runs it.
  std::vector<cpu::CpuVariant> list(cpu::scalar_variants().begin(), cpu::scalar_variants().end());
  const auto b3 = std::find_if(list.begin(), list.end(), [](const cpu::CpuVariant& v) { return v.bits == k16; });
  ASSERT_NE(b3, list.end());
  std::rotate(list.begin(), b3, b3 + 1);
  ASSERT_EQ(list.front().bits, k16);
  for (const KernelVariant& v : cpu::describe_variants(list)) {
    if (v.op == "matmul_w2a8") {
      EXPECT_EQ(v.is_default, v.weight_bits == WeightBits::Two) << v.name;
    }
  }
  const cpu::CpuTable t = cpu::build_table("scalar", list, {});
  const std::pair<std::string, std::string> want{"matmul_w2a8", "t2i8_matmul__scalar"};
  EXPECT_NE(std::find(t.chosen.begin(), t.chosen.end(), want), t.chosen.end());
}

TEST(WeightBits, NetworkOutputIsTheTwoBitLayoutsBitForBit) {
  // The matmul's int32 sums are exact in either layout, so a whole forward
  // pass (prefill, then a decode step) gives the same logits bit for bit.
  const ModelWeights w = synthetic_weights(config_by_name("tiny"), 3);
  const std::vector<int32_t> prompt = {w.config.bos, 17, 4, 99, 250, 3, 400};
  const int32_t next[] = {5};
  for (const std::string& backend : usable_backends()) {
    if (first_usable_1p6(backend).empty()) continue;
    SCOPED_TRACE(backend);
    const auto two = make_backend(backend, BackendOptions{.threads = 2});
    const auto b3 = make_backend(backend, BackendOptions{.threads = 2, .weight_bits = k16});
    Transformer a(*two, w, 16), b(*b3, w, 16);
    const auto la = a.forward(prompt, true), lb = b.forward(prompt, true);
    ASSERT_EQ(la.size(), lb.size());
    EXPECT_EQ(0, std::memcmp(la.data(), lb.data(), la.size() * sizeof(float)));
    const auto da = a.forward(next), db = b.forward(next);
    ASSERT_EQ(da.size(), db.size());
    EXPECT_EQ(0, std::memcmp(da.data(), db.data(), da.size() * sizeof(float)));
  }
}

}  // namespace
}  // namespace bitlab

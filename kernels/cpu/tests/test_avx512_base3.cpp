// The 1.6-bit AVX-512 matmul's own contract (kernels/cpu/avx512/matmul_b3r16k20.cpp,
// layout b3r16k20.h): the repack writes exactly packed_bytes_b3 and decodes back
// to the canonical codes with zero-weight padding past n and k; the matmul is
// bit-identical to ref::matmul_w2a8 on odd shapes (k not a multiple of 5 or 20,
// n not a multiple of 16) for GEMV and GEMM token counts, fused parts keep
// their own rows and scales, rows longer than the GEMV's exact int32 range stay
// exact, and no path reads past the packed weights or past xq.
// Skipped on a CPU without AVX-512 VNNI.
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "kernels/cpu/avx512/avx512_kernels.h"
#include "kernels/cpu/base3.h"
#include "kernels/registry.h"
#include "model/reference.h"
#include "tests/test_util.h"

namespace bitlab {
namespace {

constexpr const char* kVariant = "t1p6i8_matmul_b3r16k20__avx512vnni";
constexpr int64_t kRows[] = {1, 3, 17, 33};
constexpr int64_t kCols[] = {1, 4, 5, 19, 21, 39, 41, 2561};
constexpr int64_t kTokens[] = {1, 2, 15, 16, 17, 33};

class Avx512Base3 : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const BackendEntry& e : list_backends())
      if (e.name == "avx512" && !e.probe.usable) GTEST_SKIP() << "avx512 backend not usable: " << e.probe.reason;
    for (const KernelVariant& v : kernel_variants("avx512"))
      if (v.name == kVariant && !v.usable) GTEST_SKIP() << kVariant << " not usable: " << v.why_not;
  }
  static std::unique_ptr<Backend> backend() {
    return make_backend("avx512", BackendOptions{.threads = 2, .device = 0, .variants = {kVariant}});
  }
};

// The code of row r, column i as the layout's header describes it, read with
// the shared byte decoding (base3::digit), independently of the kernels.
int layout_code(const uint8_t* packed, int64_t k, int64_t r, int64_t i) {
  const int64_t nkb = (k + 19) / 20, g = r / 16, kb = i / 20, c = i % 20;
  return cpu::base3::digit(packed[(g * nkb + kb) * 64 + 4 * (r % 16) + c % 4], int(c / 4));
}

TEST_F(Avx512Base3, RepackRoundTripsWithZeroPadding) {
  for (int64_t n : kRows)
    for (int64_t k : kCols) {
      SCOPED_TRACE(testing::Message() << "n=" << n << " k=" << k);
      const CanonicalTernary w = test::random_matrix("w", n, k, uint64_t(n * 7919 + k), 0.5f);
      const int64_t np = (n + 15) / 16 * 16, kp = (k + 19) / 20 * 20;
      const size_t bytes = cpu::avx512::packed_bytes_b3(n, k);
      ASSERT_EQ(bytes, size_t(np * kp / 5)) << "five weights per byte";
      // Guard bytes after the layout catch a repack that writes past packed_bytes.
      std::vector<uint8_t> packed(bytes + 64, 0xA5);
      cpu::avx512::repack_b3(w, packed.data());
      for (size_t i = bytes; i < packed.size(); ++i) ASSERT_EQ(packed[i], 0xA5) << "repack wrote past its size";
      for (size_t i = 0; i < bytes; ++i) {  // each byte is the encoding of its own digits
        uint8_t c[cpu::base3::kDigits];
        cpu::base3::decode(packed[i], c);
        ASSERT_EQ(cpu::base3::encode(c), packed[i]) << "not a base-3 byte at " << i;
      }
      for (int64_t r = 0; r < np; ++r)
        for (int64_t i = 0; i < kp; ++i) {
          const int want = (r < n && i < k) ? w.at(r, i) + 1 : 1;
          ASSERT_EQ(layout_code(packed.data(), k, r, i), want) << "row " << r << " col " << i;
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

void expect_bit_exact(Backend& be, const CanonicalTernary& w, const std::vector<int8_t>& xq,
                      const std::vector<float>& s, const QuantAct& x, int64_t t) {
  const TernaryWeight tw = be.upload(w);
  Tensor y[] = {be.new_tensor(DType::F32, {t, w.n})};
  be.matmul_w2a8(x, tw, y);
  std::vector<float> want(size_t(t * w.n));
  ref::matmul_w2a8(xq.data(), s.data(), t, w.packed.data(), w.n, w.k, w.scale, want.data(), w.n);
  const std::vector<float> got = test::download<float>(be, y[0]);
  ASSERT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float)));
}

TEST_F(Avx512Base3, MatmulIsBitExactOnOddShapes) {
  std::unique_ptr<Backend> be = backend();
  ASSERT_EQ(be->info().variant, std::string("avx512-vnni-b3"));
  for (int64_t n : kRows)
    for (int64_t k : kCols)
      for (int64_t t : kTokens) {
        SCOPED_TRACE(testing::Message() << "n=" << n << " k=" << k << " t=" << t);
        const CanonicalTernary w = test::random_matrix("w", n, k, uint64_t(n * 31 + k), 0.0371f);
        std::vector<int8_t> xq;
        std::vector<float> s;
        const QuantAct x = reference_activations(*be, t, k, uint64_t(t * 1009 + k), xq, s);
        expect_bit_exact(*be, w, xq, s, x, t);
      }
}

// The GEMV sums 256 * sum(c * x) in int32, exact up to 32768 columns; longer
// rows are summed in chunks. Every weight +1 and every activation 127 (or -128)
// is the largest sum a row can have: 2 * 127 * 40000 would wrap in one chunk.
TEST_F(Avx512Base3, LongRowsAtFullScaleStayExact) {
  std::unique_ptr<Backend> be = backend();
  const int64_t n = 17, k = 40000;
  for (int8_t xv : {int8_t(127), int8_t(-128)})
    for (int64_t t : {1, 3}) {
      SCOPED_TRACE(testing::Message() << "x=" << int(xv) << " t=" << t);
      const CanonicalTernary w = pack_ternary("w", n, k, std::vector<int8_t>(size_t(n * k), 1), 1.0f);
      std::vector<int8_t> xq(size_t(t * k), xv);
      std::vector<float> s(size_t(t), 1.0f);
      const QuantAct x{test::upload(*be, xq, DType::I8, {t, k}), test::upload(*be, s, DType::F32, {t, 1})};
      expect_bit_exact(*be, w, xq, s, x, t);
    }
}

TEST_F(Avx512Base3, FusedPartsKeepTheirOwnRowsAndScales) {
  std::unique_ptr<Backend> be = backend();
  const int64_t k = 130;
  const CanonicalTernary a = test::random_matrix("a", 17, k, 1, 0.5f);
  const CanonicalTernary b = test::random_matrix("b", 33, k, 2, 0.25f);
  const CanonicalTernary c = test::random_matrix("c", 3, k, 3, 2.0f);
  const CanonicalTernary* parts[] = {&a, &b, &c};
  const TernaryWeight tw = be->upload(parts);
  for (int64_t t : {int64_t(1), int64_t(17)}) {
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

// `bytes` of memory that end exactly where an inaccessible page begins, so a
// read one byte past the end faults.
class GuardedBytes {
 public:
  explicit GuardedBytes(size_t bytes) : page_(size_t(sysconf(_SC_PAGESIZE))) {
    const size_t data_pages = (bytes + page_ - 1) / page_;
    total_ = (data_pages + 1) * page_;
    void* m = mmap(nullptr, total_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) throw std::runtime_error("mmap failed");
    base_ = static_cast<uint8_t*>(m);
    if (mprotect(base_ + data_pages * page_, page_, PROT_NONE) != 0) throw std::runtime_error("mprotect failed");
    data_ = base_ + data_pages * page_ - bytes;
  }
  GuardedBytes(const GuardedBytes&) = delete;
  GuardedBytes& operator=(const GuardedBytes&) = delete;
  ~GuardedBytes() { munmap(base_, total_); }
  uint8_t* data() const { return data_; }

 private:
  size_t page_, total_ = 0;
  uint8_t* base_ = nullptr;
  uint8_t* data_ = nullptr;
};

// The kernel called directly, its packed weights and its activations each
// ending at a guard page (the packed bytes are a multiple of 64, so their
// alignment holds): a read past either faults instead of passing.
TEST_F(Avx512Base3, ReadsNothingPastWeightsOrActivations) {
  for (int64_t k : {int64_t(1), int64_t(21), int64_t(64), int64_t(2561)})
    for (int64_t t : {int64_t(1), int64_t(2), int64_t(17)}) {
      SCOPED_TRACE(testing::Message() << "k=" << k << " t=" << t);
      const int64_t n = 19;
      const CanonicalTernary w = test::random_matrix("w", n, k, uint64_t(k), 0.25f);
      const size_t bytes = cpu::avx512::packed_bytes_b3(n, k);
      GuardedBytes packed(bytes), xbuf(size_t(t * k));
      cpu::avx512::repack_b3(w, packed.data());
      const std::vector<float> x = test::random_floats(size_t(t * k), uint64_t(t), 1.0f);
      std::vector<float> s(static_cast<size_t>(t));
      auto* xq = reinterpret_cast<int8_t*>(xbuf.data());
      ref::quantize_act(x.data(), t, k, xq, s.data());
      std::vector<float> got(size_t(t * n)), want(size_t(t * n));
      const cpu::MatmulArgs a{.packed = packed.data(),
                              .n = n,
                              .k = k,
                              .w_scale = w.scale,
                              .xq = xq,
                              .s = s.data(),
                              .t = t,
                              .y = got.data(),
                              .ldy = n};
      cpu::avx512::matmul_b3(a, 0, n);
      ref::matmul_w2a8(xq, s.data(), t, w.packed.data(), n, k, w.scale, want.data(), n);
      ASSERT_EQ(0, std::memcmp(got.data(), want.data(), want.size() * sizeof(float)));
    }
}

}  // namespace
}  // namespace bitlab

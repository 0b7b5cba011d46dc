// Every op of every backend usable on this machine against the reference
// (docs/design.md §5): int8 activations and matmul outputs bit-identical, float ops
// within NMSE thresholds, odd sizes and tails, guard bytes around outputs to
// catch out-of-bounds writes, and wrong shapes rejected. A new backend in
// model/backends.def is picked up here with no change.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "model/error.h"
#include "model/reference.h"
#include "model/registry.h"
#include "tests/test_util.h"

namespace bitlab {
namespace {

using test::download;
using test::nmse;
using test::random_floats;
using test::random_matrix;

// NMSE limits: "exact-ish" ops vs those whose summation order differs from the
// reference (which accumulates in double).
constexpr double kNmseExact = 1e-12;
constexpr double kNmseReordered = 1e-10;

// An output tensor with guard bytes on both sides, filled with a pattern.
struct Guarded {
  static constexpr size_t kGuard = 256;
  static constexpr uint8_t kPattern = 0xA5;
  Tensor t;
  Guarded(Backend& be, DType dtype, Shape shape) {
    t.dtype = dtype;
    t.shape = shape;
    t.offset = kGuard;
    t.buf = be.alloc(t.bytes() + 2 * kGuard);
    std::vector<uint8_t> fill(t.buf->bytes(), kPattern);
    t.buf->write(fill.data(), 0, fill.size());
  }
  // True when no byte outside the view changed.
  bool guards_intact() const {
    std::vector<uint8_t> all(t.buf->bytes());
    t.buf->read(all.data(), 0, all.size());
    for (size_t i = 0; i < kGuard; ++i)
      if (all[i] != kPattern || all[all.size() - 1 - i] != kPattern) return false;
    return true;
  }
};

class BackendOps : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override { be_ = make_backend(GetParam(), BackendOptions{.threads = 2, .device = 0}); }
  // The backend under test; the reference side is model/reference.h's plain functions.
  std::unique_ptr<Backend> be_;
};

std::string backend_name(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

// ---- quantize_act -----------------------------------------------------------------

std::vector<uint32_t> float_bits(const std::vector<float>& v) {
  std::vector<uint32_t> b(v.size());
  std::memcpy(b.data(), v.data(), v.size() * sizeof(float));
  return b;
}

// quantize_act of x [t, k] on `be` into q and s, checked against the reference:
// the same codes, the same scale bits (a NaN scale counts), no write around the
// outputs. Returns the reference's codes and scales.
std::pair<std::vector<int8_t>, std::vector<float>> expect_quantize_as_reference(Backend& be,
                                                                                const std::vector<float>& x,
                                                                                int64_t t, int64_t k, Guarded& q,
                                                                                Guarded& s) {
  const Tensor xt = be.upload_tensor(x.data(), DType::F32, {t, k});
  QuantAct qa{q.t, s.t};
  be.quantize_act(xt, qa);
  std::vector<int8_t> want_q(size_t(t * k));
  std::vector<float> want_s(static_cast<size_t>(t));
  ref::quantize_act(x.data(), t, k, want_q.data(), want_s.data());
  EXPECT_EQ(download<int8_t>(be, q.t), want_q);
  EXPECT_EQ(float_bits(download<float>(be, s.t)), float_bits(want_s));
  EXPECT_TRUE(q.guards_intact() && s.guards_intact()) << "out-of-bounds write";
  return {std::move(want_q), std::move(want_s)};
}

TEST_P(BackendOps, QuantizeActIsBitExact) {
  for (int64_t t : {1, 3, 8}) {
    for (int64_t k : {1, 7, 64, 100, 129, 2560, 6912}) {
      std::vector<float> x = random_floats(size_t(t * k), uint64_t(t * 1000 + k), 3.0f);
      if (t > 1) std::fill(x.begin() + k, x.begin() + 2 * k, 0.0f);  // an all-zero row
      // Values on exact .5 boundaries once scaled: absmax 127 gives s = 1.
      if (k >= 4) {
        x[0] = 127.0f;
        x[1] = 2.5f;
        x[2] = -0.5f;
        x[3] = 3.5f;
      }
      SCOPED_TRACE(testing::Message() << "t=" << t << " k=" << k);
      Guarded q(*be_, DType::I8, {t, k}), s(*be_, DType::F32, {t, 1});
      expect_quantize_as_reference(*be_, x, t, k, q, s);
    }
  }
}

// ---- non-finite activations (the rule in model/reference.h) ----------------------

// Values that poison a row: NaNs of either sign with different payloads (the
// scale must still be the canonical NaN) and both infinities.
std::vector<float> poisons() {
  const auto from_bits = [](uint32_t b) {
    float f;
    std::memcpy(&f, &b, sizeof f);
    return f;
  };
  return {from_bits(0x7fc00000u), from_bits(0xffc00001u), from_bits(0x7f800123u) /* signalling */,
          INFINITY, -INFINITY};
}

// Rows of k random values, each holding one poison at one position: the first,
// the middle, the last (a SIMD tail for most k), and positions next to vector
// widths; then a row with both a NaN and an Inf, and a finite row last.
std::vector<float> poisoned_rows(int64_t k, uint64_t seed, int64_t* t) {
  std::vector<int64_t> at = {0, k / 2, k - 1};
  for (int64_t p : {3, 4, 15, 16, 31, 32, 63, 64})
    if (p < k) at.push_back(p);
  const std::vector<float> bad = poisons();
  *t = int64_t(at.size() * bad.size()) + 2;
  std::vector<float> x = random_floats(size_t(*t * k), seed, 3.0f);
  int64_t row = 0;
  for (int64_t p : at)
    for (float v : bad) x[size_t(row++ * k + p)] = v;
  x[size_t(row * k)] = INFINITY;
  x[size_t(row * k + k - 1)] = NAN;
  return x;
}


TEST_P(BackendOps, QuantizeActNonFiniteRowsAreBitExact) {
  for (int64_t k : {1, 2, 7, 16, 17, 33, 64, 100, 129, 2560, 6912}) {
    int64_t t = 0;
    const std::vector<float> x = poisoned_rows(k, uint64_t(k) * 101, &t);
    SCOPED_TRACE(testing::Message() << "k=" << k);
    Guarded q(*be_, DType::I8, {t, k}), s(*be_, DType::F32, {t, 1});
    const QuantAct qa{q.t, s.t};
    const auto [want_q, want_s] = expect_quantize_as_reference(*be_, x, t, k, q, s);
    ASSERT_TRUE(std::isnan(want_s[0])) << "the first row holds a NaN";

    // The matmul turns every poisoned row into NaN outputs and the finite last
    // row into the reference's bits.
    const CanonicalTernary w = random_matrix("w", 19, k, uint64_t(k), 0.05f);
    const TernaryWeight tw = be_->upload(w);
    std::vector<Tensor> ys = {be_->new_tensor(DType::F32, {t, w.n})};
    be_->matmul_w2a8(qa, tw, ys);
    const std::vector<float> y = download<float>(*be_, ys[0]);
    std::vector<float> want_y(size_t(t * w.n));
    ref::matmul_w2a8(want_q.data(), want_s.data(), t, w.packed.data(), w.n, k, w.scale, want_y.data(), w.n);
    for (int64_t row = 0; row + 1 < t; ++row)
      for (int64_t n = 0; n < w.n; ++n) {
        ASSERT_TRUE(std::isnan(y[size_t(row * w.n + n)])) << "k=" << k << " row " << row << " output " << n;
        ASSERT_TRUE(std::isnan(want_y[size_t(row * w.n + n)])) << "k=" << k << " row " << row << " output " << n;
      }
    const auto last = [&](const std::vector<float>& v) { return std::vector<float>(v.end() - w.n, v.end()); };
    EXPECT_EQ(float_bits(last(y)), float_bits(last(want_y))) << "k=" << k << ": the finite row";
  }
}

// ---- matmul_w2a8 ------------------------------------------------------------------

// Runs the backend's matmul on `parts` fused into one weight, compares every
// part bit for bit with ref::matmul_w2a8 on that part alone (test::matmul_exact)
// and checks that nothing was written around the outputs.
void expect_matmul_exact(Backend& be, const std::vector<CanonicalTernary>& parts, int64_t t, uint64_t seed) {
  std::vector<Guarded> outs;
  for (const auto& p : parts) outs.emplace_back(be, DType::F32, Shape{t, p.n});
  std::vector<Tensor> ys;
  for (auto& g : outs) ys.push_back(g.t);
  test::matmul_exact(be, parts, t, seed, {}, ys);
  for (size_t i = 0; i < parts.size(); ++i)
    EXPECT_TRUE(outs[i].guards_intact()) << parts[i].name << ": out-of-bounds write";
}

TEST_P(BackendOps, MatmulIsBitExactOnOddShapes) {
  for (int64_t n : {1, 3, 17, 64, 100}) {
    for (int64_t k : {4, 5, 63, 64, 100, 130, 257, 2564}) {
      for (int64_t t : {1, 3, 8}) {
        SCOPED_TRACE("n=" + std::to_string(n) + " k=" + std::to_string(k) + " t=" + std::to_string(t));
        expect_matmul_exact(*be_, {random_matrix("w", n, k, uint64_t(n * 7919 + k), 0.03f)}, t,
                            uint64_t(t * 31 + k));
      }
    }
  }
}

TEST_P(BackendOps, FusedPartsKeepTheirOwnScales) {
  // QKV-like fusion with unequal parts and very different scales: a scale
  // applied to the wrong rows changes outputs by orders of magnitude.
  for (int64_t t : {1, 5}) {
    expect_matmul_exact(*be_,
                        {random_matrix("q", 40, 100, 1, 0.01f), random_matrix("k", 9, 100, 2, 3.0f),
                         random_matrix("v", 17, 100, 3, 250.0f)},
                        t, 42);
  }
}

TEST_P(BackendOps, MatmulIsBitExactOn2b4tShapes) {
  // Fused QKV (2560+640+640) x 2560, the o projection and the down projection 2560 x 6912.
  const std::vector<CanonicalTernary> qkv = {random_matrix("q", 2560, 2560, 11, 0.02f),
                                             random_matrix("k", 640, 2560, 12, 0.03f),
                                             random_matrix("v", 640, 2560, 13, 0.04f)};
  for (int64_t t : {1, 4}) expect_matmul_exact(*be_, qkv, t, 100 + uint64_t(t));
  expect_matmul_exact(*be_, {random_matrix("down", 2560, 6912, 14, 0.01f)}, 2, 7);
}

TEST_P(BackendOps, MatmulRejectsWrongShapes) {
  const CanonicalTernary w = random_matrix("w", 8, 16, 1, 1.0f);
  const TernaryWeight tw = be_->upload(w);
  QuantAct qa{be_->new_tensor(DType::I8, {2, 12}), be_->new_tensor(DType::F32, {2, 1})};
  Tensor y = be_->new_tensor(DType::F32, {2, 8});
  std::vector<Tensor> ys{y};
  EXPECT_THROW(be_->matmul_w2a8(qa, tw, ys), UsageError);  // k 12 vs 16
  qa.q = be_->new_tensor(DType::I8, {2, 16});
  std::vector<Tensor> two{y, y};
  EXPECT_THROW(be_->matmul_w2a8(qa, tw, two), UsageError);  // 2 outputs for 1 part
  std::vector<Tensor> wrong_rows{be_->new_tensor(DType::F32, {2, 9})};
  EXPECT_THROW(be_->matmul_w2a8(qa, tw, wrong_rows), UsageError);
  std::vector<Tensor> wrong_type{be_->new_tensor(DType::I32, {2, 8})};
  EXPECT_THROW(be_->matmul_w2a8(qa, tw, wrong_type), UsageError);
  const CanonicalTernary other = random_matrix("w2", 4, 20, 2, 1.0f);
  const CanonicalTernary* mixed[] = {&w, &other};
  EXPECT_THROW(be_->upload(mixed), UsageError);  // parts with different k cannot fuse
}

TEST_P(BackendOps, UploadRejectsCorruptCodes) {
  CanonicalTernary w = random_matrix("w", 4, 8, 1, 1.0f);
  w.packed[3] = 0xFF;  // four codes of 3
  EXPECT_THROW(be_->upload(w), InputError);
  w = random_matrix("w", 4, 8, 1, 1.0f);
  w.packed.pop_back();
  EXPECT_THROW(be_->upload(w), InputError);
}

// ---- float ops --------------------------------------------------------------------

TEST_P(BackendOps, RmsnormMatchesReference) {
  for (int64_t t : {1, 3}) {
    for (int64_t d : {1, 7, 64, 2560, 6912}) {
      const auto x = random_floats(size_t(t * d), uint64_t(d), 2.0f);
      const auto w = random_floats(size_t(d), uint64_t(d) + 1);
      Tensor xt = be_->upload_tensor(x.data(), DType::F32, {t, d});
      Tensor wt = be_->upload_tensor(w.data(), DType::F32, {1, d});
      Guarded y(*be_, DType::F32, {t, d});
      be_->rmsnorm(xt, wt, 1e-5f, y.t);
      std::vector<float> want(size_t(t * d));
      ref::rmsnorm(x.data(), w.data(), t, d, 1e-5f, want.data());
      EXPECT_LT(nmse(download<float>(*be_, y.t), want), kNmseReordered) << "t=" << t << " d=" << d;
      EXPECT_TRUE(y.guards_intact());
    }
  }
}

TEST_P(BackendOps, RmsnormQuantEqualsRmsnormThenQuantize) {
  // The fused op must give exactly what its two halves give on this backend, and
  // stay within one int8 step of the reference (the norm's rounding may differ).
  for (int64_t t : {1, 4}) {
    for (int64_t d : {5, 64, 2560, 6912}) {
      const auto x = random_floats(size_t(t * d), uint64_t(d) * 3, 4.0f);
      const auto w = random_floats(size_t(d), uint64_t(d) * 5);
      Tensor xt = be_->upload_tensor(x.data(), DType::F32, {t, d});
      Tensor wt = be_->upload_tensor(w.data(), DType::F32, {1, d});
      QuantAct fused{be_->new_tensor(DType::I8, {t, d}), be_->new_tensor(DType::F32, {t, 1})};
      be_->rmsnorm_quant(xt, wt, 1e-5f, fused);
      Tensor normed = be_->new_tensor(DType::F32, {t, d});
      be_->rmsnorm(xt, wt, 1e-5f, normed);
      QuantAct split{be_->new_tensor(DType::I8, {t, d}), be_->new_tensor(DType::F32, {t, 1})};
      be_->quantize_act(normed, split);
      const auto fq = download<int8_t>(*be_, fused.q);
      EXPECT_EQ(fq, download<int8_t>(*be_, split.q)) << "t=" << t << " d=" << d;
      EXPECT_EQ(download<float>(*be_, fused.scale), download<float>(*be_, split.scale));

      std::vector<float> rn(size_t(t * d));
      ref::rmsnorm(x.data(), w.data(), t, d, 1e-5f, rn.data());
      std::vector<int8_t> rq(size_t(t * d));
      std::vector<float> rs(static_cast<size_t>(t));
      ref::quantize_act(rn.data(), t, d, rq.data(), rs.data());
      for (size_t i = 0; i < rq.size(); ++i) ASSERT_LE(std::abs(int(fq[i]) - int(rq[i])), 1) << "element " << i;
    }
  }
}

// ---- fused ops: the same bits as the primitives they replace ------------------------

// q and s of a QuantAct on the host.
struct HostQuant {
  std::vector<int8_t> q;
  std::vector<float> s;
  bool operator==(const HostQuant&) const = default;
};
HostQuant download_quant(Backend& be, const QuantAct& a) {
  return {download<int8_t>(be, a.q), download<float>(be, a.scale)};
}
QuantAct new_quant(Backend& be, int64_t t, int64_t d) {
  return {be.new_tensor(DType::I8, {t, d}), be.new_tensor(DType::F32, {t, 1})};
}

TEST_P(BackendOps, AddRmsnormQuantEqualsAddThenRmsnormQuant) {
  for (int64_t t : {1, 4}) {
    for (int64_t d : {5, 64, 2560, 6912}) {
      const auto h = random_floats(size_t(t * d), uint64_t(d) * 7, 3.0f);
      const auto r = random_floats(size_t(t * d), uint64_t(d) * 11, 0.5f);
      const auto w = random_floats(size_t(d), uint64_t(d) * 13);
      Tensor rt = be_->upload_tensor(r.data(), DType::F32, {t, d});
      Tensor wt = be_->upload_tensor(w.data(), DType::F32, {1, d});
      Tensor fused_h = be_->upload_tensor(h.data(), DType::F32, {t, d});
      Guarded fq(*be_, DType::I8, {t, d});
      QuantAct fused{fq.t, be_->new_tensor(DType::F32, {t, 1})};
      be_->add_rmsnorm_quant(fused_h, rt, wt, 1e-5f, fused);

      Tensor split_h = be_->upload_tensor(h.data(), DType::F32, {t, d});
      QuantAct split = new_quant(*be_, t, d);
      be_->add(split_h, rt, split_h);
      be_->rmsnorm_quant(split_h, wt, 1e-5f, split);
      const auto sum = download<float>(*be_, fused_h);
      EXPECT_EQ(sum, download<float>(*be_, split_h)) << "t=" << t << " d=" << d;
      EXPECT_EQ(download_quant(*be_, fused), download_quant(*be_, split)) << "t=" << t << " d=" << d;
      EXPECT_TRUE(fq.guards_intact());
      // The residual sum is one fp32 add per element, so it is the reference's too.
      std::vector<float> want(h.size());
      ref::add(h.data(), r.data(), t * d, want.data());
      EXPECT_EQ(sum, want);
    }
  }
}

TEST_P(BackendOps, Relu2MulRmsnormQuantEqualsItsParts) {
  for (int64_t t : {1, 3}) {
    for (int64_t d : {7, 64, 6912}) {
      const auto g = random_floats(size_t(t * d), uint64_t(d) * 17, 2.0f);  // about half negative: gated to 0
      const auto u = random_floats(size_t(t * d), uint64_t(d) * 19, 2.0f);
      const auto w = random_floats(size_t(d), uint64_t(d) * 23);
      Tensor gt = be_->upload_tensor(g.data(), DType::F32, {t, d});
      Tensor ut = be_->upload_tensor(u.data(), DType::F32, {t, d});
      Tensor wt = be_->upload_tensor(w.data(), DType::F32, {1, d});
      Guarded fq(*be_, DType::I8, {t, d});
      QuantAct fused{fq.t, be_->new_tensor(DType::F32, {t, 1})};
      be_->relu2_mul_rmsnorm_quant(gt, ut, wt, 1e-5f, fused);

      Tensor f = be_->new_tensor(DType::F32, {t, d});
      be_->relu2_mul(gt, ut, f);
      QuantAct split = new_quant(*be_, t, d);
      be_->rmsnorm_quant(f, wt, 1e-5f, split);
      EXPECT_EQ(download_quant(*be_, fused), download_quant(*be_, split)) << "t=" << t << " d=" << d;
      EXPECT_TRUE(fq.guards_intact());
      EXPECT_EQ(download<float>(*be_, gt), g) << "the inputs are left as they were";
    }
  }
}

// ---- fused norms on non-finite rows: the quantiser's rule after the norm ------------

// Expects got to hold, for every row the reference quantised as non-finite
// (s NaN or +0), exactly the reference's codes and scale bits; returns how
// many such rows there were. Finite rows are the other tests' business (the
// norm's rounding may differ from the reference there).
int expect_poisoned_rows_exact(const HostQuant& got, const std::vector<float>& normed, int64_t t, int64_t d,
                               const std::string& what) {
  std::vector<int8_t> want_q(size_t(t * d));
  std::vector<float> want_s(static_cast<size_t>(t));
  ref::quantize_act(normed.data(), t, d, want_q.data(), want_s.data());
  int poisoned = 0;
  for (int64_t row = 0; row < t; ++row) {
    if (std::isfinite(want_s[size_t(row)]) && want_s[size_t(row)] != 0.0f) continue;
    ++poisoned;
    const auto q_of = [&](const std::vector<int8_t>& q) {
      return std::vector<int8_t>(q.begin() + row * d, q.begin() + (row + 1) * d);
    };
    EXPECT_EQ(q_of(got.q), q_of(want_q)) << what << " d=" << d << " row " << row;
    EXPECT_EQ(float_bits({got.s[size_t(row)]}), float_bits({want_s[size_t(row)]})) << what << " d=" << d << " row " << row;
  }
  return poisoned;
}

TEST_P(BackendOps, FusedNormsQuantiseNonFiniteRowsAsTheReference) {
  for (int64_t d : {5, 17, 64, 2560}) {
    int64_t t = 0;
    const std::vector<float> bad = poisoned_rows(d, uint64_t(d) * 29, &t);
    const auto fine = random_floats(bad.size(), uint64_t(d) * 31, 2.0f);
    const auto w = random_floats(size_t(d), uint64_t(d) * 37);
    Tensor wt = be_->upload_tensor(w.data(), DType::F32, {1, d});
    std::vector<float> normed(bad.size());

    // rmsnorm: a NaN anywhere makes the whole row NaN; an Inf makes its own
    // element NaN (Inf * 0) and the others zero.
    Tensor xt = be_->upload_tensor(bad.data(), DType::F32, {t, d});
    Tensor y = be_->new_tensor(DType::F32, {t, d});
    be_->rmsnorm(xt, wt, 1e-5f, y);
    ref::rmsnorm(bad.data(), w.data(), t, d, 1e-5f, normed.data());
    const auto got_y = download<float>(*be_, y);
    for (size_t i = 0; i + size_t(d) < normed.size(); ++i) {  // every row but the finite last one
      ASSERT_EQ(std::isnan(got_y[i]), std::isnan(normed[i])) << "rmsnorm d=" << d << " element " << i;
      if (!std::isnan(normed[i])) {
        ASSERT_EQ(got_y[i], normed[i]) << "rmsnorm d=" << d << " element " << i;
      }
    }

    QuantAct q = new_quant(*be_, t, d);
    be_->rmsnorm_quant(xt, wt, 1e-5f, q);
    EXPECT_EQ(expect_poisoned_rows_exact(download_quant(*be_, q), normed, t, d, "rmsnorm_quant"), t - 1);

    // add_rmsnorm_quant: the poison in the residual branch, and +Inf + -Inf.
    std::vector<float> h = fine, bad_d = bad;
    h[size_t(t - 1) * size_t(d)] = INFINITY;  // the last row: +Inf + -Inf = NaN
    bad_d[size_t(t - 1) * size_t(d)] = -INFINITY;
    Tensor ht = be_->upload_tensor(h.data(), DType::F32, {t, d});
    Tensor dt = be_->upload_tensor(bad_d.data(), DType::F32, {t, d});
    be_->add_rmsnorm_quant(ht, dt, wt, 1e-5f, q);
    std::vector<float> sum(bad.size());
    ref::add(h.data(), bad_d.data(), t * d, sum.data());
    ref::rmsnorm(sum.data(), w.data(), t, d, 1e-5f, normed.data());
    EXPECT_EQ(expect_poisoned_rows_exact(download_quant(*be_, q), normed, t, d, "add_rmsnorm_quant"), t);

    // relu2_mul_rmsnorm_quant: the poison in the gate, then in the up projection.
    // -Inf in the gate is gated to 0, so those rows stay finite.
    for (bool in_gate : {true, false}) {
      const std::vector<float>& g = in_gate ? bad : fine;
      const std::vector<float>& u = in_gate ? fine : bad;
      Tensor gt = be_->upload_tensor(g.data(), DType::F32, {t, d});
      Tensor ut = be_->upload_tensor(u.data(), DType::F32, {t, d});
      be_->relu2_mul_rmsnorm_quant(gt, ut, wt, 1e-5f, q);
      std::vector<float> f(bad.size());
      ref::relu2_mul(g.data(), u.data(), t * d, f.data());
      ref::rmsnorm(f.data(), w.data(), t, d, 1e-5f, normed.data());
      const int poisoned = expect_poisoned_rows_exact(download_quant(*be_, q), normed, t, d,
                                                      in_gate ? "relu2_mul_rmsnorm_quant, gate" : "relu2_mul_rmsnorm_quant, up");
      EXPECT_GT(poisoned, 0);
    }
  }
}

TEST_P(BackendOps, RopeQkEqualsRopeOnEach) {
  for (int64_t pos0 : {0, 9, 4000}) {
    for (auto [hq, hk, hd] : {std::tuple<int64_t, int64_t, int64_t>{4, 2, 16}, {20, 5, 128}, {3, 3, 6}}) {
      for (int64_t t : {1, 5}) {
        const auto q = random_floats(size_t(t * hq * hd), uint64_t(pos0 + hq + t));
        const auto k = random_floats(size_t(t * hk * hd), uint64_t(pos0 + hk + t) * 3);
        const RopeParams pq{hq, hd, pos0, 500000.0}, pk{hk, hd, pos0, 500000.0};
        Tensor fq = be_->upload_tensor(q.data(), DType::F32, {t, hq * hd});
        Tensor fk = be_->upload_tensor(k.data(), DType::F32, {t, hk * hd});
        be_->rope_qk(fq, pq, fk, pk);
        Tensor sq = be_->upload_tensor(q.data(), DType::F32, {t, hq * hd});
        Tensor sk = be_->upload_tensor(k.data(), DType::F32, {t, hk * hd});
        be_->rope(sq, pq);
        be_->rope(sk, pk);
        EXPECT_EQ(download<float>(*be_, fq), download<float>(*be_, sq)) << "q pos0=" << pos0 << " t=" << t;
        EXPECT_EQ(download<float>(*be_, fk), download<float>(*be_, sk)) << "k pos0=" << pos0 << " t=" << t;
      }
    }
  }
}

TEST_P(BackendOps, FusedOpsRejectWrongShapes) {
  Tensor h = be_->new_tensor(DType::F32, {2, 8}), w = be_->new_tensor(DType::F32, {1, 8});
  QuantAct q = new_quant(*be_, 2, 8);
  Tensor other = be_->new_tensor(DType::F32, {2, 6});
  EXPECT_THROW(be_->add_rmsnorm_quant(h, other, w, 1e-5f, q), UsageError);
  EXPECT_THROW(be_->relu2_mul_rmsnorm_quant(h, other, w, 1e-5f, q), UsageError);
  QuantAct small = new_quant(*be_, 1, 8);
  EXPECT_THROW(be_->add_rmsnorm_quant(h, h, w, 1e-5f, small), UsageError);
  Tensor w6 = be_->new_tensor(DType::F32, {1, 6});
  EXPECT_THROW(be_->relu2_mul_rmsnorm_quant(h, h, w6, 1e-5f, q), UsageError);
  Tensor i32 = be_->new_tensor(DType::I32, {2, 8});
  EXPECT_THROW(be_->add_rmsnorm_quant(h, i32, w, 1e-5f, q), UsageError);

  Tensor qt = be_->new_tensor(DType::F32, {2, 4 * 16}), kt = be_->new_tensor(DType::F32, {3, 2 * 16});
  const RopeParams pq{4, 16, 0, 500000.0}, pk{2, 16, 0, 500000.0};
  EXPECT_THROW(be_->rope_qk(qt, pq, kt, pk), UsageError);  // 2 rows of q, 3 of k
  Tensor k2 = be_->new_tensor(DType::F32, {2, 2 * 16});
  EXPECT_THROW(be_->rope_qk(qt, pq, k2, RopeParams{2, 16, 1, 500000.0}), UsageError);  // other positions
  EXPECT_THROW(be_->rope_qk(qt, pq, k2, RopeParams{4, 8, 0, 500000.0}), UsageError);   // other head_dim
  EXPECT_THROW(be_->rope_qk(qt, pq, k2, RopeParams{3, 16, 0, 500000.0}), UsageError);  // k is not 3 heads
  EXPECT_NO_THROW(be_->rope_qk(qt, pq, k2, pk));
  // Overlapping views: the fused op may process both at once, so they are refused.
  Tensor both = be_->new_tensor(DType::F32, {2, 6 * 16});
  Tensor q_view = both, k_view = both;
  q_view.shape = {2, 4 * 16};
  k_view.shape = {2, 2 * 16};
  k_view.offset = 2 * 16 * sizeof(float);  // inside q's rows
  EXPECT_THROW(be_->rope_qk(q_view, pq, k_view, pk), UsageError);
  Tensor h_view = both, d_view = both;
  h_view.shape = d_view.shape = {2, 8};
  d_view.offset = 4 * sizeof(float);
  Tensor w8 = be_->new_tensor(DType::F32, {1, 8});
  EXPECT_THROW(be_->add_rmsnorm_quant(h_view, d_view, w8, 1e-5f, q), UsageError);
  EXPECT_THROW(be_->add_rmsnorm_quant(h, h, w, 1e-5f, q), UsageError);  // d is h itself
}

TEST_P(BackendOps, RopeMatchesReference) {
  for (int64_t pos0 : {0, 7, 4000}) {
    for (auto [heads, hd] : {std::pair<int64_t, int64_t>{4, 16}, {20, 128}, {5, 128}}) {
      const int64_t t = 3;
      auto x = random_floats(size_t(t * heads * hd), uint64_t(pos0 + heads));
      Tensor xt = be_->upload_tensor(x.data(), DType::F32, {t, heads * hd});
      const RopeParams p{heads, hd, pos0, 500000.0};
      be_->rope(xt, p);
      ref::rope(x.data(), t, p);
      EXPECT_LT(nmse(download<float>(*be_, xt), x), kNmseReordered) << "pos0=" << pos0 << " heads=" << heads;
    }
  }
}

TEST_P(BackendOps, AttentionPrefillThenDecodeMatchesReference) {
  for (auto [heads, kv_heads, hd] :
       {std::tuple<int64_t, int64_t, int64_t>{4, 2, 16}, {20, 5, 128}, {3, 3, 8}}) {
    SCOPED_TRACE("heads=" + std::to_string(heads) + "/" + std::to_string(kv_heads) + " hd=" + std::to_string(hd));
    const int64_t max_pos = 48, qd = heads * hd, kvd = kv_heads * hd;
    KvLayer cache{be_->new_tensor(DType::F32, {max_pos, kvd}), be_->new_tensor(DType::F32, {max_pos, kvd})};
    std::vector<float> kc(size_t(max_pos * kvd)), vc(size_t(max_pos * kvd));
    int64_t pos = 0;
    for (int64_t t : {37, 1, 1, 5}) {  // a prefill, two decode steps, a second chunk
      const auto q = random_floats(size_t(t * qd), uint64_t(pos * 3 + 1));
      const auto k = random_floats(size_t(t * kvd), uint64_t(pos * 3 + 2));
      const auto v = random_floats(size_t(t * kvd), uint64_t(pos * 3 + 3));
      Tensor qt = be_->upload_tensor(q.data(), DType::F32, {t, qd});
      Tensor kt = be_->upload_tensor(k.data(), DType::F32, {t, kvd});
      Tensor vt = be_->upload_tensor(v.data(), DType::F32, {t, kvd});
      Guarded out(*be_, DType::F32, {t, qd});
      const AttentionParams p{heads, kv_heads, hd, pos};
      be_->attention(qt, kt, vt, cache, p, out.t);
      std::copy(k.begin(), k.end(), kc.begin() + pos * kvd);
      std::copy(v.begin(), v.end(), vc.begin() + pos * kvd);
      std::vector<float> want(size_t(t * qd));
      ref::attention(q.data(), kc.data(), vc.data(), t, p, want.data());
      EXPECT_LT(nmse(download<float>(*be_, out.t), want), kNmseReordered) << "pos0=" << pos << " t=" << t;
      EXPECT_TRUE(out.guards_intact());
      pos += t;
      // The cache holds exactly the appended rows.
      const auto got_k = download<float>(*be_, cache.k), got_v = download<float>(*be_, cache.v);
      EXPECT_TRUE(std::equal(kc.begin(), kc.begin() + pos * kvd, got_k.begin()));
      EXPECT_TRUE(std::equal(vc.begin(), vc.begin() + pos * kvd, got_v.begin()));
    }
    Tensor q1 = be_->new_tensor(DType::F32, {max_pos, qd});
    Tensor k1 = be_->new_tensor(DType::F32, {max_pos, kvd});
    Tensor o1 = be_->new_tensor(DType::F32, {max_pos, qd});
    EXPECT_THROW(be_->attention(q1, k1, k1, cache, AttentionParams{heads, kv_heads, hd, 1}, o1), UsageError);
  }
}

TEST_P(BackendOps, ElementwiseOpsMatchReference) {
  for (int64_t n : {1, 15, 4096, 6912 * 3 + 5}) {
    const auto g = random_floats(size_t(n), uint64_t(n)), u = random_floats(size_t(n), uint64_t(n) + 9);
    Tensor gt = be_->upload_tensor(g.data(), DType::F32, {1, n});
    Tensor ut = be_->upload_tensor(u.data(), DType::F32, {1, n});
    Guarded y(*be_, DType::F32, {1, n});
    std::vector<float> want(static_cast<size_t>(n));
    be_->relu2_mul(gt, ut, y.t);
    ref::relu2_mul(g.data(), u.data(), n, want.data());
    EXPECT_LT(nmse(download<float>(*be_, y.t), want), kNmseExact) << "relu2_mul n=" << n;
    be_->add(gt, ut, y.t);
    ref::add(g.data(), u.data(), n, want.data());
    EXPECT_EQ(download<float>(*be_, y.t), want) << "add n=" << n;  // one fp32 add: exact
    be_->add(gt, ut, gt);  // in place, as the residual stream does
    EXPECT_EQ(download<float>(*be_, gt), want);
    EXPECT_TRUE(y.guards_intact());
  }
  Tensor a = be_->new_tensor(DType::F32, {2, 3}), b = be_->new_tensor(DType::F32, {3, 2});
  EXPECT_THROW(be_->add(a, b, a), UsageError);
}

TEST_P(BackendOps, EmbedLmHeadArgmaxMatchReference) {
  for (auto [vocab, d] : {std::pair<int64_t, int64_t>{1000, 64}, {777, 100}, {300, 2560}}) {
    std::vector<uint16_t> table(size_t(vocab * d));
    test::fill_bf16(table, uint64_t(vocab));
    Tensor tab = be_->upload_tensor(table.data(), DType::BF16, {vocab, d});
    const std::vector<int32_t> ids = {0, int32_t(vocab - 1), 5};
    Tensor idt = be_->upload_tensor(ids.data(), DType::I32, {3, 1});
    Tensor e = be_->new_tensor(DType::F32, {3, d});
    be_->embed(idt, tab, e);
    std::vector<float> want_e(size_t(3 * d));
    ref::embed(ids.data(), 3, table.data(), vocab, d, want_e.data());
    EXPECT_EQ(download<float>(*be_, e), want_e);

    Guarded logits(*be_, DType::F32, {3, vocab});
    be_->lm_head(e, tab, logits.t);
    std::vector<float> want_l(size_t(3 * vocab));
    ref::lm_head(want_e.data(), 3, table.data(), vocab, d, want_l.data());
    const auto got_l = download<float>(*be_, logits.t);
    EXPECT_LT(nmse(got_l, want_l), kNmseReordered) << "vocab=" << vocab << " d=" << d;
    EXPECT_TRUE(logits.guards_intact());

    Tensor am = be_->new_tensor(DType::I32, {3, 1});
    be_->argmax(logits.t, am);
    std::vector<int32_t> want_am(3);
    ref::argmax(got_l.data(), 3, vocab, want_am.data());
    EXPECT_EQ(download<int32_t>(*be_, am), want_am);
  }
  // Ties go to the lowest index.
  const std::vector<float> tie = {0, 7, 1, 7, 7};
  Tensor lt = be_->upload_tensor(tie.data(), DType::F32, {1, 5});
  Tensor id = be_->new_tensor(DType::I32, {1, 1});
  be_->argmax(lt, id);
  EXPECT_EQ(download<int32_t>(*be_, id)[0], 1);
  // Out-of-vocabulary ids are refused.
  std::vector<uint16_t> small(20, 0);
  Tensor tab = be_->upload_tensor(small.data(), DType::BF16, {10, 2});
  const int32_t bad = 10;
  Tensor bt = be_->upload_tensor(&bad, DType::I32, {1, 1});
  Tensor out = be_->new_tensor(DType::F32, {1, 2});
  EXPECT_THROW(be_->embed(bt, tab, out), UsageError);
}

// ---- lm_head_i8 ------------------------------------------------------------------------

TEST_P(BackendOps, Int8HeadIsBitExact) {
  // Widths around the 64- and 128-byte steps, vocabularies around the 16-row
  // blocks, and several tokens (the all-logits path).
  for (auto [v, dd, t] : {std::tuple<int64_t, int64_t, int64_t>{1, 1, 1}, {17, 63, 1}, {33, 64, 2}, {16, 127, 3},
                          {300, 2560, 1}, {129, 6912, 1}, {45, 200, 17}}) {
    SCOPED_TRACE("vocab=" + std::to_string(v) + " d=" + std::to_string(dd) + " t=" + std::to_string(t));
    Guarded out(*be_, DType::F32, {t, v});
    test::lm_head_i8_exact(*be_, v, dd, t, uint64_t(v * 7 + dd), {3.0f}, out.t);
    EXPECT_TRUE(out.guards_intact());
  }
  // Wrong shapes are refused.
  const int64_t vocab = 300, d = 100;
  const HeadTable ht{be_->new_tensor(DType::I8, {vocab, d}), be_->new_tensor(DType::F32, {vocab, 1})};
  const QuantAct qa{be_->new_tensor(DType::I8, {1, d}), be_->new_tensor(DType::F32, {1, 1})};
  Tensor logits = be_->new_tensor(DType::F32, {1, vocab});
  Tensor narrow = be_->new_tensor(DType::F32, {1, vocab - 1});
  EXPECT_THROW(be_->lm_head_i8(qa, ht, narrow), UsageError);
  const QuantAct wide{be_->new_tensor(DType::I8, {1, d + 1}), be_->new_tensor(DType::F32, {1, 1})};
  EXPECT_THROW(be_->lm_head_i8(wide, ht, logits), UsageError);
}

INSTANTIATE_TEST_SUITE_P(Usable, BackendOps, ::testing::ValuesIn(usable_backends()), backend_name);

}  // namespace
}  // namespace bitlab

// Every op of every backend usable on this machine, under each of its kernel
// variants, against the reference (docs/design.md §5): the unit set of the op
// cases (harness/op_cases) — odd sizes and SIMD tails, unequal fused parts and
// the 2B4T shapes; int8 activations and matmul outputs bit-identical, float ops
// within NMSE bounds, fused ops equal to their parts, guard bytes around every
// output — then what a case list cannot say: non-finite rows, ties, and wrong
// shapes refused. A new backend registered by bitlab_add_backend, or a new variant in a
// backend's list, is picked up here with no change.
#include <gtest/gtest.h>

#include <cctype>
#include <cmath>
#include <cstring>
#include <map>
#include <ostream>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include "harness/op_cases/case_util.h"
#include "harness/op_cases/op_case.h"
#include "model/error.h"
#include "model/reference.h"
#include "kernels/registry.h"
#include "tests/test_util.h"

namespace bitlab {
namespace {

using opcase::detail::Guarded;
using test::download;
using test::random_floats;
using test::random_matrix;

// One backend per (backend, pinned variant), opened once for the whole run:
// a GPU device is not reopened for each case.
std::map<std::pair<std::string, std::string>, std::unique_ptr<Backend>>& made_backends() {
  static std::map<std::pair<std::string, std::string>, std::unique_ptr<Backend>> made;
  return made;
}

// Closes them when the tests end, not among the static destructors at exit:
// by then a Vulkan driver or layer may have torn down its own state, and
// closing a device there crashes.
class CloseBackends : public ::testing::Environment {
 public:
  void TearDown() override { made_backends().clear(); }
};
[[maybe_unused]] ::testing::Environment* const kCloseBackends =
    ::testing::AddGlobalTestEnvironment(new CloseBackends);

Backend& backend_for(const std::string& name, const std::string& pin) {
  auto& be = made_backends()[{name, pin}];
  if (!be) {
    BackendOptions o{.threads = 2, .device = 0};
    if (!pin.empty()) o.variants = {pin};
    be = make_backend(name, o);
  }
  return *be;
}

// A test name part: letters, digits and underscores only.
std::string name_part(const std::string& s) {
  std::string out;
  for (char ch : s) out += std::isalnum(static_cast<unsigned char>(ch)) ? ch : '_';
  return out;
}

// ---- the unit set: each family of cases x backend x variant of its op ---------------

struct FamilyParam {
  std::string family, backend, pin;  // pin: "" runs the backend's default kernel
  std::vector<opcase::OpCase> cases;
};

std::vector<FamilyParam> family_params() {
  std::vector<FamilyParam> out;
  const auto families = opcase::cases_by_family(opcase::unit_cases());
  for (const std::string& backend : usable_backends())
    for (const auto& [family, cases] : families) {
      std::vector<std::string> pins = opcase::usable_variants(backend, cases.front().op);
      if (pins.empty()) pins.push_back("");
      for (const std::string& pin : pins) out.push_back({family, backend, pin, cases});
    }
  return out;
}

void PrintTo(const FamilyParam& p, std::ostream* os) {
  *os << p.family << " (" << p.cases.size() << " cases) on " << p.backend << (p.pin.empty() ? "" : " pinned " + p.pin);
}

class OpCases : public ::testing::TestWithParam<FamilyParam> {};

TEST_P(OpCases, MatchTheReference) {
  const FamilyParam& p = GetParam();
  Backend& be = backend_for(p.backend, p.pin);
  for (const opcase::OpCase& c : p.cases) {
    const opcase::Outcome o = opcase::check_case(be, c);
    EXPECT_TRUE(o.pass) << c.key() << ": " << o.detail;
  }
}

std::string family_name(const ::testing::TestParamInfo<FamilyParam>& info) {
  const FamilyParam& p = info.param;
  return name_part(p.family) + "__" + p.backend + (p.pin.empty() ? "" : "__" + name_part(p.pin));
}

INSTANTIATE_TEST_SUITE_P(Usable, OpCases, ::testing::ValuesIn(family_params()), family_name);

// ---- what a case list cannot say: backend x each usable variant -----------------------

struct Target {
  std::string backend, pin;
};

// Every usable backend unpinned, and once more under each usable variant it lists.
std::vector<Target> targets() {
  std::vector<Target> out;
  for (const std::string& backend : usable_backends()) {
    out.push_back({backend, ""});
    for (const KernelVariant& v : kernel_variants(backend))
      if (v.usable && !v.is_default) out.push_back({backend, v.name});
  }
  return out;
}

void PrintTo(const Target& t, std::ostream* os) { *os << t.backend << (t.pin.empty() ? "" : " pinned " + t.pin); }

class BackendOps : public ::testing::TestWithParam<Target> {
 protected:
  void SetUp() override { be_ = &backend_for(GetParam().backend, GetParam().pin); }
  Backend* be_ = nullptr;
};

std::string target_name(const ::testing::TestParamInfo<Target>& info) {
  return info.param.backend + (info.param.pin.empty() ? "" : "__" + name_part(info.param.pin));
}

std::vector<uint32_t> float_bits(const std::vector<float>& v) {
  std::vector<uint32_t> b(v.size());
  std::memcpy(b.data(), v.data(), v.size() * sizeof(float));
  return b;
}

// ---- non-finite activations (the rule in model/reference.h) ----------------------

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
  EXPECT_TRUE(q.intact() && s.intact()) << "out-of-bounds write";
  return {std::move(want_q), std::move(want_s)};
}

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

// ---- wrong shapes and corrupt weights refused ------------------------------------

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

TEST_P(BackendOps, AttentionRejectsRowsPastTheCache) {
  for (auto [heads, kv_heads, hd] :
       {std::tuple<int64_t, int64_t, int64_t>{4, 2, 16}, {20, 5, 128}, {3, 3, 8}}) {
    const int64_t max_pos = 48, qd = heads * hd, kvd = kv_heads * hd;
    KvLayer cache{be_->new_tensor(DType::F32, {max_pos, kvd}), be_->new_tensor(DType::F32, {max_pos, kvd})};
    Tensor q1 = be_->new_tensor(DType::F32, {max_pos, qd});
    Tensor k1 = be_->new_tensor(DType::F32, {max_pos, kvd});
    Tensor o1 = be_->new_tensor(DType::F32, {max_pos, qd});
    EXPECT_THROW(be_->attention(q1, k1, k1, cache, AttentionParams{heads, kv_heads, hd, 1}, o1), UsageError);
  }
}

// Backends may keep a call's angles for the next call at the same positions
// (every layer of a step rotates the same ones): a call at other positions,
// another theta or another head size must not reuse them, for rope and rope_qk.
TEST_P(BackendOps, RopeFollowsEachCallsPositions) {
  const int64_t rows = 3;
  const RopeParams calls[] = {{2, 16, 0, 500000.0}, {2, 16, 0, 500000.0}, {2, 16, 5, 500000.0},
                              {2, 16, 5, 10000.0},  {4, 8, 5, 10000.0},   {2, 16, 0, 500000.0}};
  uint64_t seed = 1;
  for (const RopeParams& p : calls) {
    SCOPED_TRACE(testing::Message() << "pos0=" << p.pos0 << " theta=" << p.theta << " head_dim=" << p.head_dim);
    const int64_t w = p.n_heads * p.head_dim;
    const std::vector<float> x = random_floats(size_t(rows * w), seed++, 2.0f);
    std::vector<float> want = x;
    ref::rope(want.data(), rows, p);
    Tensor t = be_->upload_tensor(x.data(), DType::F32, {rows, w});
    be_->rope(t, p);
    EXPECT_LT(test::nmse(download<float>(*be_, t), want), opcase::kNmseReordered) << "rope";
    // q and k of one call at the same positions, k with a head count of its own.
    const RopeParams pk{1, p.head_dim, p.pos0, p.theta};
    const std::vector<float> kx = random_floats(size_t(rows * p.head_dim), seed++, 2.0f);
    std::vector<float> kwant = kx;
    ref::rope(kwant.data(), rows, pk);
    Tensor qt = be_->upload_tensor(x.data(), DType::F32, {rows, w});
    Tensor kt = be_->upload_tensor(kx.data(), DType::F32, {rows, p.head_dim});
    be_->rope_qk(qt, p, kt, pk);
    EXPECT_LT(test::nmse(download<float>(*be_, qt), want), opcase::kNmseReordered) << "rope_qk q";
    EXPECT_LT(test::nmse(download<float>(*be_, kt), kwant), opcase::kNmseReordered) << "rope_qk k";
  }
}

TEST_P(BackendOps, ElementwiseRejectsMismatchedShapes) {
  Tensor a = be_->new_tensor(DType::F32, {2, 3}), b = be_->new_tensor(DType::F32, {3, 2});
  EXPECT_THROW(be_->add(a, b, a), UsageError);
}

TEST_P(BackendOps, ArgmaxTakesTheFirstOfTiesAndEmbedRefusesUnknownIds) {
  const std::vector<float> tie = {0, 7, 1, 7, 7};
  Tensor lt = be_->upload_tensor(tie.data(), DType::F32, {1, 5});
  Tensor id = be_->new_tensor(DType::I32, {1, 1});
  be_->argmax(lt, id);
  EXPECT_EQ(download<int32_t>(*be_, id)[0], 1);
  std::vector<uint16_t> small(20, 0);
  Tensor tab = be_->upload_tensor(small.data(), DType::BF16, {10, 2});
  const int32_t bad = 10;
  Tensor bt = be_->upload_tensor(&bad, DType::I32, {1, 1});
  Tensor out = be_->new_tensor(DType::F32, {1, 2});
  EXPECT_THROW(be_->embed(bt, tab, out), UsageError);
}

TEST_P(BackendOps, Int8HeadRejectsWrongShapes) {
  const int64_t vocab = 300, d = 100;
  const HeadTable ht{be_->new_tensor(DType::I8, {vocab, d}), be_->new_tensor(DType::F32, {vocab, 1})};
  const QuantAct qa{be_->new_tensor(DType::I8, {1, d}), be_->new_tensor(DType::F32, {1, 1})};
  Tensor logits = be_->new_tensor(DType::F32, {1, vocab});
  Tensor narrow = be_->new_tensor(DType::F32, {1, vocab - 1});
  EXPECT_THROW(be_->lm_head_i8(qa, ht, narrow), UsageError);
  const QuantAct wide{be_->new_tensor(DType::I8, {1, d + 1}), be_->new_tensor(DType::F32, {1, 1})};
  EXPECT_THROW(be_->lm_head_i8(wide, ht, logits), UsageError);
}

INSTANTIATE_TEST_SUITE_P(Usable, BackendOps, ::testing::ValuesIn(targets()), target_name);

}  // namespace
}  // namespace bitlab

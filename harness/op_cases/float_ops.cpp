// The float ops against the reference: rmsnorm, RoPE and attention within the
// reordered-sum NMSE, relu²·u within the exact-ish one, the add bit-exact.
#include <fmt/format.h>

#include "harness/op_cases/case_util.h"
#include "harness/op_cases/families.h"
#include "model/reference.h"

namespace bitlab::opcase {
namespace {

using detail::Guarded;

class RmsnormRun : public Prepared {
 public:
  RmsnormRun(Backend& be, const OpCase& c) : be_(be), t_(c.param("T")), d_(c.param("D")) {
    x_ = randn(size_t(t_ * d_), detail::seed_of(c.key(), 1), 2.0f);
    w_ = randn(size_t(d_), detail::seed_of(c.key(), 2));
    xt_ = be.upload_tensor(x_.data(), DType::F32, {t_, d_});
    wt_ = be.upload_tensor(w_.data(), DType::F32, {1, d_});
    y_ = Guarded(be, DType::F32, {t_, d_});
  }
  void run(size_t) override { be_.rmsnorm(xt_, wt_, 1e-5f, y_.t); }
  Outcome verify() override {
    std::vector<float> want(size_t(t_ * d_));
    ref::rmsnorm(x_.data(), w_.data(), t_, d_, 1e-5f, want.data());
    Outcome o = detail::nmse_outcome(detail::fetch<float>(be_, y_.t), want, kNmseReordered);
    detail::require_guards(o, {&y_});
    return o;
  }

 private:
  Backend& be_;
  int64_t t_, d_;
  std::vector<float> x_, w_;
  Tensor xt_, wt_;
  Guarded y_;
};

// In place: verify() holds after exactly one run().
class RopeRun : public Prepared {
 public:
  RopeRun(Backend& be, const OpCase& c, double theta)
      : be_(be), t_(c.param("T")), p_{c.param("heads"), c.param("hd"), c.param("pos"), theta} {
    x_ = randn(size_t(t_ * p_.n_heads * p_.head_dim), detail::seed_of(c.key(), 1));
    xt_ = be.upload_tensor(x_.data(), DType::F32, {t_, p_.n_heads * p_.head_dim});
  }
  void run(size_t) override { be_.rope(xt_, p_); }
  Outcome verify() override {
    std::vector<float> want = x_;
    ref::rope(want.data(), t_, p_);
    return detail::nmse_outcome(detail::fetch<float>(be_, xt_), want, kNmseReordered);
  }

 private:
  Backend& be_;
  int64_t t_;
  RopeParams p_;
  std::vector<float> x_;
  Tensor xt_;
};

class AttentionRun : public Prepared {
 public:
  AttentionRun(Backend& be, const OpCase& c)
      : be_(be), t_(c.param("T")), p_{c.param("heads"), c.param("kv_heads"), c.param("hd"), c.param("pos")} {
    const std::string key = c.key();
    const int64_t qd = p_.n_heads * p_.head_dim, kvd = p_.n_kv_heads * p_.head_dim, rows = p_.pos0 + t_;
    q_ = randn(size_t(t_ * qd), detail::seed_of(key, 1));
    // The whole cache as it must be after the call: earlier rows, then the new ones.
    kc_ = randn(size_t(rows * kvd), detail::seed_of(key, 2));
    vc_ = randn(size_t(rows * kvd), detail::seed_of(key, 3));
    std::vector<float> before_k(kc_.begin(), kc_.begin() + p_.pos0 * kvd), before_v(vc_.begin(), vc_.begin() + p_.pos0 * kvd);
    before_k.resize(kc_.size(), 0.0f);
    before_v.resize(vc_.size(), 0.0f);
    cache_ = {be.upload_tensor(before_k.data(), DType::F32, {rows, kvd}),
              be.upload_tensor(before_v.data(), DType::F32, {rows, kvd})};
    qt_ = be.upload_tensor(q_.data(), DType::F32, {t_, qd});
    kt_ = be.upload_tensor(kc_.data() + p_.pos0 * kvd, DType::F32, {t_, kvd});
    vt_ = be.upload_tensor(vc_.data() + p_.pos0 * kvd, DType::F32, {t_, kvd});
    out_ = Guarded(be, DType::F32, {t_, qd});
  }
  void run(size_t) override { be_.attention(qt_, kt_, vt_, cache_, p_, out_.t); }
  Outcome verify() override {
    std::vector<float> want(size_t(t_ * p_.n_heads * p_.head_dim));
    ref::attention(q_.data(), kc_.data(), vc_.data(), t_, p_, want.data());
    Outcome o = detail::nmse_outcome(detail::fetch<float>(be_, out_.t), want, kNmseReordered);
    detail::require(o, detail::fetch<float>(be_, cache_.k) == kc_ && detail::fetch<float>(be_, cache_.v) == vc_,
                    "the cache does not hold exactly the earlier rows and the appended ones");
    detail::require_guards(o, {&out_});
    return o;
  }

 private:
  Backend& be_;
  int64_t t_;
  AttentionParams p_;
  std::vector<float> q_, kc_, vc_;
  KvLayer cache_;
  Tensor qt_, kt_, vt_;
  Guarded out_;
};

// relu2_mul or add of two [1, n] vectors; the add also in place, as the
// residual stream runs it.
class ElementwiseRun : public Prepared {
 public:
  ElementwiseRun(Backend& be, const OpCase& c, bool is_add) : be_(be), n_(c.param("N")), add_(is_add) {
    g_ = randn(size_t(n_), detail::seed_of(c.key(), 1));
    u_ = randn(size_t(n_), detail::seed_of(c.key(), 2));
    gt_ = be.upload_tensor(g_.data(), DType::F32, {1, n_});
    ut_ = be.upload_tensor(u_.data(), DType::F32, {1, n_});
    y_ = Guarded(be, DType::F32, {1, n_});
  }
  void run(size_t) override {
    if (add_) be_.add(gt_, ut_, y_.t);
    else be_.relu2_mul(gt_, ut_, y_.t);
  }
  Outcome verify() override {
    std::vector<float> want(static_cast<size_t>(n_));
    const auto got = detail::fetch<float>(be_, y_.t);
    Outcome o;
    if (add_) {
      ref::add(g_.data(), u_.data(), n_, want.data());
      o = detail::exact_outcome(detail::same_bits(got, want), "differs from one fp32 add per element");
      Tensor h = be_.upload_tensor(g_.data(), DType::F32, {1, n_});
      be_.add(h, ut_, h);
      detail::require(o, detail::same_bits(detail::fetch<float>(be_, h), want), "the in-place add differs");
    } else {
      ref::relu2_mul(g_.data(), u_.data(), n_, want.data());
      o = detail::nmse_outcome(got, want, kNmseExact);
    }
    detail::require_guards(o, {&y_});
    return o;
  }

 private:
  Backend& be_;
  int64_t n_;
  bool add_;
  std::vector<float> g_, u_;
  Tensor gt_, ut_;
  Guarded y_;
};

}  // namespace

OpCase rmsnorm_case(int64_t t, int64_t d) {
  OpCase c;
  c.op = "rmsnorm";
  c.params = {{"D", d}, {"T", t}};
  c.tolerance = Tolerance::within(kNmseReordered);
  c.bytes = double(t * d) * 8 + double(d) * 4;
  c.ops = 4.0 * double(t * d);
  c.prepare = [c](Backend& be, size_t) -> std::unique_ptr<Prepared> { return std::make_unique<RmsnormRun>(be, c); };
  return c;
}

OpCase rope_case(int64_t heads, int64_t head_dim, int64_t pos0, int64_t t, double theta) {
  OpCase c;
  c.op = "rope";
  c.params = {{"heads", heads}, {"hd", head_dim}, {"pos", pos0}, {"T", t}};
  c.tolerance = Tolerance::within(kNmseReordered);
  c.bytes = double(t * heads * head_dim) * 8;
  c.ops = 3.0 * double(t * heads * head_dim);
  c.prepare = [c, theta](Backend& be, size_t) -> std::unique_ptr<Prepared> {
    return std::make_unique<RopeRun>(be, c, theta);
  };
  return c;
}

OpCase attention_case(int64_t heads, int64_t kv_heads, int64_t head_dim, int64_t pos0, int64_t t) {
  OpCase c;
  c.op = "attention";
  c.params = {{"heads", heads}, {"kv_heads", kv_heads}, {"hd", head_dim}, {"pos", pos0}, {"T", t}};
  c.tolerance = Tolerance::within(kNmseReordered);
  const double qd = double(heads * head_dim), kvd = double(kv_heads * head_dim), ctx = double(pos0 + t);
  c.bytes = double(t) * qd * 4 * 2 + double(t) * kvd * 4 * 2 + ctx * kvd * 4 * 2;
  c.ops = 4.0 * double(t) * qd * ctx;
  c.prepare = [c](Backend& be, size_t) -> std::unique_ptr<Prepared> { return std::make_unique<AttentionRun>(be, c); };
  return c;
}

OpCase relu2_mul_case(int64_t n) {
  OpCase c;
  c.op = "relu2_mul";
  c.params = {{"N", n}};
  c.tolerance = Tolerance::within(kNmseExact);
  c.bytes = double(n) * 12;
  c.ops = 3.0 * double(n);
  c.prepare = [c](Backend& be, size_t) -> std::unique_ptr<Prepared> {
    return std::make_unique<ElementwiseRun>(be, c, false);
  };
  return c;
}

OpCase add_case(int64_t n) {
  OpCase c;
  c.op = "add";
  c.params = {{"N", n}};
  c.tolerance = Tolerance::exact();
  c.bytes = double(n) * 12;
  c.ops = double(n);
  c.prepare = [c](Backend& be, size_t) -> std::unique_ptr<Prepared> {
    return std::make_unique<ElementwiseRun>(be, c, true);
  };
  return c;
}

}  // namespace bitlab::opcase

// The fused ops against the same backend's own primitives, bit for bit
// (model/backend.h): a backend that overrides one must give the bits its
// unfused parts give.
#include <cstdlib>

#include <fmt/format.h>

#include "harness/op_cases/case_util.h"
#include "harness/op_cases/families.h"
#include "model/reference.h"

namespace bitlab::opcase {
namespace {

using detail::Guarded;

struct HostQuant {
  std::vector<int8_t> q;
  std::vector<float> s;
};
HostQuant fetch_quant(const Backend& be, const QuantAct& a) {
  return {detail::fetch<int8_t>(be, a.q), detail::fetch<float>(be, a.scale)};
}
bool same(const HostQuant& a, const HostQuant& b) { return detail::same_bits(a.q, b.q) && detail::same_bits(a.s, b.s); }
QuantAct new_quant(Backend& be, int64_t t, int64_t d) {
  return {be.new_tensor(DType::I8, {t, d}), be.new_tensor(DType::F32, {t, 1})};
}

// rmsnorm_quant, add_rmsnorm_quant or relu2_mul_rmsnorm_quant of [t, d].
class FusedNormRun : public Prepared {
 public:
  FusedNormRun(Backend& be, const OpCase& c) : be_(be), op_(c.op), t_(c.param("T")), d_(c.param("D")) {
    const std::string key = c.key();
    const bool add = op_ == "add_rmsnorm_quant", relu = op_ == "relu2_mul_rmsnorm_quant";
    a_ = randn(size_t(t_ * d_), detail::seed_of(key, 1), relu ? 2.0f : add ? 3.0f : 4.0f);
    b_ = randn(size_t(t_ * d_), detail::seed_of(key, 2), relu ? 2.0f : 0.5f);  // about half the gate is negative
    w_ = randn(size_t(d_), detail::seed_of(key, 3));
    at_ = be.upload_tensor(a_.data(), DType::F32, {t_, d_});
    bt_ = be.upload_tensor(b_.data(), DType::F32, {t_, d_});
    wt_ = be.upload_tensor(w_.data(), DType::F32, {1, d_});
    q_ = Guarded(be, DType::I8, {t_, d_});
    s_ = Guarded(be, DType::F32, {t_, 1});
  }
  void run(size_t) override {
    QuantAct q{q_.t, s_.t};
    if (op_ == "rmsnorm_quant") be_.rmsnorm_quant(at_, wt_, 1e-5f, q);
    else if (op_ == "add_rmsnorm_quant") be_.add_rmsnorm_quant(at_, bt_, wt_, 1e-5f, q);  // at_ += bt_
    else be_.relu2_mul_rmsnorm_quant(at_, bt_, wt_, 1e-5f, q);
  }
  // After exactly one run(): the add updates its input in place.
  Outcome verify() override {
    const HostQuant fused = fetch_quant(be_, {q_.t, s_.t});
    Tensor a = be_.upload_tensor(a_.data(), DType::F32, {t_, d_});
    QuantAct split = new_quant(be_, t_, d_);
    Outcome o;
    if (op_ == "rmsnorm_quant") {
      Tensor normed = be_.new_tensor(DType::F32, {t_, d_});
      be_.rmsnorm(a, wt_, 1e-5f, normed);
      be_.quantize_act(normed, split);
      o = detail::exact_outcome(same(fused, fetch_quant(be_, split)), "differs from rmsnorm then quantize_act");
      // Within one int8 step of the reference (the norm's rounding may differ).
      std::vector<float> rn(a_.size());
      ref::rmsnorm(a_.data(), w_.data(), t_, d_, 1e-5f, rn.data());
      std::vector<int8_t> rq(a_.size());
      std::vector<float> rs(static_cast<size_t>(t_));
      ref::quantize_act(rn.data(), t_, d_, rq.data(), rs.data());
      for (size_t i = 0; i < rq.size(); ++i)
        if (std::abs(int(fused.q[i]) - int(rq[i])) > 1) {
          detail::require(o, false, fmt::format("code {} is {} steps from the reference's", i,
                                                std::abs(int(fused.q[i]) - int(rq[i]))));
          break;
        }
    } else if (op_ == "add_rmsnorm_quant") {
      be_.add(a, bt_, a);
      be_.rmsnorm_quant(a, wt_, 1e-5f, split);
      const auto sum = detail::fetch<float>(be_, at_);
      o = detail::exact_outcome(same(fused, fetch_quant(be_, split)), "differs from add then rmsnorm_quant");
      detail::require(o, detail::same_bits(sum, detail::fetch<float>(be_, a)), "the residual sum differs from add's");
      // The residual sum is one fp32 add per element, so it is the reference's too.
      std::vector<float> want(a_.size());
      ref::add(a_.data(), b_.data(), t_ * d_, want.data());
      detail::require(o, detail::same_bits(sum, want), "the residual sum differs from the reference's");
    } else {
      Tensor f = be_.new_tensor(DType::F32, {t_, d_});
      be_.relu2_mul(a, bt_, f);
      be_.rmsnorm_quant(f, wt_, 1e-5f, split);
      o = detail::exact_outcome(same(fused, fetch_quant(be_, split)), "differs from relu2_mul then rmsnorm_quant");
      detail::require(o, detail::same_bits(detail::fetch<float>(be_, at_), a_), "the gate input was changed");
    }
    detail::require_guards(o, {&q_, &s_});
    return o;
  }

 private:
  Backend& be_;
  std::string op_;
  int64_t t_, d_;
  std::vector<float> a_, b_, w_;
  Tensor at_, bt_, wt_;
  Guarded q_, s_;
};

// In place: verify() holds after exactly one run().
class RopeQkRun : public Prepared {
 public:
  RopeQkRun(Backend& be, const OpCase& c, double theta)
      : be_(be),
        t_(c.param("T")),
        pq_{c.param("heads"), c.param("hd"), c.param("pos"), theta},
        pk_{c.param("kv_heads"), c.param("hd"), c.param("pos"), theta} {
    q_ = randn(size_t(t_ * pq_.n_heads * pq_.head_dim), detail::seed_of(c.key(), 1));
    k_ = randn(size_t(t_ * pk_.n_heads * pk_.head_dim), detail::seed_of(c.key(), 2));
    qt_ = be.upload_tensor(q_.data(), DType::F32, {t_, pq_.n_heads * pq_.head_dim});
    kt_ = be.upload_tensor(k_.data(), DType::F32, {t_, pk_.n_heads * pk_.head_dim});
  }
  void run(size_t) override { be_.rope_qk(qt_, pq_, kt_, pk_); }
  Outcome verify() override {
    Tensor sq = be_.upload_tensor(q_.data(), DType::F32, qt_.shape);
    Tensor sk = be_.upload_tensor(k_.data(), DType::F32, kt_.shape);
    be_.rope(sq, pq_);
    be_.rope(sk, pk_);
    Outcome o = detail::exact_outcome(
        detail::same_bits(detail::fetch<float>(be_, qt_), detail::fetch<float>(be_, sq)), "q differs from rope on q");
    detail::require(o, detail::same_bits(detail::fetch<float>(be_, kt_), detail::fetch<float>(be_, sk)),
                    "k differs from rope on k");
    return o;
  }

 private:
  Backend& be_;
  int64_t t_;
  RopeParams pq_, pk_;
  std::vector<float> q_, k_;
  Tensor qt_, kt_;
};

OpCase fused_norm_case(const char* op, int64_t t, int64_t d, double bytes) {
  OpCase c;
  c.op = op;
  c.params = {{"D", d}, {"T", t}};
  c.tolerance = Tolerance::exact();
  c.bytes = bytes;
  c.ops = 6.0 * double(t * d);
  c.prepare = [c](Backend& be, size_t) -> std::unique_ptr<Prepared> { return std::make_unique<FusedNormRun>(be, c); };
  return c;
}

}  // namespace

OpCase rmsnorm_quant_case(int64_t t, int64_t d) {
  return fused_norm_case("rmsnorm_quant", t, d, double(t * d) * 5 + double(d) * 4 + double(t) * 4);
}
OpCase add_rmsnorm_quant_case(int64_t t, int64_t d) {
  return fused_norm_case("add_rmsnorm_quant", t, d, double(t * d) * 13 + double(d) * 4 + double(t) * 4);
}
OpCase relu2_mul_rmsnorm_quant_case(int64_t t, int64_t d) {
  return fused_norm_case("relu2_mul_rmsnorm_quant", t, d, double(t * d) * 9 + double(d) * 4 + double(t) * 4);
}

OpCase rope_qk_case(int64_t q_heads, int64_t k_heads, int64_t head_dim, int64_t pos0, int64_t t, double theta) {
  OpCase c;
  c.op = "rope_qk";
  c.params = {{"heads", q_heads}, {"kv_heads", k_heads}, {"hd", head_dim}, {"pos", pos0}, {"T", t}};
  c.tolerance = Tolerance::exact();
  c.bytes = double(t * (q_heads + k_heads) * head_dim) * 8;
  c.ops = 3.0 * double(t * (q_heads + k_heads) * head_dim);
  c.prepare = [c, theta](Backend& be, size_t) -> std::unique_ptr<Prepared> {
    return std::make_unique<RopeQkRun>(be, c, theta);
  };
  return c;
}

}  // namespace bitlab::opcase

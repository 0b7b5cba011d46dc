// The activation quantiser: codes and scale bits equal to the reference's.
#include <string>

#include <fmt/format.h>

#include "harness/op_cases/case_util.h"
#include "harness/op_cases/families.h"
#include "model/reference.h"

namespace bitlab::opcase {
namespace {

using detail::Guarded;

class QuantizeRun : public Prepared {
 public:
  QuantizeRun(Backend& be, const OpCase& c) : be_(be), t_(c.param("T")), k_(c.param("K")) {
    x_ = randn(size_t(t_ * k_), detail::seed_of(c.key(), 1), 3.0f);
    if (t_ > 1) std::fill(x_.begin() + k_, x_.begin() + 2 * k_, 0.0f);  // an all-zero row
    if (k_ >= 4) {  // exact .5 boundaries once scaled: absmax 127 gives s = 1
      x_[0] = 127.0f;
      x_[1] = 2.5f;
      x_[2] = -0.5f;
      x_[3] = 3.5f;
    }
    x_t_ = be.upload_tensor(x_.data(), DType::F32, {t_, k_});
    q_ = Guarded(be, DType::I8, {t_, k_});
    s_ = Guarded(be, DType::F32, {t_, 1});
  }
  void run(size_t) override {
    QuantAct qa{q_.t, s_.t};
    be_.quantize_act(x_t_, qa);
  }
  Outcome verify() override {
    std::vector<int8_t> want_q(size_t(t_ * k_));
    std::vector<float> want_s(static_cast<size_t>(t_));
    ref::quantize_act(x_.data(), t_, k_, want_q.data(), want_s.data());
    const auto got_q = detail::fetch<int8_t>(be_, q_.t);
    const auto got_s = detail::fetch<float>(be_, s_.t);
    const size_t bad_q = detail::first_difference(got_q, want_q), bad_s = detail::first_difference(got_s, want_s);
    // The detail names the first difference; nothing is indexed when there is none.
    std::string why;
    if (bad_q < want_q.size())
      why = fmt::format("code {}: got {}, want {}", bad_q, got_q[bad_q], want_q[bad_q]);
    else if (bad_s < want_s.size())
      why = fmt::format("scale of row {}: got {}, want {}", bad_s, got_s[bad_s], want_s[bad_s]);
    Outcome o = detail::exact_outcome(why.empty(), why);
    detail::require_guards(o, {&q_, &s_});
    return o;
  }

 private:
  Backend& be_;
  int64_t t_, k_;
  std::vector<float> x_;
  Tensor x_t_;
  Guarded q_, s_;
};

}  // namespace

OpCase quantize_act_case(int64_t t, int64_t k) {
  OpCase c;
  c.op = "quantize_act";
  c.params = {{"K", k}, {"T", t}};
  c.tolerance = Tolerance::exact();
  c.bytes = double(t * k) * 4 + double(t * k) + double(t) * 4;
  c.ops = 3.0 * double(t * k);  // |x|, the max, the scaled rounding
  c.prepare = [c](Backend& be, size_t) -> std::unique_ptr<Prepared> { return std::make_unique<QuantizeRun>(be, c); };
  return c;
}

}  // namespace bitlab::opcase

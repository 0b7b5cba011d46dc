// The BitLinear matmul: int8 activations x ternary weights, bit-exact.
#include <fmt/format.h>

#include "harness/op_cases/case_util.h"
#include "harness/op_cases/families.h"
#include "model/reference.h"
#include "model/weights/canonical.h"
#include "model/weights/synthetic.h"

namespace bitlab::opcase {
namespace {

using detail::Guarded;

CanonicalTernary random_part(const std::string& name, int64_t n, int64_t k, uint64_t seed, float scale) {
  SplitMix64 g(seed);
  std::vector<int8_t> codes(size_t(n * k));
  for (int8_t& c : codes) c = int8_t(int(g.next() % 3) - 1);
  return pack_ternary(name, n, k, codes, scale);
}

class MatmulRun : public Prepared {
 public:
  MatmulRun(Backend& be, const OpCase& c, const std::vector<int64_t>& rows, const std::vector<float>& scales,
            size_t copies)
      : be_(be), t_(c.param("T")), k_(c.param("K")) {
    const std::string key = c.key();
    std::vector<const CanonicalTernary*> ptrs;
    for (size_t i = 0; i < rows.size(); ++i)
      parts_.push_back(random_part(fmt::format("{}.{}", c.label, i), rows[i], k_, detail::seed_of(key, 10 + i),
                                   scales.empty() ? 0.02f : scales[i]));
    for (const auto& p : parts_) ptrs.push_back(&p);
    for (size_t i = 0; i < copies; ++i) weights_.push_back(be.upload(ptrs));
    const std::vector<float> x = randn(size_t(t_ * k_), detail::seed_of(key, 1));
    xq_.resize(size_t(t_ * k_));
    s_.resize(size_t(t_));
    ref::quantize_act(x.data(), t_, k_, xq_.data(), s_.data());
    act_ = {be.upload_tensor(xq_.data(), DType::I8, {t_, k_}), be.upload_tensor(s_.data(), DType::F32, {t_, 1})};
    for (int64_t r : rows) {
      outs_.emplace_back(be, DType::F32, Shape{t_, r});
      ys_.push_back(outs_.back().t);
    }
  }
  void run(size_t copy) override { be_.matmul_w2a8(act_, weights_[copy % weights_.size()], ys_); }
  Outcome verify() override {
    Outcome o = detail::exact_outcome(true, "");
    for (size_t i = 0; i < parts_.size(); ++i) {
      const CanonicalTernary& p = parts_[i];
      std::vector<float> want(size_t(t_ * p.n));
      ref::matmul_w2a8(xq_.data(), s_.data(), t_, p.packed.data(), p.n, k_, p.scale, want.data(), p.n);
      const std::vector<float> got = detail::fetch<float>(be_, ys_[i]);
      const size_t at = detail::first_difference(got, want);
      if (at == want.size()) continue;
      o.bit_exact = false;
      const int64_t tok = int64_t(at) / p.n, row = int64_t(at) % p.n;
      detail::require(o, false,
                      fmt::format("part {} [{}x{}]: token {} row {}: got {}, want {} (acc {})", p.name, p.n, k_, tok,
                                  row, got[at], want[at], ref::ternary_dot(p.row(row), xq_.data() + tok * k_, k_)));
    }
    for (const Guarded& g : outs_) detail::require_guards(o, {&g});
    return o;
  }

 private:
  Backend& be_;
  int64_t t_, k_;
  std::vector<CanonicalTernary> parts_;
  std::vector<TernaryWeight> weights_;
  std::vector<int8_t> xq_;
  std::vector<float> s_;
  QuantAct act_;
  std::vector<Guarded> outs_;
  std::vector<Tensor> ys_;
};

}  // namespace

OpCase matmul_case(const std::string& label, const std::vector<int64_t>& parts, int64_t k, int64_t t,
                   const std::vector<float>& part_scales) {
  int64_t n = 0;
  for (int64_t r : parts) n += r;
  OpCase c;
  c.op = "matmul_w2a8";
  c.label = label;
  c.params = {{"N", n}, {"K", k}, {"T", t}};
  c.tolerance = Tolerance::exact();
  c.weight_bytes = size_t(n) * size_t(k) / 4;  // 2-bit codes
  c.bytes = double(c.weight_bytes) + double(t * k) + double(t * n) * 4;
  c.ops = 2.0 * double(n) * double(k) * double(t);
  c.prepare = [c, parts, part_scales](Backend& be, size_t copies) -> std::unique_ptr<Prepared> {
    return std::make_unique<MatmulRun>(be, c, parts, part_scales, copies);
  };
  return c;
}

}  // namespace bitlab::opcase

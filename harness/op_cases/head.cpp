// The embedding lookup, the bf16 and int8 LM heads and argmax.
#include <fmt/format.h>

#include "harness/op_cases/case_util.h"
#include "harness/op_cases/families.h"
#include "model/reference.h"
#include "model/transformer.h"
#include "model/weights/synthetic.h"

namespace bitlab::opcase {
namespace {

using detail::Guarded;

// A bf16 [vocab, d] table ≈ N(0, 0.05²), the statistics of the release's embedding.
std::vector<uint16_t> bf16_table(int64_t vocab, int64_t d, uint64_t seed) {
  std::vector<uint16_t> table(size_t(vocab * d));
  SplitMix64 g(seed);
  for (uint16_t& v : table) v = f32_to_bf16(0.05f * g.normal());
  return table;
}

class EmbedRun : public Prepared {
 public:
  EmbedRun(Backend& be, const OpCase& c) : be_(be), vocab_(c.param("V")), d_(c.param("D")) {
    table_ = bf16_table(vocab_, d_, detail::seed_of(c.key(), 1));
    ids_ = {0, int32_t(vocab_ - 1), int32_t(5 % vocab_)};
    tab_ = be.upload_tensor(table_.data(), DType::BF16, {vocab_, d_});
    idt_ = be.upload_tensor(ids_.data(), DType::I32, {3, 1});
    out_ = Guarded(be, DType::F32, {3, d_});
  }
  void run(size_t) override { be_.embed(idt_, tab_, out_.t); }
  Outcome verify() override {
    std::vector<float> want(size_t(3 * d_));
    ref::embed(ids_.data(), 3, table_.data(), vocab_, d_, want.data());
    Outcome o = detail::exact_outcome(detail::same_bits(detail::fetch<float>(be_, out_.t), want),
                                      "rows differ from the table's");
    detail::require_guards(o, {&out_});
    return o;
  }

 private:
  Backend& be_;
  int64_t vocab_, d_;
  std::vector<uint16_t> table_;
  std::vector<int32_t> ids_;
  Tensor tab_, idt_;
  Guarded out_;
};

class LmHeadRun : public Prepared {
 public:
  LmHeadRun(Backend& be, const OpCase& c, size_t copies)
      : be_(be), vocab_(c.param("N")), d_(c.param("K")), t_(c.param("T")) {
    table_ = bf16_table(vocab_, d_, detail::seed_of(c.key(), 1));
    for (size_t i = 0; i < copies; ++i) tabs_.push_back(be.upload_tensor(table_.data(), DType::BF16, {vocab_, d_}));
    x_ = randn(size_t(t_ * d_), detail::seed_of(c.key(), 2));
    xt_ = be.upload_tensor(x_.data(), DType::F32, {t_, d_});
    out_ = Guarded(be, DType::F32, {t_, vocab_});
  }
  void run(size_t copy) override { be_.lm_head(xt_, tabs_[copy % tabs_.size()], out_.t); }
  Outcome verify() override {
    std::vector<float> want(size_t(t_ * vocab_));
    ref::lm_head(x_.data(), t_, table_.data(), vocab_, d_, want.data());
    Outcome o = detail::nmse_outcome(detail::fetch<float>(be_, out_.t), want, kNmseReordered);
    detail::require_guards(o, {&out_});
    return o;
  }

 private:
  Backend& be_;
  int64_t vocab_, d_, t_;
  std::vector<uint16_t> table_;
  std::vector<Tensor> tabs_;
  std::vector<float> x_;
  Tensor xt_;
  Guarded out_;
};

class ArgmaxRun : public Prepared {
 public:
  ArgmaxRun(Backend& be, const OpCase& c) : be_(be), vocab_(c.param("V")), t_(c.param("T")) {
    logits_ = randn(size_t(t_ * vocab_), detail::seed_of(c.key(), 1), 3.0f);
    // A tie in every row: the largest value again further on; the first must win.
    for (int64_t row = 0; row < t_ && vocab_ > 1; ++row) {
      float* r = logits_.data() + row * vocab_;
      const int64_t top = std::max_element(r, r + vocab_ - 1) - r;
      r[vocab_ - 1] = r[top];
    }
    lt_ = be.upload_tensor(logits_.data(), DType::F32, {t_, vocab_});
    ids_ = Guarded(be, DType::I32, {t_, 1});
  }
  void run(size_t) override { be_.argmax(lt_, ids_.t); }
  Outcome verify() override {
    std::vector<int32_t> want(static_cast<size_t>(t_));
    ref::argmax(logits_.data(), t_, vocab_, want.data());
    const auto got = detail::fetch<int32_t>(be_, ids_.t);
    const size_t at = detail::first_difference(got, want);
    Outcome o = detail::exact_outcome(at == want.size(), at < want.size() ? fmt::format("row {}: got {}, want {}", at,
                                                                                         got[at], want[at])
                                                                           : "");
    detail::require_guards(o, {&ids_});
    return o;
  }

 private:
  Backend& be_;
  int64_t vocab_, t_;
  std::vector<float> logits_;
  Tensor lt_;
  Guarded ids_;
};

// The int8 head on a bf16 table quantised as the Transformer quantises it.
class LmHeadI8Run : public Prepared {
 public:
  LmHeadI8Run(Backend& be, const OpCase& c, size_t copies)
      : be_(be), vocab_(c.param("N")), d_(c.param("K")), t_(c.param("T")) {
    const std::vector<uint16_t> table = bf16_table(vocab_, d_, detail::seed_of(c.key(), 1));
    q_.resize(table.size());
    sv_.resize(size_t(vocab_));
    quantize_head_parallel(table.data(), vocab_, d_, q_.data(), sv_.data());
    for (size_t i = 0; i < copies; ++i)
      tables_.push_back({be.upload_tensor(q_.data(), DType::I8, {vocab_, d_}),
                         be.upload_tensor(sv_.data(), DType::F32, {vocab_, 1})});
    const std::vector<float> x = randn(size_t(t_ * d_), detail::seed_of(c.key(), 2));
    xq_.resize(x.size());
    sx_.resize(size_t(t_));
    ref::quantize_act(x.data(), t_, d_, xq_.data(), sx_.data());
    act_ = {be.upload_tensor(xq_.data(), DType::I8, {t_, d_}), be.upload_tensor(sx_.data(), DType::F32, {t_, 1})};
    out_ = Guarded(be, DType::F32, {t_, vocab_});
  }
  void run(size_t copy) override { be_.lm_head_i8(act_, tables_[copy % tables_.size()], out_.t); }
  Outcome verify() override {
    std::vector<float> want(size_t(t_ * vocab_));
    ref::lm_head_i8(xq_.data(), sx_.data(), t_, q_.data(), sv_.data(), vocab_, d_, want.data());
    const auto got = detail::fetch<float>(be_, out_.t);
    const size_t at = detail::first_difference(got, want);
    Outcome o = detail::exact_outcome(
        at == want.size(), at < want.size() ? fmt::format("token {} row {}: got {}, want {}", int64_t(at) / vocab_,
                                                          int64_t(at) % vocab_, got[at], want[at])
                                            : "");
    detail::require_guards(o, {&out_});
    return o;
  }

 private:
  Backend& be_;
  int64_t vocab_, d_, t_;
  std::vector<int8_t> q_, xq_;
  std::vector<float> sv_, sx_;
  std::vector<HeadTable> tables_;
  QuantAct act_;
  Guarded out_;
};

}  // namespace

OpCase embed_case(int64_t vocab, int64_t d) {
  OpCase c;
  c.op = "embed";
  c.params = {{"V", vocab}, {"D", d}};
  c.tolerance = Tolerance::exact();
  c.bytes = 3.0 * double(d) * 2 + 3 * 4 + 3.0 * double(d) * 4;
  c.ops = 3.0 * double(d);
  c.prepare = [c](Backend& be, size_t) -> std::unique_ptr<Prepared> { return std::make_unique<EmbedRun>(be, c); };
  return c;
}

OpCase lm_head_case(int64_t vocab, int64_t d, int64_t t) {
  OpCase c;
  c.op = "lm_head";
  c.label = "head";
  c.params = {{"N", vocab}, {"K", d}, {"T", t}};
  c.tolerance = Tolerance::within(kNmseReordered);
  c.weight_bytes = size_t(vocab) * size_t(d) * 2;  // bf16 table
  c.bytes = double(c.weight_bytes) + double(t * d) * 4 + double(t * vocab) * 4;
  c.ops = 2.0 * double(vocab) * double(d) * double(t);
  c.prepare = [c](Backend& be, size_t copies) -> std::unique_ptr<Prepared> {
    return std::make_unique<LmHeadRun>(be, c, copies);
  };
  return c;
}

OpCase argmax_case(int64_t vocab, int64_t t) {
  OpCase c;
  c.op = "argmax";
  c.params = {{"V", vocab}, {"T", t}};
  c.tolerance = Tolerance::exact();
  c.bytes = double(t * vocab) * 4 + double(t) * 4;
  c.ops = double(t * vocab);
  c.prepare = [c](Backend& be, size_t) -> std::unique_ptr<Prepared> { return std::make_unique<ArgmaxRun>(be, c); };
  return c;
}

OpCase lm_head_i8_case(int64_t vocab, int64_t d, int64_t t) {
  OpCase c;
  c.op = "lm_head_i8";
  c.label = "head";
  c.params = {{"N", vocab}, {"K", d}, {"T", t}};
  c.tolerance = Tolerance::exact();
  c.weight_bytes = size_t(vocab) * size_t(d) + size_t(vocab) * 4;  // int8 table and its row factors
  c.bytes = double(c.weight_bytes) + double(t * d) + double(t * vocab) * 4;
  c.ops = 2.0 * double(vocab) * double(d) * double(t);
  c.prepare = [c](Backend& be, size_t copies) -> std::unique_ptr<Prepared> {
    return std::make_unique<LmHeadI8Run>(be, c, copies);
  };
  return c;
}

}  // namespace bitlab::opcase

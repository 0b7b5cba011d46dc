// The network end to end on every usable backend and the oracle: prefill and
// decode agree, teacher forcing agrees with step-by-step decoding, generation
// is reproducible, and each backend's logits track the reference.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <span>
#include <string>

#include "harness/correctness.h"
#include "model/error.h"
#include "model/reference_backend.h"
#include "kernels/registry.h"
#include "model/sampling.h"
#include "model/transformer.h"
#include "tests/test_util.h"

namespace bitlab {
namespace {

using test::nmse;

const ModelWeights& weights(const std::string& config) {
  static std::map<std::string, ModelWeights> cache;
  auto it = cache.find(config);
  if (it == cache.end()) it = cache.emplace(config, synthetic_weights(config_by_name(config), 5)).first;
  return it->second;
}

std::vector<int32_t> prompt(const ModelConfig& c, size_t n) {
  SplitMix64 g(99);
  std::vector<int32_t> p{c.bos};
  while (p.size() < n) p.push_back(int32_t(3 + g.next() % uint64_t(c.vocab - 3)));
  return p;
}

std::unique_ptr<Backend> backend(const std::string& name) {
  return name == "reference" ? make_reference_backend({}) : make_backend(name, BackendOptions{.threads = 2, .device = 0});
}

std::vector<std::string> backends_and_oracle() {
  auto v = usable_backends();
  v.push_back("reference");
  return v;
}

struct Case {
  std::string backend, config;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.backend << " on " << c.config; }
std::vector<Case> cases() {
  std::vector<Case> out;
  for (const auto& b : backends_and_oracle())
    for (const char* c : {"tiny", "2b4t-1layer"}) out.push_back({b, c});
  return out;
}

class TransformerE2E : public ::testing::TestWithParam<Case> {};

TEST_P(TransformerE2E, PrefillThenDecodeEqualsLongerPrefill) {
  const ModelWeights& w = weights(GetParam().config);
  auto be = backend(GetParam().backend);
  const auto p = prompt(w.config, 9);
  Transformer a(*be, w, 16);
  a.forward(std::span(p).first(8));
  const auto decoded = a.forward(std::span(p).subspan(8, 1));
  EXPECT_EQ(a.pos(), 9);
  Transformer b(*be, w, 16);
  const auto prefilled = b.forward(p);
  ASSERT_EQ(decoded.size(), size_t(w.config.vocab));
  EXPECT_LT(nmse(decoded, prefilled), 1e-10);
}

TEST_P(TransformerE2E, TeacherForcedLogitsMatchStepByStep) {
  const ModelWeights& w = weights(GetParam().config);
  auto be = backend(GetParam().backend);
  const auto p = prompt(w.config, 6);
  Transformer all(*be, w, 8);
  const auto rows = all.forward(p, /*all_logits=*/true);
  ASSERT_EQ(rows.size(), p.size() * size_t(w.config.vocab));
  Transformer step(*be, w, 8);
  for (size_t i = 0; i < p.size(); ++i) {
    const auto l = step.forward(std::span(p).subspan(i, 1));
    const std::span<const float> row(rows.data() + i * size_t(w.config.vocab), size_t(w.config.vocab));
    EXPECT_LT(nmse(l, row), 1e-10) << "position " << i;
  }
}

TEST_P(TransformerE2E, GreedyGenerationIsReproducibleAndMatchesTheOracle) {
  const ModelWeights& w = weights(GetParam().config);
  auto be = backend(GetParam().backend);
  const auto p = prompt(w.config, 5);
  Transformer m(*be, w, 16);
  const auto first = generate(m, p, 8, SamplingParams{}).tokens;
  m.reset();
  EXPECT_EQ(generate(m, p, 8, SamplingParams{}).tokens, first);

  auto oracle = make_reference_backend({});
  Transformer r(*oracle, w, 16);
  EXPECT_EQ(generate(r, p, 8, SamplingParams{}).tokens, first);
  // Device argmax and host argmax over the downloaded logits agree.
  m.reset();
  Sampler greedy(SamplingParams{});
  EXPECT_EQ(greedy.sample(m.forward(p)), first[0]);
}

TEST_P(TransformerE2E, LogitsTrackTheReference) {
  // Backends differ from the oracle only in float summation order (and the rare
  // int8 rounding flip it causes); this bounds the end-to-end effect.
  const ModelWeights& w = weights(GetParam().config);
  auto be = backend(GetParam().backend);
  auto oracle = make_reference_backend({});
  const auto p = prompt(w.config, 7);
  Transformer m(*be, w, 8), r(*oracle, w, 8);
  const auto got = m.forward(p, true), want = r.forward(p, true);
  EXPECT_LT(nmse(got, want), 1e-8);
}

TEST_P(TransformerE2E, Int8HeadTracksTheOraclesInt8Head) {
  // The same bound as above, for the int8 head (ops.h HeadTable).
  const ModelWeights& w = weights(GetParam().config);
  auto be = backend(GetParam().backend);
  auto oracle = make_reference_backend({});
  const auto p = prompt(w.config, 7);
  Transformer m(*be, w, 12, {}, HeadKind::Int8), r(*oracle, w, 12, {}, HeadKind::Int8);
  EXPECT_EQ(m.head(), HeadKind::Int8);
  const auto got = m.forward(p, true), want = r.forward(p, true);
  EXPECT_LT(nmse(got, want), 1e-8);
  m.reset();
  r.reset();
  EXPECT_EQ(generate(m, p, 4, SamplingParams{}).tokens, generate(r, p, 4, SamplingParams{}).tokens);
}

std::string case_name(const ::testing::TestParamInfo<Case>& info) {
  std::string n = info.param.backend + "_" + info.param.config;
  for (char& ch : n)
    if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
  return n;
}
INSTANTIATE_TEST_SUITE_P(All, TransformerE2E, ::testing::ValuesIn(cases()), case_name);

TEST(Transformer, SamplingIsSeededAndTopKBounded) {
  const ModelWeights& w = weights("tiny");
  auto be = make_backend("scalar", BackendOptions{.threads = 1, .device = 0});
  const auto p = prompt(w.config, 4);
  Transformer m(*be, w, 40);
  auto run = [&](uint64_t seed, int64_t top_k) {
    m.reset();
    return generate(m, p, 32, SamplingParams{1.0f, top_k, seed}).tokens;
  };
  const auto a = run(1, 0);
  EXPECT_EQ(run(1, 0), a);
  EXPECT_NE(run(2, 0), a);
  // top-k 1 is greedy whatever the temperature.
  m.reset();
  const auto greedy = generate(m, p, 32, SamplingParams{}).tokens;
  EXPECT_EQ(run(3, 1), greedy);
}

// Greedy decoding (SamplingParams{}), so every run gives the same tokens to compare.
TEST(Transformer, GreedyGenerationStopsAfterAStopTokenAndStreamsEachToken) {
  const ModelWeights& w = weights("tiny");
  auto be = make_backend("scalar", BackendOptions{.threads = 1, .device = 0});
  const auto p = prompt(w.config, 4);
  Transformer m(*be, w, 40);
  const auto all = generate(m, p, 12, SamplingParams{}).tokens;
  ASSERT_EQ(all.size(), 12u);
  // Stop at the fourth token's id: generation ends at its first occurrence, kept.
  const int32_t stop = all[3];
  const auto first = std::find(all.begin(), all.end(), stop);
  const std::vector<int32_t> want(all.begin(), first + 1);
  m.reset();
  std::vector<int32_t> streamed;
  const GenerateResult r = generate(
      m, p, 12, SamplingParams{},
      [&](int64_t i, int32_t id) {
        EXPECT_EQ(i, int64_t(streamed.size()));
        streamed.push_back(id);
      },
      [&](int32_t id) { return id == stop; });
  EXPECT_TRUE(r.stopped);
  EXPECT_EQ(r.tokens, want);
  EXPECT_EQ(streamed, want);
  EXPECT_EQ(r.decode_seconds.size(), want.size() - 1);
  // A stop at the first token (from the prefill): no decode step at all.
  m.reset();
  const GenerateResult at_once = generate(m, p, 12, SamplingParams{}, {}, [&](int32_t id) { return id == all[0]; });
  EXPECT_TRUE(at_once.stopped);
  EXPECT_EQ(at_once.tokens, std::vector<int32_t>{all[0]});
  EXPECT_TRUE(at_once.decode_seconds.empty());
  // A stop rule that never fires: all the tokens, not stopped.
  m.reset();
  const GenerateResult full = generate(m, p, 12, SamplingParams{}, {}, [](int32_t) { return false; });
  EXPECT_FALSE(full.stopped);
  EXPECT_EQ(full.tokens, all);
}

// The int8 head's accuracy cost against the bf16 head, over teacher-forced
// positions of a synthetic model: top-1 agreement and mean KL(bf16 || int8) of
// the next-token distributions, recorded as test properties (and printed).
// The bounds sit below what these models measure; they catch a broken
// quantisation (wrong scale, lost sign), which drops agreement to chance.
void int8_head_cost(const std::string& config, double min_top1, double max_kl) {
  const ModelWeights& w = weights(config);
  auto be = make_backend(usable_backends().front(), BackendOptions{.threads = 2, .device = 0});
  const int64_t n = 48;
  const auto p = prompt(w.config, size_t(n));
  Transformer bf(*be, w, n, {}, HeadKind::BF16), i8(*be, w, n, {}, HeadKind::Int8);
  const auto a = bf.forward(p, true), b = i8.forward(p, true);
  // The harness's own end-to-end metrics (bitlab check): KL(bf16 || int8), top-1.
  const CheckRecord r = compare_logits(b, a, w.config.vocab);
  const double top1 = *r.top1_agreement, kl = *r.kl_divergence;
  ::testing::Test::RecordProperty("int8_head_top1_agreement", std::to_string(top1));
  ::testing::Test::RecordProperty("int8_head_mean_kl", std::to_string(kl));
  std::printf("int8 head on %s (%s): top-1 agreement %.4f, mean KL %.3g nats over %lld positions\n", config.c_str(),
              be->info().backend.c_str(), top1, kl, static_cast<long long>(n));
  EXPECT_GE(top1, min_top1);
  EXPECT_LE(kl, max_kl);
}

TEST(Int8Head, AccuracyCostOnTiny) { int8_head_cost("tiny", 0.9, 1e-3); }
TEST(Int8Head, AccuracyCostOn2b4tOneLayer) { int8_head_cost("2b4t-1layer", 0.9, 1e-3); }

TEST(Int8Head, UnknownHeadNameIsRefused) {
  EXPECT_EQ(parse_head("int8"), HeadKind::Int8);
  EXPECT_EQ(parse_head("bf16"), HeadKind::BF16);
  EXPECT_THROW(parse_head("int4"), UsageError);
}

TEST(Transformer, RejectsBadInput) {
  const ModelWeights& w = weights("tiny");
  auto be = make_backend("scalar", BackendOptions{.threads = 1, .device = 0});
  Transformer m(*be, w, 4);
  const std::vector<int32_t> five(5, 3);
  EXPECT_THROW(m.forward(five), UsageError);  // longer than the cache
  const std::vector<int32_t> bad = {3, int32_t(w.config.vocab)};
  EXPECT_THROW(m.forward(bad), UsageError);
  EXPECT_THROW(m.forward({}), UsageError);
  EXPECT_THROW(Transformer(*be, w, 0), UsageError);
  EXPECT_THROW(Transformer(*be, w, w.config.max_pos + 1), UsageError);
  ModelWeights broken = synthetic_weights(tiny_config(), 1);
  broken.layers[1].down.packed.resize(10);
  EXPECT_THROW(Transformer(*be, broken, 4), InputError);
  EXPECT_THROW(Sampler(SamplingParams{-1.0f, 0, 0}), UsageError);
}

// Forwards every op to another backend and counts the calls by name, to see
// which ops a forward step is made of. It does not forward synchronize(),
// begin_step()/end_step() or timer(): wrap a CPU backend only.
class CountingBackend final : public Backend {
 public:
  explicit CountingBackend(std::unique_ptr<Backend> inner) : in_(std::move(inner)) {}
  std::map<std::string, int> calls;

  const DeviceInfo& info() const override { return in_->info(); }
  std::shared_ptr<Buffer> alloc(size_t bytes) override { return in_->alloc(bytes); }
  TernaryWeight upload(std::span<const CanonicalTernary* const> parts) override { return in_->upload(parts); }

 protected:
  void embed_impl(const Tensor& t, const Tensor& table, Tensor& out) override {
    ++calls["embed"];
    in_->embed(t, table, out);
  }
  void rmsnorm_impl(const Tensor& x, const Tensor& w, float eps, Tensor& y) override {
    ++calls["rmsnorm"];
    in_->rmsnorm(x, w, eps, y);
  }
  void quantize_act_impl(const Tensor& x, QuantAct& q) override {
    ++calls["quantize_act"];
    in_->quantize_act(x, q);
  }
  void rmsnorm_quant_impl(const Tensor& x, const Tensor& w, float eps, QuantAct& q) override {
    ++calls["rmsnorm_quant"];
    in_->rmsnorm_quant(x, w, eps, q);
  }
  void add_rmsnorm_quant_impl(Tensor& h, const Tensor& d, const Tensor& w, float eps, QuantAct& q) override {
    ++calls["add_rmsnorm_quant"];
    in_->add_rmsnorm_quant(h, d, w, eps, q);
  }
  void relu2_mul_rmsnorm_quant_impl(const Tensor& g, const Tensor& u, const Tensor& w, float eps,
                                    QuantAct& q) override {
    ++calls["relu2_mul_rmsnorm_quant"];
    in_->relu2_mul_rmsnorm_quant(g, u, w, eps, q);
  }
  void matmul_w2a8_impl(const QuantAct& x, const TernaryWeight& w, std::span<Tensor> y) override {
    ++calls["matmul_w2a8"];
    in_->matmul_w2a8(x, w, y);
  }
  void rope_impl(Tensor& x, const RopeParams& p) override {
    ++calls["rope"];
    in_->rope(x, p);
  }
  void rope_qk_impl(Tensor& q, const RopeParams& pq, Tensor& k, const RopeParams& pk) override {
    ++calls["rope_qk"];
    in_->rope_qk(q, pq, k, pk);
  }
  void attention_impl(const Tensor& q, const Tensor& k, const Tensor& v, KvLayer& cache, const AttentionParams& p,
                      Tensor& out) override {
    ++calls["attention"];
    in_->attention(q, k, v, cache, p, out);
  }
  void relu2_mul_impl(const Tensor& g, const Tensor& u, Tensor& y) override {
    ++calls["relu2_mul"];
    in_->relu2_mul(g, u, y);
  }
  void add_impl(const Tensor& a, const Tensor& b, Tensor& y) override {
    ++calls["add"];
    in_->add(a, b, y);
  }
  void lm_head_impl(const Tensor& x, const Tensor& table, Tensor& logits) override {
    ++calls["lm_head"];
    in_->lm_head(x, table, logits);
  }
  void lm_head_i8_impl(const QuantAct& x, const HeadTable& table, Tensor& logits) override {
    ++calls["lm_head_i8"];
    in_->lm_head_i8(x, table, logits);
  }
  void argmax_impl(const Tensor& logits, Tensor& ids) override {
    ++calls["argmax"];
    in_->argmax(logits, ids);
  }

 private:
  std::unique_ptr<Backend> in_;
};

// A forward step is made of the fused ops (what a GPU's launch count rests on):
// per layer one matmul per projection group (qkv, o, gate/up, down), rope_qk,
// attention, the attention sub-norm, relu2_mul_rmsnorm_quant, and the two
// residual adds, each fused with the norm after it except the last layer's
// second, which the final (unquantised) norm follows.
TEST(Transformer, ForwardStepCallsTheFusedOps) {
  const ModelWeights& w = weights("tiny");
  auto counting = std::make_unique<CountingBackend>(make_backend("scalar", BackendOptions{.threads = 1, .device = 0}));
  CountingBackend& be = *counting;
  auto oracle = make_backend("scalar", BackendOptions{.threads = 1, .device = 0});
  Transformer m(be, w, 8), plain(*oracle, w, 8);
  const std::vector<int32_t> prompt = {w.config.bos, 7, 3};
  EXPECT_EQ(m.forward(prompt), plain.forward(prompt));  // counting changes nothing
  be.calls.clear();
  const int32_t next = 5;
  EXPECT_EQ(m.forward_argmax(std::span(&next, 1)), plain.forward_argmax(std::span(&next, 1)));
  const int layers = int(w.config.n_layers);
  const std::map<std::string, int> want = {
      {"embed", 1},        {"rmsnorm_quant", 1 + layers},  // the first layer's pre-norm, every attention sub-norm
      {"matmul_w2a8", 4 * layers},       {"rope_qk", layers},
      {"attention", layers},             {"add_rmsnorm_quant", 2 * layers - 1},
      {"relu2_mul_rmsnorm_quant", layers}, {"add", 1},
      {"rmsnorm", 1},                    {"lm_head", 1},
      {"argmax", 1}};
  EXPECT_EQ(be.calls, want);
}

}  // namespace
}  // namespace bitlab

// The per-op profiler (harness/op_profile.h): it changes no result, it times
// every op the Transformer issues (the counts follow from the model's config),
// and `run_e2e_benchmark` records its breakdown in the prefill measurement.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "harness/e2e_bench.h"
#include "harness/op_profile.h"
#include "kernels/registry.h"
#include "model/transformer.h"
#include "model/weights/synthetic.h"

namespace bitlab {
namespace {

// Three layers: a first, a middle and a last one (the last ends on add, not add_rmsnorm_quant).
const ModelWeights& weights() {
  static const ModelWeights w = [] {
    ModelConfig c = tiny_config();
    c.n_layers = 3;
    return synthetic_weights(c, 11);
  }();
  return w;
}

std::unique_ptr<Backend> backend(const std::string& name) { return make_backend(name, BackendOptions{.threads = 2}); }

// What one forward_argmax over a prompt issues, per op, from model/transformer.cpp's sequence.
std::map<std::string, int64_t> expected_calls(const ModelConfig& c, HeadKind head) {
  const int64_t L = c.n_layers;
  std::map<std::string, int64_t> m{
      {"embed", 1},
      {"rmsnorm_quant", 1 + L},  // layer 0's pre-norm, then each attention sub-norm
      {"matmul_w2a8/qkv", L},
      {"matmul_w2a8/o", L},
      {"matmul_w2a8/gate_up", L},
      {"matmul_w2a8/down", L},
      {"rope_qk", L},
      {"attention", L},
      {"add_rmsnorm_quant", 2 * L - 1},  // the FFN pre-norm, and the next layer's attention norm
      {"relu2_mul_rmsnorm_quant", L},
      {"add", 1},  // the last layer's residual
      {"rmsnorm", 1},
      {"argmax", 1},
  };
  if (head == HeadKind::Int8) {
    m["quantize_act"] = 1;
    m["lm_head_i8"] = 1;
  } else {
    m["lm_head"] = 1;
  }
  return m;
}

class OpProfile : public ::testing::TestWithParam<std::string> {};

TEST_P(OpProfile, LogitsAreBitIdentical) {
  auto be = backend(GetParam());
  const ModelWeights& w = weights();
  const std::vector<int32_t> prompt = seeded_prompt(w.config, 9, 5);
  Transformer plain(*be, w, 16);
  const std::vector<float> want = plain.forward(prompt, true);
  const std::vector<float> want_next = plain.forward(std::span(prompt).first(1));

  OpProfiler profiler(*be);
  Transformer wrapped(profiler, w, 16);
  for (bool timing : {false, true}) {
    wrapped.reset();
    if (timing) profiler.start();
    const std::vector<float> got = wrapped.forward(prompt, true);
    const std::vector<float> got_next = wrapped.forward(std::span(prompt).first(1));
    profiler.stop();
    ASSERT_EQ(got.size(), want.size());
    EXPECT_EQ(std::memcmp(got.data(), want.data(), want.size() * sizeof(float)), 0) << "prefill, timing " << timing;
    ASSERT_EQ(got_next.size(), want_next.size());
    EXPECT_EQ(std::memcmp(got_next.data(), want_next.data(), want_next.size() * sizeof(float)), 0)
        << "decode, timing " << timing;
  }
}

TEST_P(OpProfile, TimesEveryOpTheTransformerIssues) {
  auto be = backend(GetParam());
  const ModelWeights& w = weights();
  const std::vector<int32_t> prompt = seeded_prompt(w.config, 7, 5);
  for (HeadKind head : {HeadKind::BF16, HeadKind::Int8}) {
    OpProfiler profiler(*be);
    Transformer model(profiler, w, 16, {}, head);
    model.forward_argmax(prompt);  // untimed: nothing recorded
    EXPECT_TRUE(profiler.per_layer().empty());
    model.reset();
    profiler.start();
    model.forward_argmax(prompt);
    profiler.stop();
    std::map<std::string, int64_t> got;
    for (const OpTime& t : profiler.per_op()) {
      got[t.op] = t.calls;
      EXPECT_GE(t.seconds, 0.0) << t.op;
    }
    EXPECT_EQ(got, expected_calls(w.config, head)) << head_name(head);
    // Per layer: each decoder layer issues the same ten ops.
    std::map<int64_t, int64_t> per_layer;
    for (const OpTime& t : profiler.per_layer()) per_layer[t.layer] += t.calls;
    for (int64_t l = 0; l < w.config.n_layers; ++l) EXPECT_EQ(per_layer[l], 10) << "layer " << l;
    EXPECT_EQ(per_layer[kEmbedMark], 2);
    // start() forgets the previous run.
    profiler.start();
    profiler.stop();
    EXPECT_TRUE(profiler.per_layer().empty());
  }
}

TEST_P(OpProfile, PrefillMeasurementCarriesTheBreakdown) {
  auto be = backend(GetParam());
  const ModelWeights& w = weights();
  OpProfiler profiler(*be);
  Transformer model(profiler, w, 16);
  E2eOptions o;
  o.prompt_len = 8;
  o.gen = 2;
  o.prefill_repetitions = 2;
  o.model = "synthetic:tiny";
  o.profiler = &profiler;
  const std::vector<Measurement> ms = run_e2e_benchmark(model, w, o);
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_TRUE(ms[1].breakdown.empty()) << "decode is not profiled";
  const std::vector<OpShare>& b = ms[0].breakdown;
  ASSERT_FALSE(b.empty());
  double share = 0;
  int64_t calls = 0, others = 0;
  for (size_t i = 0; i < b.size(); ++i) {
    share += b[i].share;
    calls += b[i].calls;
    others += b[i].op == "other";
    EXPECT_GE(b[i].share, 0.0) << b[i].op;
    if (i > 0) {
      EXPECT_GE(b[i - 1].seconds, b[i].seconds) << "sorted by time";
    }
  }
  EXPECT_NEAR(share, 1.0, 1e-9);
  EXPECT_EQ(others, 1);
  int64_t want = 0;
  for (const auto& [op, n] : expected_calls(w.config, HeadKind::BF16)) want += n;
  EXPECT_EQ(calls, want);
  // Timing is off again for decode, and the JSON carries the entries.
  EXPECT_FALSE(profiler.timing());
  const nlohmann::json j = to_json(ms[0]);
  ASSERT_TRUE(j.contains("breakdown"));
  EXPECT_EQ(j["breakdown"].size(), b.size());
  EXPECT_FALSE(to_json(ms[1]).contains("breakdown"));
}

INSTANTIATE_TEST_SUITE_P(Backends, OpProfile, ::testing::ValuesIn(usable_backends()),
                         [](const ::testing::TestParamInfo<std::string>& i) { return i.param; });

TEST(OpBreakdown, SharesAddUpAndOtherIsTheRest) {
  const std::vector<OpTime> ops{{"matmul_w2a8/down", 0, 0.006, 3}, {"attention", 0, 0.002, 3}};
  const std::vector<OpShare> b = op_breakdown(ops, 0.010);
  ASSERT_EQ(b.size(), 3u);
  EXPECT_EQ(b[0].op, "matmul_w2a8/down");
  EXPECT_DOUBLE_EQ(b[0].share, 0.6);
  EXPECT_EQ(b[1].op, "attention");
  EXPECT_EQ(b[2].op, "other");
  EXPECT_NEAR(b[2].seconds, 0.002, 1e-12);
  EXPECT_EQ(b[2].calls, 0);
  // Ops summing a hair above the wall clock: no negative "other", shares still add to 1.
  const std::vector<OpShare> over = op_breakdown(ops, 0.0079);
  double share = 0;
  for (const OpShare& s : over) {
    EXPECT_GE(s.seconds, 0.0) << s.op;
    share += s.share;
  }
  EXPECT_NEAR(share, 1.0, 1e-12);
  EXPECT_EQ(top_ops(b, 2), "matmul_w2a8/down 60%, attention 20%");
}

}  // namespace
}  // namespace bitlab

// The layer and op trace (harness/trace.h) and the planted bugs
// (harness/planted_bugs.h): each planted bug fails the end-to-end comparison
// and the trace names its layer and op, and nothing else; an honest backend
// traces clean; `bitlab check --trace` prints the table and the first op
// beyond tolerance.
#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <memory>
#include <ostream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "harness/correctness.h"
#include "harness/e2e_bench.h"
#include "harness/op_cases/op_case.h"
#include "harness/planted_bugs.h"
#include "harness/trace.h"
#include "kernels/registry.h"
#include "model/forwarding_backend.h"
#include "model/weights/synthetic.h"
#include "tests/cli_test_util.h"

namespace bitlab {

// Test names and failures show the bug's name, not its bytes.
void PrintTo(const PlantedBug& b, std::ostream* os) { *os << b.name; }

namespace {

// The tiny widths with `layers` layers: 2 is synthetic:tiny itself.
const ModelWeights& model(int64_t layers) {
  static std::map<int64_t, ModelWeights> cache;
  auto it = cache.find(layers);
  if (it == cache.end()) {
    ModelConfig c = tiny_config();
    c.n_layers = layers;
    it = cache.emplace(layers, synthetic_weights(c, 7)).first;
  }
  return it->second;
}

constexpr int64_t kTokens = 12;      // a prefill of 6 and 6 decode steps in the trace
constexpr int64_t kPlantLayers = 3;  // a clean layer before the planted one and after it
constexpr int64_t kPlantLayer = 1;

std::unique_ptr<Backend> scalar() { return make_backend("scalar", BackendOptions{.threads = 2}); }
std::vector<int32_t> tokens(const ModelWeights& w) { return seeded_prompt(w.config, kTokens, 3); }

class PlantedBugs : public ::testing::TestWithParam<PlantedBug> {};

TEST_P(PlantedBugs, FailEndToEnd) {
  auto be = plant_bug(GetParam().name, scalar(), kPlantLayer);
  const CheckRecord r = check_end_to_end(*be, model(kPlantLayers), kTokens);
  EXPECT_FALSE(r.pass);
  // Far outside any noise floor (the honest backends sit below 1e-12), and a
  // greedy token changes: the weakest plant here, qkv_band_scales, is at NMSE
  // 9e-4, KL 8e-5 nats and top-1 11/12.
  EXPECT_GT(*r.nmse, 1e-4) << "KL " << *r.kl_divergence << ", top-1 " << *r.top1_agreement;
  EXPECT_LT(*r.top1_agreement, 1.0) << "NMSE " << *r.nmse << ", KL " << *r.kl_divergence;
}

TEST_P(PlantedBugs, TraceNamesTheLayerAndOpAlone) {
  auto be = plant_bug(GetParam().name, scalar(), kPlantLayer);
  const TraceReport tr = trace_backend(*be, model(kPlantLayers), tokens(model(kPlantLayers)));
  ASSERT_TRUE(tr.first_failure) << "trace clean with " << GetParam().name << " planted";
  EXPECT_EQ(tr.first_failure->layer, kPlantLayer) << describe(*tr.first_failure);
  EXPECT_EQ(tr.first_failure->op, GetParam().op) << describe(*tr.first_failure);
  // Every op after it ran on the backend's own (diverged) inputs on both
  // sides, so nothing else is beyond tolerance.
  for (const OpDivergence& d : tr.ops)
    EXPECT_TRUE(d.pass || (d.layer == kPlantLayer && d.op == GetParam().op)) << describe(d);
}

std::string bug_name(const ::testing::TestParamInfo<PlantedBug>& i) { return i.param.name; }
INSTANTIATE_TEST_SUITE_P(Trace, PlantedBugs, ::testing::ValuesIn(planted_bugs()), bug_name);

TEST(PlantedBugs, UnknownNameIsAUsageError) { EXPECT_THROW(plant_bug("nonesuch", scalar(), 0), UsageError); }

class HonestTrace : public ::testing::TestWithParam<std::string> {};

// Every usable backend, on synthetic:tiny and a deeper model, with both heads.
TEST_P(HonestTrace, EveryOpWithinItsTolerance) {
  auto be = make_backend(GetParam(), BackendOptions{.threads = 2});
  for (int64_t layers : {2, 6})
    for (HeadKind head : {HeadKind::BF16, HeadKind::Int8}) {
      SCOPED_TRACE(fmt::format("{} layers, {} head", layers, head_name(head)));
      const TraceReport tr = trace_backend(*be, model(layers), tokens(model(layers)), head);
      EXPECT_TRUE(tr.clean()) << describe(*tr.first_failure);
      EXPECT_EQ(tr.steps, kTokens - kTokens / 2 + 1);
      // The trace compared every op of every layer, on every step.
      std::map<std::string, int64_t> per_layer;
      for (const OpDivergence& d : tr.ops) {
        EXPECT_GT(d.total, 0) << describe(d);
        if (d.layer >= 0) {
          EXPECT_EQ(d.calls, tr.steps) << describe(d);
        }
        ++per_layer[layer_name(d.layer)];
      }
      EXPECT_EQ(per_layer.size(), size_t(layers + 2));  // embed, the layers, head
      // 4 matmuls, rope_qk, attention, the 4 norms (the last layer's plain residual add in place of the next pre-norm)
      for (int64_t l = 0; l < layers; ++l) EXPECT_EQ(per_layer[layer_name(l)], 10) << layer_name(l);
      EXPECT_EQ(per_layer["head"], head == HeadKind::BF16 ? 2 : 3);
    }
}

std::string backend_name(const ::testing::TestParamInfo<std::string>& i) { return i.param; }
INSTANTIATE_TEST_SUITE_P(Trace, HonestTrace, ::testing::ValuesIn(usable_backends()), backend_name);

// Moves one int8 code of the attention sub-norm of layer 0 by `step`: the
// tolerance of the norm-then-quantise ops is one step on a few codes.
class NudgeCode final : public ForwardingBackend {
 public:
  NudgeCode(std::unique_ptr<Backend> inner, int step) : ForwardingBackend(std::move(inner)), step_(step) {}

 protected:
  void rmsnorm_quant_impl(const Tensor& x, const Tensor& w, float eps, QuantAct& q) override {
    ForwardingBackend::rmsnorm_quant_impl(x, w, eps, q);
    if (layer() != 0) return;
    int8_t c = 0;
    q.q.buf->read(&c, q.q.offset, 1);
    c = int8_t(c > 0 ? c - step_ : c + step_);
    q.q.buf->write(&c, q.q.offset, 1);
  }

 private:
  int step_;
};

TEST(TraceTolerance, OneCodeOneStepOffIsARoundingFlip) {
  NudgeCode be(scalar(), 1);
  const TraceReport tr = trace_backend(be, model(2), tokens(model(2)));
  EXPECT_TRUE(tr.clean()) << describe(*tr.first_failure);
}

TEST(TraceTolerance, OneCodeTwoStepsOffIsBeyondIt) {
  NudgeCode be(scalar(), 2);
  const TraceReport tr = trace_backend(be, model(2), tokens(model(2)));
  ASSERT_TRUE(tr.first_failure);
  EXPECT_EQ(describe(*tr.first_failure),
            "layer 0 rmsnorm_quant/attn_sub_norm: 1 of 384 int8 codes differ, by up to 2 steps (prefill)");
}

// ---- through the binary -------------------------------------------------------

TEST(CheckTrace, CleanOnScalarWithATableAndARecord) {
  const std::string out = test::temp_path("check-trace.json");
  const auto r = test::run_bitlab("check --model synthetic:tiny --backends scalar --tokens 8 --trace --out " + out);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("trace clean: every op within its tolerance over 5 steps"), std::string::npos) << r.out;
  EXPECT_NE(test::line_with(r.out, "layer 1 ").find("ok"), std::string::npos) << r.out;
  test::expect_valid_result(out);
  const auto doc = nlohmann::json::parse(test::slurp(out));
  int traces = 0;
  for (const auto& c : doc["correctness"]) {
    if (c["check"] != "trace/tiny/tokens:8") continue;
    ++traces;
    EXPECT_TRUE(c["pass"].get<bool>());
    EXPECT_EQ(c["trace"].size(), 24u);  // embed 2, 2 layers of 10 ops, head 2
  }
  EXPECT_EQ(traces, 1);
}

TEST(CheckTrace, PlantedBugNamedByTheFirstFailingOp) {
  const std::string out = test::temp_path("check-plant.json");
  const auto r = test::run_bitlab(
      "check --model synthetic:tiny --backends scalar --tokens 8 --trace --plant silu_ffn --out " + out);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  EXPECT_NE(test::line_with(r.out, "first op beyond tolerance:").find("layer 1 relu2_mul_rmsnorm_quant/ffn_sub_norm: "),
            std::string::npos)
      << r.out;
  test::expect_valid_result(out);
}

TEST(CheckTrace, BadOptionsAreOneLineUsageErrors) {
  auto r = test::run_bitlab("check --model synthetic:tiny --backends scalar --plant nonesuch");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--plant 'nonesuch': unknown bug"), std::string::npos) << r.err;
  r = test::run_bitlab("check --model synthetic:tiny --backends scalar --trace --op matmul_w2a8");
  EXPECT_EQ(r.code, 2) << r.out << r.err;
}

}  // namespace
}  // namespace bitlab

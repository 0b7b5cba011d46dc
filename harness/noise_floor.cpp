#include "harness/noise_floor.h"

#include <algorithm>
#include <cmath>

#include "common/random.h"
#include "harness/correctness.h"
#include "harness/op_cases/op_case.h"
#include "model/forwarding_backend.h"
#include "model/host_tensor.h"
#include "model/reference.h"
#include "model/reference_backend.h"

namespace bitlab {
namespace {

// Forwards every op to the oracle, then nudges the fp32 outputs of the float
// ops. The fused ops are composed by Backend's defaults from this class's
// primitives, so the norm inside add_rmsnorm_quant is nudged before its output
// is quantised, as a backend's own rmsnorm would differ.
class PerturbedReference final : public ForwardingBackend {
 public:
  PerturbedReference(uint64_t seed, int ulps)
      : ForwardingBackend(make_reference_backend({})), rng_(seed), ulps_(ulps) {
    info_ = inner().info();
    info_.variant = "reference, float outputs ±" + std::to_string(ulps) + " ulp";
  }
  const DeviceInfo& info() const override { return info_; }

 protected:
  // Deliberately Backend's composition, not ForwardingBackend's call of the
  // oracle's fused op (hence the NOLINTs).
  void rmsnorm_quant_impl(const Tensor& x, const Tensor& w, float eps, QuantAct& q) override {
    // NOLINTNEXTLINE(bugprone-parent-virtual-call)
    Backend::rmsnorm_quant_impl(x, w, eps, q);
  }
  void add_rmsnorm_quant_impl(Tensor& h, const Tensor& d, const Tensor& w, float eps, QuantAct& q) override {
    // NOLINTNEXTLINE(bugprone-parent-virtual-call)
    Backend::add_rmsnorm_quant_impl(h, d, w, eps, q);
  }
  void relu2_mul_rmsnorm_quant_impl(const Tensor& g, const Tensor& u, const Tensor& w, float eps,
                                    QuantAct& q) override {
    // NOLINTNEXTLINE(bugprone-parent-virtual-call)
    Backend::relu2_mul_rmsnorm_quant_impl(g, u, w, eps, q);
  }
  void rope_qk_impl(Tensor& q, const RopeParams& pq, Tensor& k, const RopeParams& pk) override {
    // NOLINTNEXTLINE(bugprone-parent-virtual-call)
    Backend::rope_qk_impl(q, pq, k, pk);
  }
  void rmsnorm_impl(const Tensor& x, const Tensor& w, float eps, Tensor& y) override {
    ForwardingBackend::rmsnorm_impl(x, w, eps, y);
    nudge(y);
  }
  // The oracle's own code on blocks of rows, on every core: each output is
  // computed by the same expression as in one call, so the bits are the
  // oracle's, and the floor's extra runs cost a fraction of one oracle run.
  void matmul_w2a8_impl(const QuantAct& x, const TernaryWeight& w, std::span<Tensor> y) override {
    constexpr int64_t kRows = 64;
    const int64_t t = x.q.shape.rows, k = w.k, rb = (k + 3) / 4;
    const int8_t* q = host_ptr<int8_t>(x.q);
    const float* s = host_ptr<float>(x.scale);
    const uint8_t* packed = host_ptr<uint8_t>(w.packed);
    for (size_t p = 0; p < y.size(); ++p) {
      float* out = host_ptr<float>(y[p]);
      const int64_t ld = y[p].shape.cols, n = w.part_rows[p];
      const uint8_t* part = packed + w.part_offset(p) * rb;
#pragma omp parallel for schedule(dynamic, 1)
      for (int64_t r0 = 0; r0 < n; r0 += kRows)
        ref::matmul_w2a8(q, s, t, part + r0 * rb, std::min(kRows, n - r0), k, w.scales[p], out + r0, ld);
    }
  }
  void rope_impl(Tensor& x, const RopeParams& p) override {
    ForwardingBackend::rope_impl(x, p);
    nudge(x);
  }
  void attention_impl(const Tensor& q, const Tensor& k, const Tensor& v, KvLayer& cache, const AttentionParams& p,
                      Tensor& out) override {
    ForwardingBackend::attention_impl(q, k, v, cache, p, out);
    nudge(out);
  }
  void relu2_mul_impl(const Tensor& g, const Tensor& u, Tensor& y) override {
    ForwardingBackend::relu2_mul_impl(g, u, y);
    nudge(y);
  }
  void lm_head_impl(const Tensor& x, const Tensor& table, Tensor& logits) override {
    const int64_t t = x.shape.rows, d = x.shape.cols, vocab = table.shape.rows;
    const float* xp = host_ptr<float>(x);
    const uint16_t* tp = host_ptr<uint16_t>(table);
    float* out = host_ptr<float>(logits);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t tok = 0; tok < t; ++tok) ref::lm_head(xp + tok * d, 1, tp, vocab, d, out + tok * vocab);
    nudge(logits);
  }
  void lm_head_i8_impl(const QuantAct& x, const HeadTable& table, Tensor& logits) override {
    const int64_t t = x.q.shape.rows, d = x.q.shape.cols, vocab = table.q.shape.rows;
    const int8_t* xq = host_ptr<int8_t>(x.q);
    const float* xs = host_ptr<float>(x.scale);
    const int8_t* tq = host_ptr<int8_t>(table.q);
    const float* ts = host_ptr<float>(table.scale);
    float* out = host_ptr<float>(logits);
#pragma omp parallel for schedule(dynamic, 1)
    for (int64_t tok = 0; tok < t; ++tok)
      ref::lm_head_i8(xq + tok * d, xs + tok, 1, tq, ts, vocab, d, out + tok * vocab);
  }

 private:
  // Zeros stay: an exact zero (relu² of a negative gate) is exact in every
  // rounding, and no kernel computes it as anything else.
  void nudge(const Tensor& t) {
    if (ulps_ == 0) return;
    float* p = host_ptr<float>(t);
    for (int64_t i = 0, n = t.shape.numel(); i < n; ++i) {
      if (p[i] == 0.0f || !std::isfinite(p[i])) continue;
      const float toward = (rng_.next() & 1) ? INFINITY : -INFINITY;
      for (int s = 0; s < ulps_; ++s) p[i] = std::nextafter(p[i], toward);
    }
  }

  SplitMix64 rng_;
  int ulps_;
  DeviceInfo info_;
};

std::vector<float> logits_of(Backend& be, const ModelWeights& w, std::span<const int32_t> tokens, HeadKind head) {
  Transformer m(be, w, int64_t(tokens.size()), {}, head);
  return m.forward(tokens, true);
}

}  // namespace

std::unique_ptr<Backend> make_perturbed_reference(uint64_t seed, int ulps) {
  return std::make_unique<PerturbedReference>(seed, ulps);
}

OracleRun run_oracle(const ModelWeights& w, std::vector<int32_t> tokens, HeadKind head, int floor_runs, int ulps) {
  OracleRun o;
  o.head = head;
  o.tokens = std::move(tokens);
  // Run 0 is the oracle (no nudge: its bits), runs 1.. the nudged ones.
  std::vector<std::vector<float>> logits(size_t(1 + std::max(floor_runs, 0)));
  for (size_t i = 0; i < logits.size(); ++i) {
    // Seeds apart from every other stream in the project (weights, prompts).
    auto be = make_perturbed_reference(0xf100'0000ull + i, i == 0 ? 0 : ulps);
    logits[i] = logits_of(*be, w, o.tokens, head);
  }
  o.logits = std::move(logits[0]);
  for (size_t i = 1; i < logits.size(); ++i) {
    const CheckRecord r = compare_logits(logits[i], o.logits, w.config.vocab);
    o.floor.nmse = std::max(o.floor.nmse, *r.nmse);
    o.floor.kl = std::max(o.floor.kl, *r.kl_divergence);
    o.floor.top1 = std::min(o.floor.top1, *r.top1_agreement);
    ++o.floor.runs;
  }
  return o;
}

void judge_end_to_end(CheckRecord& r, const NoiseFloor& floor, int64_t rows) {
  r.floor_nmse = floor.nmse;
  r.floor_kl = floor.kl;
  r.floor_top1 = floor.top1;
  // A ratio against a zero floor is meaningless; the absolute bounds judge then.
  if (floor.nmse > 0) r.nmse_ratio = *r.nmse / floor.nmse;
  if (floor.kl > 0) r.kl_ratio = *r.kl_divergence / floor.kl;
  const double nmse_limit = std::max(opcase::kNmseEndToEnd, kFloorMultiple * floor.nmse);
  const double kl_limit = std::max(kKlEndToEnd, kFloorMultiple * floor.kl);
  const bool noisy = floor.nmse > opcase::kNmseEndToEnd || floor.top1 < 1.0;
  const double margin =
      noisy ? std::max(kTop1Margin, double(kTop1MarginPositions) / double(std::max<int64_t>(rows, 1))) : 0.0;
  r.threshold = nmse_limit;
  r.kl_threshold = kl_limit;
  r.top1_threshold = std::max(0.0, floor.top1 - margin);
  // Agreements are fractions of whole positions: half a position of slack
  // keeps k/n - m/n from rounding below (k-m)/n. Written so a NaN metric fails.
  const double slack = 0.5 / double(std::max<int64_t>(rows, 1));
  r.pass = *r.nmse <= nmse_limit && *r.kl_divergence <= kl_limit && *r.top1_agreement >= *r.top1_threshold - slack;
}

}  // namespace bitlab

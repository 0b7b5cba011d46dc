#include "harness/correctness.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "harness/e2e_bench.h"
#include "harness/op_cases/op_case.h"
#include "model/transformer.h"

namespace bitlab {

using opcase::kNmseEndToEnd;
using opcase::nmse;

nlohmann::json to_json(const CheckRecord& r) {
  nlohmann::json j = {{"backend", r.backend}, {"variant", r.variant}, {"check", r.check}, {"pass", r.pass}};
  auto put = [&](const char* k, const std::optional<double>& v) {
    if (v && std::isfinite(*v)) j[k] = *v;
  };
  if (r.bit_exact) j["bit_exact"] = *r.bit_exact;
  put("nmse", r.nmse);
  put("threshold", r.threshold);
  put("cosine", r.cosine);
  put("max_abs_diff", r.max_abs_diff);
  put("kl_divergence", r.kl_divergence);
  put("top1_agreement", r.top1_agreement);
  put("floor_nmse", r.floor_nmse);
  put("floor_kl", r.floor_kl);
  put("floor_top1", r.floor_top1);
  put("nmse_ratio", r.nmse_ratio);
  put("kl_ratio", r.kl_ratio);
  put("kl_threshold", r.kl_threshold);
  put("top1_threshold", r.top1_threshold);
  return j;
}

std::vector<CheckRecord> check_ops(Backend& be, const ModelConfig& c, const std::vector<std::string>& ops) {
  std::vector<CheckRecord> records;
  for (const opcase::OpCase& oc : opcase::check_cases(c)) {
    if (!ops.empty() && std::find(ops.begin(), ops.end(), oc.op) == ops.end()) continue;
    const opcase::Outcome o = opcase::check_case(be, oc);
    CheckRecord r;
    r.backend = be.info().backend;
    r.variant = opcase::kernel_for(be.info(), oc.op);
    r.check = oc.key();
    r.bit_exact = o.bit_exact;
    r.nmse = o.nmse;
    r.threshold = o.threshold;
    r.pass = o.pass;
    records.push_back(std::move(r));
  }
  return records;
}

CheckRecord compare_logits(std::span<const float> got, std::span<const float> want, int64_t vocab) {
  CheckRecord r;
  r.nmse = nmse(got, want);
  double dot = 0, ng = 0, nw = 0, maxd = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    dot += double(got[i]) * want[i];
    ng += double(got[i]) * got[i];
    nw += double(want[i]) * want[i];
    maxd = std::max(maxd, std::fabs(double(got[i]) - want[i]));
  }
  r.cosine = dot / std::sqrt(ng * nw);
  r.max_abs_diff = maxd;
  const size_t rows = got.size() / size_t(vocab);
  double kl = 0;
  size_t agree = 0;
  for (size_t row = 0; row < rows; ++row) {
    const float* g = got.data() + row * size_t(vocab);
    const float* w = want.data() + row * size_t(vocab);
    // KL(reference || backend) of the softmax distributions, in nats.
    const double mg = *std::max_element(g, g + vocab), mw = *std::max_element(w, w + vocab);
    double zg = 0, zw = 0;
    for (int64_t i = 0; i < vocab; ++i) {
      zg += std::exp(double(g[i]) - mg);
      zw += std::exp(double(w[i]) - mw);
    }
    double k = 0;
    for (int64_t i = 0; i < vocab; ++i) {
      const double lw = double(w[i]) - mw - std::log(zw), lg = double(g[i]) - mg - std::log(zg);
      k += std::exp(lw) * (lw - lg);
    }
    kl += k;
    agree += (std::max_element(g, g + vocab) - g) == (std::max_element(w, w + vocab) - w);
  }
  r.kl_divergence = kl / double(rows);
  r.top1_agreement = double(agree) / double(rows);
  r.threshold = kNmseEndToEnd;
  r.pass = *r.nmse <= kNmseEndToEnd && *r.top1_agreement == 1.0;
  return r;
}

std::vector<int32_t> check_tokens_for(const ModelConfig& c, int64_t seq_len, uint64_t seed) {
  return seeded_prompt(c, seq_len, seed);
}

CheckRecord check_end_to_end(Backend& be, const ModelWeights& w, const OracleRun& oracle) {
  const auto n = int64_t(oracle.tokens.size());
  Transformer m(be, w, n, {}, oracle.head);
  const auto got = m.forward(oracle.tokens, true);
  CheckRecord rec = compare_logits(got, oracle.logits, w.config.vocab);
  judge_end_to_end(rec, oracle.floor, n);
  rec.backend = be.info().backend;
  rec.variant = be.info().variant;
  rec.check = fmt::format("e2e/{}/tokens:{}{}", w.config.name, n, head_key_suffix(oracle.head));
  return rec;
}

CheckRecord check_end_to_end(Backend& be, const ModelWeights& w, int64_t seq_len, HeadKind head) {
  return check_end_to_end(be, w, run_oracle(w, check_tokens_for(w.config, seq_len), head));
}

}  // namespace bitlab

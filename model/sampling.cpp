#include "model/sampling.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <numeric>

#include <fmt/format.h>

#include "model/error.h"

namespace bitlab {

Sampler::Sampler(SamplingParams p) : p_(p), rng_(stream_key(p.seed, 0x53414d50)) {
  if (p_.top_k < 0) throw UsageError(fmt::format("top-k must be >= 0, got {}", p_.top_k));
  if (!(p_.temperature >= 0.0f)) throw UsageError(fmt::format("temperature must be >= 0, got {}", p_.temperature));
}

int32_t Sampler::sample(std::span<const float> logits) {
  const auto v = int64_t(logits.size());
  if (v == 0) throw UsageError("sample: empty logits");
  if (greedy()) {
    int64_t best = 0;
    for (int64_t i = 1; i < v; ++i)
      if (logits[size_t(i)] > logits[size_t(best)]) best = i;
    return int32_t(best);
  }
  const int64_t k = (p_.top_k == 0 || p_.top_k > v) ? v : p_.top_k;
  order_.resize(size_t(v));
  std::iota(order_.begin(), order_.end(), 0);
  // Highest logits first; ties broken by id so the order is the same everywhere.
  auto higher = [&](int32_t a, int32_t b) {
    return logits[size_t(a)] > logits[size_t(b)] || (logits[size_t(a)] == logits[size_t(b)] && a < b);
  };
  std::partial_sort(order_.begin(), order_.begin() + k, order_.end(), higher);
  prob_.resize(size_t(k));
  const double top = logits[size_t(order_[0])];
  double sum = 0.0;
  for (int64_t i = 0; i < k; ++i) {
    prob_[size_t(i)] = std::exp((double(logits[size_t(order_[size_t(i)])]) - top) / p_.temperature);
    sum += prob_[size_t(i)];
  }
  double u = double(rng_.next() >> 11) * 0x1.0p-53 * sum;
  for (int64_t i = 0; i < k; ++i) {
    u -= prob_[size_t(i)];
    if (u < 0) return order_[size_t(i)];
  }
  return order_[size_t(k - 1)];
}

GenerateResult generate(Transformer& model, std::span<const int32_t> prompt, int64_t n_gen, const SamplingParams& sp,
                        const std::function<void(int64_t, int32_t)>& on_token,
                        const std::function<bool(int32_t)>& is_stop) {
  if (prompt.empty()) throw UsageError("generate: the prompt is empty");
  if (n_gen < 1) throw UsageError("generate: at least one token must be generated");
  Sampler sampler(sp);
  GenerateResult r;
  using clock = std::chrono::steady_clock;
  auto step = [&](std::span<const int32_t> in) {
    return sampler.greedy() ? model.forward_argmax(in) : sampler.sample(model.forward(in));
  };
  auto t0 = clock::now();
  int32_t next = step(prompt);
  r.prefill_seconds = std::chrono::duration<double>(clock::now() - t0).count();
  r.tokens.push_back(next);
  if (on_token) on_token(0, next);
  r.stopped = is_stop && is_stop(next);
  for (int64_t i = 1; i < n_gen && !r.stopped; ++i) {
    t0 = clock::now();
    next = step(std::span(&next, 1));
    r.decode_seconds.push_back(std::chrono::duration<double>(clock::now() - t0).count());
    r.tokens.push_back(next);
    if (on_token) on_token(i, next);
    r.stopped = is_stop && is_stop(next);
  }
  return r;
}

}  // namespace bitlab

#include "harness/e2e_bench.h"

#include <chrono>

#include <fmt/format.h>

namespace bitlab {

std::vector<int32_t> seeded_prompt(const ModelConfig& c, int64_t len, uint64_t seed) {
  SplitMix64 g(stream_key(seed, 0x50524f4d));
  std::vector<int32_t> p{c.bos};
  while (int64_t(p.size()) < len) {
    const auto id = int32_t(g.next() % uint64_t(c.vocab));
    if (id != c.bos && id != c.eos) p.push_back(id);
  }
  return p;
}

std::vector<Measurement> run_e2e_benchmark(Transformer& model, const ModelWeights& w, const E2eOptions& o,
                                           const std::function<void(double)>& progress) {
  using clock = std::chrono::steady_clock;
  const ModelConfig& c = w.config;
  const DeviceInfo& di = model.backend().info();
  const std::vector<int32_t> prompt = seeded_prompt(c, o.prompt_len, 1);
  const double total_steps = double(o.prefill_repetitions) * double(o.prompt_len) + double(o.gen);
  double done = 0;

  auto base = [&](const char* phase) {
    Measurement m;
    m.kind = "e2e";
    m.backend = di.backend;
    m.variant = di.variant;
    m.name = phase;
    m.key = fmt::format("e2e/{}/{}/{}/prompt:{}/threads:{}", phase, di.backend, o.model, o.prompt_len, di.threads);
    m.shape = {{"prompt", o.prompt_len}, {"threads", di.threads}};
    return m;
  };
  const double ternary = double(w.ternary_bytes()), head = double(w.embedding.data.size_bytes());
  const double params = double(c.ternary_params_per_layer() * c.n_layers);

  Measurement prefill = base("prefill");
  int32_t next = 0;
  for (int r = 0; r < o.prefill_repetitions; ++r) {
    model.reset();
    const auto t0 = clock::now();
    next = model.forward_argmax(prompt);
    prefill.samples.push_back(std::chrono::duration<double>(clock::now() - t0).count());
    done += double(o.prompt_len);
    if (progress) progress(done / total_steps);
  }
  prefill.tokens = o.prompt_len;
  prefill.ops = 2.0 * params * double(o.prompt_len) + 2.0 * double(c.vocab * c.hidden);
  prefill.bytes = ternary + head;
  const double pmed = summarize(prefill.samples).median;
  prefill.derived["tokens_per_s"] = double(o.prompt_len) / pmed;
  prefill.derived["ttft_ms"] = pmed * 1e3;
  prefill.derived["gops"] = prefill.ops / pmed / 1e9;

  Measurement decode = base("decode");
  decode.shape["gen"] = o.gen;
  for (int64_t i = 0; i < o.gen; ++i) {
    const auto t0 = clock::now();
    next = model.forward_argmax(std::span(&next, 1));
    decode.samples.push_back(std::chrono::duration<double>(clock::now() - t0).count());
    done += 1;
    if (progress) progress(done / total_steps);
  }
  decode.tokens = 1;
  // Each step reads every weight once, the head, and the KV cache so far (mid-run average).
  const double kv = 2.0 * double(c.n_layers * c.kv_dim()) * 4.0 * (double(o.prompt_len) + double(o.gen) / 2.0);
  decode.bytes = ternary + head + kv;
  decode.ops = 2.0 * params + 2.0 * double(c.vocab * c.hidden);
  const double dmed = summarize(decode.samples).median;
  decode.derived["tokens_per_s"] = 1.0 / dmed;
  decode.derived["gbps"] = decode.bytes / dmed / 1e9;
  if (o.bandwidth_gbps > 0) decode.derived["roofline_fraction"] = decode.bytes / (o.bandwidth_gbps * 1e9) / dmed;
  return {prefill, decode};
}

}  // namespace bitlab

#include "harness/e2e_bench.h"

#include <chrono>

#include <fmt/format.h>

#include "common/random.h"

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

namespace {

// One prefill with every op timed, after the context the timed ones ran
// after: the per-op breakdown, against the wall time of this run (each op
// synchronizes, so it is slower than the timed ones).
std::vector<OpShare> profile_prefill(Transformer& model, OpProfiler& profiler, std::span<const int32_t> prompt,
                                     int64_t depth) {
  model.rewind(depth);
  profiler.start();
  const auto t0 = std::chrono::steady_clock::now();
  model.forward_argmax(prompt);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  profiler.stop();
  return op_breakdown(profiler.per_op(), wall);
}

// The KV cache's bytes per cached token: keys and values, fp32, every layer.
double kv_bytes_per_position(const ModelConfig& c) { return 2.0 * double(c.n_layers * c.kv_dim()) * 4.0; }

}  // namespace

std::vector<Measurement> run_e2e_benchmark(Transformer& model, const ModelWeights& w, const E2eOptions& o,
                                           const std::function<void(double)>& progress) {
  using clock = std::chrono::steady_clock;
  const ModelConfig& c = w.config;
  const DeviceInfo& di = model.backend().info();
  const std::vector<int64_t> gens = o.gens.empty() ? std::vector<int64_t>{o.gen} : o.gens;
  const std::vector<int32_t> prompt = seeded_prompt(c, o.prompt_len, 1);
  double total_steps = double(o.depth) + double(o.prefill_repetitions) * double(o.prompt_len);
  for (int64_t g : gens) total_steps += double(o.decode_repetitions) * double(g);
  double done = 0;

  // Keys name a depth other than 0, and the step count where several are swept:
  // a run at the defaults keeps the keys it always had.
  const std::string depth_key = o.depth != 0 ? fmt::format("/depth:{}", o.depth) : "";
  auto base = [&](const char* phase, const std::string& gen_key) {
    Measurement m;
    m.kind = "e2e";
    m.backend = di.backend;
    m.variant = di.variant;
    m.name = phase;
    m.model = o.model;
    m.key = fmt::format("{}/{}/{}/{}/prompt:{}/threads:{}{}{}{}{}", o.key_prefix, phase, di.backend, o.model,
                        o.prompt_len, di.threads, depth_key, gen_key, head_key_suffix(model.head()),
                        weight_bits_key_suffix(o.weight_bits));
    m.shape = {{"prompt", o.prompt_len}, {"threads", di.threads}, {"depth", o.depth}};
    m.derived["weight_bits"] = weight_bits_value(o.weight_bits);
    return m;
  };
  // The layers as the backend stores them (a 1.6-bit layout reads fewer bytes).
  const double ternary = double(model.layer_weight_bytes());
  const double head = head_table_bytes(c, model.head());
  const double params = double(c.ternary_params_per_layer() * c.n_layers);

  const std::vector<EnergyMeter*> meters = o.energy ? o.energy->meters_for(di.kind) : std::vector<EnergyMeter*>{};
  const double min_window = o.energy ? o.energy->min_window_seconds(meters) : 0.0;

  // The context, untimed: a different seeded sequence than the prompt.
  model.reset();
  if (o.depth > 0) {
    model.forward_argmax(seeded_prompt(c, o.depth, 2));
    done += double(o.depth);
    if (progress) progress(done / total_steps);
  }

  Measurement prefill = base("prefill", "");
  int32_t next = 0;
  auto rescored = [&] { return double(model.certified_stats().last_rows); };
  // The int8 ceiling of this prefill: the highest of the run's peak and probes
  // just before and after it (KernelBenchOptions::peak_probe).
  double ceiling = o.int8_peak_macs;
  const bool peak_probing = bool(o.peak_probe);
  if (peak_probing) ceiling = std::max(ceiling, o.peak_probe());
  EnergyWindow prefill_window(meters, model.backend());
  int64_t prefill_runs = 0;
  for (int r = 0; r < o.prefill_repetitions || prefill_window.elapsed_seconds() < min_window; ++r) {
    model.rewind(o.depth);
    const auto t0 = clock::now();
    next = model.forward_argmax(prompt);
    const double seconds = std::chrono::duration<double>(clock::now() - t0).count();
    prefill_window.count(count_forward(c, o.prompt_len, o.depth, 1, model.head(), rescored(), o.weight_bits));
    ++prefill_runs;
    if (r >= o.prefill_repetitions) continue;  // repeated only to fill the energy window
    prefill.samples.push_back(seconds);
    done += double(o.prompt_len);
    if (progress) progress(done / total_steps);
  }
  prefill.energy = o.energy ? o.energy->figures(meters, prefill_window.stop(), prefill_runs * o.prompt_len)
                            : std::vector<EnergyFigure>{};
  if (peak_probing) ceiling = std::max(ceiling, o.peak_probe());
  if (o.profiler) prefill.breakdown = profile_prefill(model, *o.profiler, prompt, o.depth);
  prefill.tokens = o.prompt_len;
  prefill.ops = 2.0 * params * double(o.prompt_len) + 2.0 * double(c.vocab * c.hidden);
  // Every weight and the head once, and the context's cache (read by every layer's attention).
  prefill.bytes = ternary + head + kv_bytes_per_position(c) * double(o.depth);
  const double pmed = summarize(prefill.samples).median;
  prefill.derived["tokens_per_s"] = double(o.prompt_len) / pmed;
  prefill.derived["ttft_ms"] = pmed * 1e3;
  prefill.derived["gops"] = prefill.ops / pmed / 1e9;
  // Prefill is compute-bound: its multiply-adds (ops / 2) per second against the int8 peak.
  if (ceiling > 0) {
    prefill.derived["int8_peak_gmacs"] = ceiling / 1e9;
    prefill.derived["compute_fraction"] = prefill.ops / 2.0 / pmed / ceiling;
  }

  std::vector<Measurement> out{prefill};
  // The cache decode starts from, and the token prefill predicted after it.
  const int64_t context = o.depth + o.prompt_len;
  const int32_t first = next;
  for (int64_t gen : gens) {
    double roof = o.bandwidth_gbps;
    if (roof > 0 && o.probe) roof = std::max(roof, o.probe());
    Measurement decode = base("decode", gens.size() > 1 ? fmt::format("/gen:{}", gen) : "");
    const CertifiedHeadStats before_decode = model.certified_stats();
    decode.shape["gen"] = gen;
    EnergyWindow decode_window(meters, model.backend());
    int64_t decode_steps = 0;
    const int64_t timed = gen * o.decode_repetitions;
    // Each pass (and each untimed one filling the energy window) decodes the same positions again.
    for (int64_t i = 0; i < timed || decode_window.elapsed_seconds() < min_window; ++i) {
      if (i % gen == 0) {
        model.rewind(context);
        next = first;
      }
      const int64_t cached = model.pos();
      const auto t0 = clock::now();
      next = model.forward_argmax(std::span(&next, 1));
      const double seconds = std::chrono::duration<double>(clock::now() - t0).count();
      decode_window.count(count_forward(c, 1, cached, 1, model.head(), rescored(), o.weight_bits));
      ++decode_steps;
      if (i >= timed) continue;  // repeated only to fill the energy window
      decode.samples.push_back(seconds);
      done += 1;
      if (progress) progress(done / total_steps);
    }
    decode.energy = o.energy ? o.energy->figures(meters, decode_window.stop(), decode_steps)
                             : std::vector<EnergyFigure>{};
    decode.tokens = 1;
    // Each step reads every weight once, the head, and the KV cache so far: the
    // context (depth and prompt) and, on average, half the steps of the pass.
    const double kv = kv_bytes_per_position(c) * (double(context) + double(gen) / 2.0);
    // The certified head's bytes include the bf16 rows it rescored: their mean over the decode steps.
    const CertifiedHeadStats after_decode = model.certified_stats();
    const int64_t certified_steps = after_decode.steps - before_decode.steps;
    const double rows_per_step =
        certified_steps > 0
            ? double(after_decode.rows_rescored - before_decode.rows_rescored) / double(certified_steps)
            : 0.0;
    if (model.head() == HeadKind::Certified) decode.derived["rows_rescored_per_step"] = rows_per_step;
    decode.bytes = ternary + head_table_bytes(c, model.head(), rows_per_step) + kv;
    decode.ops = 2.0 * params + 2.0 * double(c.vocab * c.hidden);
    const double dmed = summarize(decode.samples).median;
    decode.derived["tokens_per_s"] = 1.0 / dmed;
    decode.derived["gbps"] = decode.bytes / dmed / 1e9;
    decode.derived["bytes_per_token"] = decode.bytes;
    if (roof > 0 && o.probe) roof = std::max(roof, o.probe());
    if (roof > 0) {
      decode.derived["roofline_gbps"] = roof;
      decode.derived["roofline_fraction"] = decode.bytes / (roof * 1e9) / dmed;
    }
    out.push_back(std::move(decode));
  }
  return out;
}

}  // namespace bitlab

// `bitlab run`: one model on one backend: prefill a prompt, generate tokens,
// print them with time to first token and prefill/decode tokens per second.
#include <algorithm>
#include <chrono>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "harness/cli_options.h"
#include "harness/commands.h"
#include "harness/e2e_bench.h"
#include "harness/ids_file.h"
#include "harness/model_spec.h"
#include "harness/progress.h"
#include "harness/stats.h"
#include "model/error.h"
#include "kernels/registry.h"
#include "model/sampling.h"

namespace bitlab::cli {
namespace {

struct RunOptions {
  std::string model = "synthetic:2b4t";
  std::string backend;  // add_backend sets the default
  int64_t prompt_len = 16;
  std::string prompt_ids, prompt_ids_file;  // a given prompt instead of a seeded one
  int64_t gen = 16;
  uint64_t seed = 1;
  uint64_t weight_seed = 1;
  int threads = 0;
  int device = 0;  // GPU index for the cuda and vulkan backends
  float temperature = 0.0f;
  int64_t top_k = 0;
  std::string head = "bf16";
  std::vector<std::string> variants;  // --variant: kernel variants to pin
  std::string weight_bits;            // --weight-bits: "" = the backend's default layout
};

int run(const RunOptions& o) {
  const ModelConfig spec_config = model_config(o.model);
  std::vector<int32_t> prompt = ids_from_options(o.prompt_ids, o.prompt_ids_file, "--prompt-ids", spec_config.vocab);
  if (prompt.empty()) {
    check_positions(spec_config, o.prompt_len, o.gen);
  } else if (int64_t(prompt.size()) + o.gen > spec_config.max_pos) {
    throw UsageError(fmt::format("the prompt's {} ids + --gen {} exceed the model's {} positions", prompt.size(),
                                 o.gen, spec_config.max_pos));
  }
  check_variants({o.backend}, o.variants);
  std::unique_ptr<Backend> be = make_backend(o.backend, backend_options(o.backend, o.threads, o.device, o.variants,
                                                                             weight_bits_option(o.weight_bits)));
  ModelWeights w = load_model(o.model, o.weight_seed);
  const ModelConfig& c = w.config;
  const DeviceInfo& di = be->info();
  fmt::print("backend   {} ({} kernels, {} threads) on {}\n", di.backend, di.variant, di.threads, di.name);

  if (prompt.empty()) prompt = seeded_prompt(c, o.prompt_len, o.seed);
  std::unique_ptr<Transformer> model;
  {
    Progress p("upload");
    const auto t0 = std::chrono::steady_clock::now();
    model = std::make_unique<Transformer>(*be, w, int64_t(prompt.size()) + o.gen, [&](size_t done, size_t total) {
      p.update(double(done) / double(total), "repacking weights for " + di.backend);
    }, parse_head(o.head));
    p.done(fmt::format("{} layers in {:.1f} s",
                       c.n_layers, std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()));
  }
  fmt::print("prompt    {} tokens: {}\n", prompt.size(), fmt::join(prompt, " "));

  Progress p("generate");
  p.update(0.0, "prefill");
  const GenerateResult r = generate(*model, prompt, o.gen, SamplingParams{o.temperature, o.top_k, o.seed},
                                    [&](int64_t i, int32_t) {
                                      p.update(double(i + 1) / double(o.gen),
                                               fmt::format("token {}/{}", i + 1, o.gen));
                                    });
  p.done(fmt::format("{} tokens", r.tokens.size()));
  fmt::print("generated {} tokens: {}\n", r.tokens.size(), fmt::join(r.tokens, " "));
  fmt::print("time to first token  {:.1f} ms\n", r.prefill_seconds * 1e3);
  fmt::print("prefill              {:.2f} tokens/s ({} tokens)\n", double(prompt.size()) / r.prefill_seconds,
             prompt.size());
  if (!r.decode_seconds.empty()) {
    double total = 0;
    for (double s : r.decode_seconds) total += s;
    fmt::print("decode               {:.2f} tokens/s ({} steps; per step p50 {:.1f} ms, p90 {:.1f} ms)\n",
               double(r.decode_seconds.size()) / total, r.decode_seconds.size(),
               summarize(r.decode_seconds).median * 1e3, summarize(r.decode_seconds).p90 * 1e3);
  } else {
    fmt::print("decode               (no decode steps: --gen 1)\n");
  }
  if (model->head() == HeadKind::Certified) {
    // Greedy steps only: sampling reads full logits, which the bf16 head computes.
    const CertifiedHeadStats st = model->certified_stats();
    fmt::print("certified head       {:.2f} rows rescored per step (of {}; {} steps, {} on the full bf16 head)\n",
               st.mean_rows(), c.vocab, st.steps, st.full_head_steps);
  }
  return 0;
}

}  // namespace

CLI::App* add_run(CLI::App& app, Action& action) {
  auto o = std::make_shared<RunOptions>();
  CLI::App* sub = app.add_subcommand("run", "Run one model on one backend: prefill a prompt, generate, report speed");
  add_model(sub, o->model, "model to run");
  add_backend(sub, o->backend);
  CLI::Option* prompt_len =
      add_token_count(sub, "--prompt-len", o->prompt_len, "prompt length in tokens (BOS + seeded random ids)");
  add_prompt_ids(sub, o->prompt_ids, o->prompt_ids_file, {prompt_len});
  add_token_count(sub, "--gen", o->gen, "tokens to generate");
  add_seed(sub, "--seed", o->seed, "seed for the prompt and for sampling");
  add_seed(sub, "--weight-seed", o->weight_seed, "seed of the synthetic weights");
  add_device(sub, o->device);
  add_threads(sub, o->threads);
  add_real(sub, "--temperature", o->temperature, "sampling temperature (0 = greedy, argmax on the device)", 0.0, 100.0);
  add_top_k(sub, o->top_k);
  add_head_option(sub, "--head", o->head);
  add_variants(sub, o->variants);
  add_weight_bits(sub, "--weight-bits", o->weight_bits);
  sub->callback([&action, o] { action = [o] { return run(*o); }; });
  return sub;
}

}  // namespace bitlab::cli

// `bitlab score`: teacher-forces a sequence of token ids through one backend
// and prints, per position, the next id, the model's top-1 id and the
// log-probability of the next id, then the perplexity of ids 1..n-1. With
// --logits-out the logits [positions, vocabulary] go to a .npy file, for
// comparison with other engines on the same ids (`bitlab check --against`).
#include <algorithm>
#include <chrono>
#include <cmath>
#include <memory>

#include <fmt/format.h>

#include "harness/cli_options.h"
#include "harness/commands.h"
#include "harness/ids_file.h"
#include "harness/model_spec.h"
#include "harness/npy.h"
#include "harness/progress.h"
#include "harness/terminal_text.h"
#include "kernels/registry.h"
#include "model/error.h"
#include "model/transformer.h"
#include "model/weights/atomic_write.h"

namespace bitlab::cli {
namespace {

struct ScoreOptions {
  std::string model = "synthetic:2b4t";
  std::string ids_file;
  std::string backend;  // add_backend sets the default
  std::string logits_out;
  uint64_t weight_seed = 1;
  int threads = 0;
  int device = 0;
  std::vector<std::string> variants;
  std::string weight_bits;  // --weight-bits: "" = the backend's default layout
};

// log softmax(row)[id], in double: the row's maximum subtracted first, so
// exp never overflows.
double log_prob(std::span<const float> row, int32_t id) {
  const double mx = *std::max_element(row.begin(), row.end());
  double z = 0;
  for (float x : row) z += std::exp(double(x) - mx);
  return double(row[size_t(id)]) - mx - std::log(z);
}

int run(const ScoreOptions& o) {
  const ModelConfig cfg = model_config(o.model);
  const std::vector<int32_t> ids = read_ids_file(o.ids_file, cfg.vocab);
  if (int64_t(ids.size()) > cfg.max_pos)
    throw UsageError(fmt::format("ids file '{}' holds {} ids, the model has {} positions", o.ids_file, ids.size(),
                                 cfg.max_pos));
  if (!o.logits_out.empty()) refuse_non_regular_target(o.logits_out);
  check_variants({o.backend}, o.variants);
  std::unique_ptr<Backend> be = make_backend(o.backend, backend_options(o.backend, o.threads, o.device, o.variants,
                                                                             weight_bits_option(o.weight_bits)));
  const ModelWeights w = load_model(o.model, o.weight_seed);
  const int64_t n = int64_t(ids.size()), vocab = w.config.vocab;

  std::vector<float> logits;
  {
    Progress p("score");
    p.update(0.0, "repacking weights for " + be->info().backend);
    bitlab::Transformer model(*be, w, n, [&](size_t done, size_t total) {
      p.update(0.5 * double(done) / double(total), "repacking weights for " + be->info().backend);
    });
    p.update(0.5, fmt::format("forward over {} ids", n));
    const auto t0 = std::chrono::steady_clock::now();
    logits = model.forward(ids, true);
    p.done(fmt::format("{} positions on {} in {:.1f} s", n, be->info().backend,
                       std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count()));
  }

  // Position i's logits predict id i + 1: the last position predicts nothing in the file.
  fmt::print("{:>8} {:>8} {:>8} {:>12}\n", "position", "next", "top1", "logprob");
  double nll = 0;
  for (int64_t i = 0; i < n; ++i) {
    const std::span<const float> row(logits.data() + i * vocab, size_t(vocab));
    const auto top1 = std::max_element(row.begin(), row.end()) - row.begin();
    if (i + 1 < n) {
      const double lp = log_prob(row, ids[size_t(i + 1)]);
      nll -= lp;
      fmt::print("{:>8} {:>8} {:>8} {:>12.6f}\n", i, ids[size_t(i + 1)], top1, lp);
    } else {
      fmt::print("{:>8} {:>8} {:>8} {:>12}\n", i, "-", top1, "-");
    }
  }
  if (n > 1)
    fmt::print("perplexity {:.6f} over {} predictions (positions 0..{})\n", std::exp(nll / double(n - 1)), n - 1,
               n - 2);
  else
    fmt::print("perplexity - (one id: nothing to predict)\n");

  if (!o.logits_out.empty()) {
    write_npy_f32(o.logits_out, logits, n, vocab);
    fmt::print("logits: {} ({} x {} float32)\n", printable(o.logits_out), n, vocab);
  }
  return 0;
}

}  // namespace

CLI::App* add_score(CLI::App& app, Action& action) {
  auto o = std::make_shared<ScoreOptions>();
  CLI::App* sub = app.add_subcommand(
      "score", "Teacher-force a sequence of token ids: per-position log-probabilities, top-1 ids and perplexity");
  add_model(sub, o->model, "model");
  sub->add_option("--ids-file", o->ids_file, "token ids to score, separated by spaces, commas or newlines")
      ->required();
  add_backend(sub, o->backend);
  add_device(sub, o->device);
  add_threads(sub, o->threads);
  add_variants(sub, o->variants);
  add_weight_bits(sub, "--weight-bits", o->weight_bits);
  add_seed(sub, "--weight-seed", o->weight_seed, "seed of the synthetic weights");
  sub->add_option("--logits-out", o->logits_out,
                  "write the logits [positions, vocabulary] as a float32 .npy file (NumPy format 1.0)");
  sub->callback([&action, o] { action = [o] { return run(*o); }; });
  return sub;
}

}  // namespace bitlab::cli

// `bitlab check`: is every backend still the reference? Per op on odd sizes
// and the model's shapes (bit-exact where docs/design.md §5 says so, NMSE elsewhere),
// then the whole network over a teacher-forced sequence. Prints a table,
// writes a result file, exits 1 if any backend breaks the contract.
#include <algorithm>
#include <memory>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "harness/check_against.h"
#include "harness/cli_options.h"
#include "harness/commands.h"
#include "harness/terminal_text.h"
#include "harness/correctness.h"
#include "harness/e2e_bench.h"
#include "harness/model_spec.h"
#include "harness/op_cases/op_case.h"
#include "harness/planted_bugs.h"
#include "harness/progress.h"
#include "harness/results.h"
#include "harness/trace.h"
#include "model/error.h"
#include "kernels/registry.h"
#include "common/sysinfo.h"

namespace bitlab::cli {
namespace {

struct CheckOptions {
  std::vector<std::string> backends;
  std::string model = "synthetic:2b4t-1layer";
  int64_t tokens = 16;
  // Seeds the synthetic weights; the teacher-forced tokens come from seed + 2,
  // so the default 1 keeps the weights (seed 1) and tokens (seed 3) of before.
  uint64_t seed = 1;
  int threads = 0;
  int device = 0;  // GPU index for the cuda and vulkan backends
  std::string out;
  bool verbose = false;
  std::vector<std::string> ops;       // --op: only these ops, and no end-to-end check
  std::vector<std::string> variants;  // --variant: kernel variants to pin
  std::string weight_bits;            // --weight-bits: "" = each backend's default layout
  bool trace = false;                 // --trace: each op against the oracle, layer by layer
  std::string plant;                  // --plant: a known bug planted into every backend checked
};

// --plant puts the bug in layer 1, or layer 0 of a one-layer model: where a
// trace shows it after a clean layer when there is one.
std::unique_ptr<Backend> checked_backend(const std::string& name, const CheckOptions& o, const ModelConfig& cfg) {
  std::unique_ptr<Backend> be =
      make_backend(name, backend_options(name, o.threads, o.device, o.variants, weight_bits_option(o.weight_bits)));
  if (o.plant.empty()) return be;
  return plant_bug(o.plant, std::move(be), std::min<int64_t>(1, cfg.n_layers - 1));
}

// Every --op must name an op the check set holds.
void check_op_names(const std::vector<std::string>& ops) {
  const std::vector<std::string> known = opcase::case_ops();
  for (const std::string& op : ops)
    if (std::find(known.begin(), known.end(), op) == known.end())
      throw UsageError(fmt::format("--op '{}': unknown op (known: {})", op, fmt::join(known, ", ")));
}

std::string metric(const std::optional<double>& v, const char* fmtstr) {
  return v ? fmt::format(fmt::runtime(fmtstr), *v) : std::string("-");
}

int run(const CheckOptions& o) {
  const ModelConfig cfg = model_config(o.model);
  check_tokens(cfg, {o.tokens}, "--tokens");
  if (!o.out.empty()) check_result_path(o.out);
  check_op_names(o.ops);
  std::vector<std::string> backends = o.backends.empty() ? usable_backends() : o.backends;
  // Every usable backend: those with no kernel for the asked-for layout are left
  // out with a note (a backend named in --backends must have one).
  if (o.backends.empty() && !o.weight_bits.empty())
    std::erase_if(backends, [&](const std::string& b) {
      try {
        resolved_pins(b, backend_options(b, o.threads, o.device, o.variants, weight_bits_option(o.weight_bits)));
        return false;
      } catch (const DeviceError& e) {
        fmt::print(stderr, "check: leaving out {}: {}\n", b, e.what());
        return true;
      }
    });
  check_variants(backends, o.variants);
  for (const auto& b : backends) checked_backend(b, o, cfg);
  // --op checks need only the config's shapes; the weights serve the end-to-end checks.
  const ModelWeights w = o.ops.empty() ? load_model(o.model, o.seed) : ModelWeights{};
  // The oracle's logits and noise floor, once per head for every backend.
  std::vector<OracleRun> oracle;
  if (o.ops.empty()) {
    Progress p("oracle noise floor");
    const std::vector<int32_t> tokens = check_tokens_for(cfg, o.tokens, o.seed + (kCheckPromptSeed - 1));
    for (HeadKind head : {HeadKind::BF16, HeadKind::Int8}) {
      p.update(oracle.empty() ? 0.0 : 0.5, fmt::format("{} head: oracle and {} runs at ±1 ulp", head_name(head),
                                                       kFloorRuns));
      oracle.push_back(run_oracle(w, tokens, head));
    }
    p.done(fmt::format("{} runs per head", kFloorRuns));
  }

  RunContext rc;
  rc.command = command_line();
  rc.threads = o.threads > 0 ? o.threads : logical_cores();
  rc.model = o.model;
  nlohmann::json records = nlohmann::json::array();
  bool all_pass = true;
  // End-to-end rows add the backend's NMSE and KL as multiples of the
  // oracle's noise floor (the floor row above them; rule: harness/noise_floor.h).
  fmt::print("{:<10} {:<46} {:>6} {:>10} {:>10} {:>9} {:>10} {:>6} {:>9} {:>9}\n", "backend", "check", "result", "nmse",
             "max|diff|", "cosine", "KL", "top1", "nmse/flr", "KL/flr");
  for (const OracleRun& r : oracle)
    fmt::print("{:<10} {:<46} {:>6} {:>10} {:>10} {:>9} {:>10} {:>6.3f}   the oracle at ±1 ulp, worst of {}; "
               "a backend passes within {:g} x\n",
               "floor", fmt::format("e2e/{}/tokens:{}{}", cfg.name, o.tokens, head_key_suffix(r.head)), "",
               fmt::format("{:.2e}", r.floor.nmse), "-", "-", fmt::format("{:.2e}", r.floor.kl), r.floor.top1,
               r.floor.runs, kFloorMultiple);
  for (const std::string& name : backends) {
    std::unique_ptr<Backend> be = checked_backend(name, o, cfg);
    if (be->info().kind == "gpu") rc.gpus.push_back(be->info());
    std::vector<CheckRecord> recs;
    {
      Progress p("check " + name);
      p.update(0.0, "ops");
      recs = check_ops(*be, cfg, o.ops);
      if (o.ops.empty()) {  // --op checks those ops alone
        p.update(0.5, "end to end against the reference");
        for (const OracleRun& r : oracle) recs.push_back(check_end_to_end(*be, w, r));
      }
      p.done(fmt::format("{} checks", recs.size()));
    }
    int failed = 0;
    for (const CheckRecord& r : recs) {
      records.push_back(to_json(r));
      failed += !r.pass;
      // Passing op checks are summarised unless --verbose; failures and e2e always print.
      if (r.pass && !o.verbose && r.check.rfind("e2e/", 0) != 0) continue;
      fmt::print("{:<10} {:<46} {:>6} {:>10} {:>10} {:>9} {:>10} {:>6} {:>9} {:>9}\n", r.backend, r.check,
                 r.pass ? "pass" : "FAIL",
                 r.bit_exact ? (*r.bit_exact ? "exact" : "differs") : metric(r.nmse, "{:.2e}"),
                 metric(r.max_abs_diff, "{:.2e}"), metric(r.cosine, "{:.7f}"), metric(r.kl_divergence, "{:.2e}"),
                 metric(r.top1_agreement, "{:.3f}"), metric(r.nmse_ratio, "{:.2g}"), metric(r.kl_ratio, "{:.2g}"));
    }
    size_t checks = recs.size();
    if (o.trace) {
      std::optional<TraceReport> tr;
      {
        Progress p("trace " + name);
        tr = trace_backend(*be, w, seeded_prompt(cfg, o.tokens, 3));
        p.done(tr->clean() ? "clean" : "an op beyond tolerance");
      }
      for (const std::string& line : trace_table(*tr)) fmt::print("{:<10} {}\n", name, line);
      records.push_back({{"backend", be->info().backend},
                         {"variant", be->info().variant},
                         {"check", fmt::format("trace/{}/tokens:{}", cfg.name, o.tokens)},
                         {"pass", tr->clean()},
                         {"trace", to_json(*tr)}});
      failed += !tr->clean();
      ++checks;
    }
    fmt::print("{:<10} {} of {} checks passed\n", name, checks - size_t(failed), checks);
    all_pass = all_pass && failed == 0;
  }
  nlohmann::json doc = new_result(rc);
  doc["correctness"] = records;
  const std::string path = o.out.empty() ? default_result_path("check") : o.out;
  write_result(path, doc);
  fmt::print("result file: {}\n", printable(path));
  if (!all_pass) fmt::print(stderr, "bitlab: a backend breaks the correctness contract\n");
  return all_pass ? 0 : 1;
}

}  // namespace

CLI::App* add_check(CLI::App& app, Action& action) {
  auto o = std::make_shared<CheckOptions>();
  CLI::App* sub = app.add_subcommand(
      "check", "Check every usable backend against the reference: each op, then the network end to end");
  add_backends(sub, o->backends, "backends to check (default: every one usable here)");
  add_model(sub, o->model, "model");
  add_token_count(sub, "--tokens", o->tokens, "teacher-forced sequence length for the end-to-end check");
  add_seed(sub, "--seed", o->seed,
           "seed of the synthetic weights; the end-to-end check's teacher-forced tokens use seed + 2")
      ->capture_default_str();
  add_device(sub, o->device);
  add_threads(sub, o->threads);
  sub->add_option("--out", o->out, "result file (default: results/check-<UTC time>.json)");
  sub->add_flag("--verbose", o->verbose, "print every check, not only failures and the end-to-end row");
  sub->add_option("--op", o->ops,
                  "check only this op (repeatable or comma-separated, e.g. matmul_w2a8), without the end-to-end "
                  "checks")
      ->expected(1)
      ->delimiter(',');
  add_variants(sub, o->variants);
  add_weight_bits(sub, "--weight-bits", o->weight_bits);
  sub->add_flag("--trace", o->trace,
                "also run each op against the oracle on the same inputs, layer by layer, and name the first op "
                "beyond its tolerance")
      ->excludes("--op");
  std::vector<std::string> bugs;
  for (const PlantedBug& b : planted_bugs()) bugs.push_back(b.name);
  sub->add_option("--plant", o->plant,
                  fmt::format("plant a known bug in layer 1 (layer 0 of a one-layer model) of every backend "
                              "checked, to see the checks catch it: {}",
                              fmt::join(bugs, ", ")));
  auto against = add_against_options(sub);  // another engine's logits: harness/check_against.h
  sub->callback([&action, o, against] {
    action = [o, against] {
      return against->active() ? run_check_against(*against, o->model, o->threads, o->out) : run(*o);
    };
  });
  return sub;
}

}  // namespace bitlab::cli

// `bitlab energy`: a dedicated, longer energy measurement of prefill and decode
// per backend. Idle power first, then each phase inside one window of at least
// --seconds (short phases repeated), reported gross and net of idle, per token
// and per second, with the source of each figure: rapl / nvml when a sensor is
// usable here, and always the modelled estimate beside it.
#include <memory>

#include <fmt/format.h>

#include "harness/cli_options.h"
#include "harness/commands.h"
#include "harness/terminal_text.h"
#include "harness/e2e_bench.h"
#include "harness/energy/session.h"
#include "harness/model_spec.h"
#include "harness/progress.h"
#include "harness/results.h"
#include "model/error.h"
#include "kernels/registry.h"
#include "common/sysinfo.h"

namespace bitlab::cli {
namespace {

struct EnergyCmdOptions {
  std::vector<std::string> backends;
  std::string model = "synthetic:2b4t";
  int threads = 0;
  int device = 0;  // GPU index for the cuda and vulkan backends (--nvml-device picks the metered one)
  std::string source = "auto";
  double seconds = 10;
  double idle_seconds = 5;
  int64_t prompt_len = 128;
  int64_t gen = 32;
  unsigned nvml_device = 0;
  std::string out;
};

std::string opt(const std::optional<double>& v, const char* spec) {
  return v ? fmt::format(fmt::runtime(spec), *v) : std::string("-");
}

void print_row(const std::string& backend, const std::string& phase, const EnergyFigure& f) {
  fmt::print("{:<9} {:<8} {:<9} {:>10.4g} {:>10} {:>9.4g} {:>8} {:>10} {:>8.2f} {:>8}\n", backend, phase,
             f.source + (f.source == "modelled" ? "*" : ""), f.joules_per_token(),
             opt(f.net_joules_per_token(), "{:.4g}"), f.average_watts(), opt(f.idle_watts, "{:.4g}"),
             opt(f.tokens_per_joule(), "{:.4g}"), f.seconds, f.tokens);
}

int run(const EnergyCmdOptions& o) {
  const ModelConfig cfg = model_config(o.model);
  check_positions(cfg, o.prompt_len, o.gen);
  if (!o.out.empty()) check_result_path(o.out);
  const std::vector<std::string> backends = o.backends.empty() ? usable_backends() : o.backends;
  std::vector<std::string> kinds;
  for (const auto& b : backends) kinds.push_back(make_backend(b, BackendOptions{.threads = o.threads, .device = o.device})->info().kind);

  EnergyOptions eo;
  eo.source = o.source;
  eo.idle_seconds = o.idle_seconds;
  eo.min_window_s = o.seconds;
  eo.nvml_device = o.nvml_device;
  if (o.source == "none") throw UsageError("--source none: nothing to measure");
  EnergySession energy(eo, kinds);
  for (const std::string& note : energy.notes()) fmt::print(stderr, "energy: {}\n", note);

  ModelWeights w = load_model(o.model, 1);
  if (energy.measures_hardware()) {
    Progress p("idle power");
    energy.measure_idle([&](const std::string& s) { p.update(0, s); });
    p.done("measured before any backend runs");
  }

  RunContext rc;
  rc.command = command_line();
  rc.threads = o.threads > 0 ? o.threads : logical_cores();
  rc.model = o.model;
  std::vector<nlohmann::json> measurements;
  std::vector<std::pair<std::string, Measurement>> rows;
  for (const std::string& name : backends) {
    std::unique_ptr<Backend> be = make_backend(name, BackendOptions{.threads = o.threads, .device = o.device});
    if (be->info().kind == "gpu") rc.gpus.push_back(be->info());
    Progress p("energy " + name);
    p.update(0, "uploading weights");
    Transformer model(*be, w, o.prompt_len + o.gen);
    E2eOptions e;
    e.prompt_len = o.prompt_len;
    e.gen = o.gen;
    e.prefill_repetitions = 3;
    e.model = o.model;
    e.key_prefix = "energy";
    e.energy = &energy;
    p.update(0, fmt::format("prefill and decode, {:.0f} s windows at least", energy.min_window_seconds(
                                                                                 energy.meters_for(be->info().kind))));
    for (const Measurement& m : run_e2e_benchmark(model, w, e, [&](double f) { p.update(f, "prefill and decode"); })) {
      measurements.push_back(to_json(m));
      rows.emplace_back(name, m);
    }
    p.done("done");
  }

  nlohmann::json doc = new_result(rc);
  doc["measurements"] = measurements;
  const std::string path = o.out.empty() ? default_result_path("energy") : o.out;
  write_result(path, doc);

  fmt::print("\n{:<9} {:<8} {:<9} {:>10} {:>10} {:>9} {:>8} {:>10} {:>8} {:>8}\n", "backend", "phase", "source",
             "J/token", "net J/tok", "avg W", "idle W", "tokens/J", "window s", "tokens");
  for (const auto& [backend, m] : rows)
    for (const EnergyFigure& f : m.energy) print_row(backend, m.name, f);
  fmt::print("(J/token and watts are gross: all the sensor sees (the whole CPU package and DRAM, or the whole GPU "
             "board); net subtracts the idle baseline. * modelled: an estimate from op and byte counts, not a "
             "measurement)\n");
  fmt::print("result file: {}\n", printable(path));
  return 0;
}

}  // namespace

CLI::App* add_energy(CLI::App& app, Action& action) {
  auto o = std::make_shared<EnergyCmdOptions>();
  CLI::App* sub = app.add_subcommand(
      "energy", "Measure joules per token of prefill and decode per backend over long windows, net of idle power");
  add_backends(sub, o->backends, "backends to run (default: every one usable here)");
  add_model(sub, o->model, "model");
  add_threads(sub, o->threads);
  add_device(sub, o->device);
  sub->add_option("--source", o->source,
                  "auto (rapl for CPU backends, nvml for GPU ones; modelled where no sensor), rapl, nvml or modelled")
      ->capture_default_str();
  add_real(sub, "--seconds", o->seconds, "shortest window per phase (short phases are repeated)", 0.0, 3600.0);
  add_real(sub, "--idle-seconds", o->idle_seconds, "idle-power baseline window before the runs", 0.01, 3600.0);
  add_token_count(sub, "--prompt-len", o->prompt_len, "prompt length for prefill");
  add_token_count(sub, "--gen", o->gen, "decode steps per pass (repeated over the same positions)");
  add_integer(sub, "--nvml-device", o->nvml_device, "NVML index of the GPU to meter", 0u, 255u);
  sub->add_option("--out", o->out, "result file (default: results/energy-<UTC time>.json)");
  sub->callback([&action, o] { action = [o] { return run(*o); }; });
  return sub;
}

}  // namespace bitlab::cli

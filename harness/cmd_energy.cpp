// `bitlab energy`: a dedicated, longer energy measurement of prefill and decode
// per backend. Idle power first, then each phase inside one window of at least
// --seconds (short phases repeated), reported gross and net of idle, per token
// and per second, with the source of each figure: rapl / nvml when a sensor is
// usable here, and always the modelled estimate beside it.
//
// `bitlab energy --calibrate`: fits the modelled meter's constants on this
// machine against RAPL or NVML (harness/energy/calibration.h) and writes the
// profile the model then uses on the same CPU or GPU model.
#include <algorithm>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <memory>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "harness/cli_options.h"
#include "harness/commands.h"
#include "harness/terminal_text.h"
#include "harness/e2e_bench.h"
#include "harness/energy/calibration.h"
#include "harness/energy/calibration_kernels.h"
#include "harness/energy/nvml.h"
#include "harness/energy/profile.h"
#include "harness/energy/rapl.h"
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
  bool calibrate = false;
  double calibrate_window = 1.0;
  int calibrate_repetitions = 5;
  std::string profile_dir;  // empty: default_profile_dir()
};

std::filesystem::path profile_dir(const EnergyCmdOptions& o) {
  return o.profile_dir.empty() ? default_profile_dir() : std::filesystem::path(o.profile_dir);
}

std::string opt(const std::optional<double>& v, const char* spec) {
  return v ? fmt::format(fmt::runtime(spec), *v) : std::string("-");
}

// A modelled row says "modelled" beside its numbers and shows no watts: the
// model's watts are its own constant, not something a meter read.
void print_row(const std::string& backend, const std::string& phase, const EnergyFigure& f) {
  fmt::print("{:<9} {:<8} {:<9} {:>10.4g} {:>10} {:>9} {:>8} {:>10} {:>8.2f} {:>8}\n", backend, phase,
             f.estimate() ? "modelled*" : f.source, f.joules_per_token(), opt(f.net_joules_per_token(), "{:.4g}"),
             opt(f.average_watts(), "{:.4g}"), opt(f.idle_watts, "{:.4g}"), opt(f.tokens_per_joule(), "{:.4g}"),
             f.seconds, f.tokens);
}

// The meter a calibration is measured with: RAPL where readable (unless
// --source nvml), else NVML; the kind of device it meters and that device's model.
struct CalibrationMeter {
  std::unique_ptr<EnergyMeter> meter;
  std::string kind, model;
};

CalibrationMeter open_calibration_meter(const EnergyCmdOptions& o) {
  if (o.source != "auto" && o.source != "rapl" && o.source != "nvml")
    throw UsageError(fmt::format("energy --calibrate: --source {} is not a hardware meter (auto, rapl or nvml)",
                                 o.source));
  std::vector<std::string> why;
  if (o.source != "nvml") {
    try {
      return {std::make_unique<RaplMeter>(default_powercap_root()), "cpu", cpu_model_name()};
    } catch (const DeviceError& e) {
      why.push_back(fmt::format("rapl: {}", e.what()));
    }
  }
  if (o.source != "rapl") {
    try {
      NvmlMeter::Options no;
      no.device = o.nvml_device;
      auto m = std::make_unique<NvmlMeter>(std::make_shared<const NvmlLibrary>(), no);
      const std::string name = m->device_name();
      return {std::move(m), "gpu", name};
    } catch (const DeviceError& e) {
      why.push_back(fmt::format("nvml: {}", e.what()));
    }
  }
  throw DeviceError(fmt::format("energy --calibrate needs a hardware energy meter and none is usable here ({})",
                                fmt::join(why, "; ")));
}

std::string utc_date() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[16];
  std::strftime(buf, sizeof buf, "%Y-%m-%d", &tm);
  return buf;
}

int calibrate(const EnergyCmdOptions& o) {
  const std::filesystem::path dir = profile_dir(o);
  if (dir.empty())
    throw UsageError("energy --calibrate: no folder for the profile (set --profile-dir, BITLAB_ENERGY_PROFILE_DIR "
                     "or HOME)");
  if (o.backends.size() > 1) throw UsageError("energy --calibrate runs its kernels on one backend (one --backend)");
  CalibrationMeter cm = open_calibration_meter(o);
  // The backend whose device the meter sees: the one named, else the first
  // usable of that kind other than scalar (the plain loops spend their energy
  // on instruction overhead the model's backends do not have), scalar last.
  std::vector<std::string> candidates = o.backends.empty() ? usable_backends() : o.backends;
  std::stable_partition(candidates.begin(), candidates.end(), [](const std::string& b) { return b != "scalar"; });
  std::string backend;
  for (const std::string& b : candidates) {
    if (make_backend(b, BackendOptions{.threads = o.threads, .device = o.device})->info().kind == cm.kind) {
      backend = b;
      break;
    }
    if (!o.backends.empty())
      throw UsageError(fmt::format("energy --calibrate: backend {} does not run on the {} that {} meters", b,
                                   cm.kind, cm.meter->source()));
  }
  if (backend.empty())
    throw DeviceError(fmt::format("energy --calibrate: no usable {} backend to run the kernels", cm.kind));
  std::unique_ptr<Backend> be = make_backend(backend, BackendOptions{.threads = o.threads, .device = o.device});
  fmt::print(stderr, "calibrating the model on {} '{}' with {} (backend {})\n", cm.kind, cm.model,
             cm.meter->source(), backend);

  CalibrationOptions co;
  co.window_s = o.calibrate_window;
  co.repetitions = o.calibrate_repetitions;
  Progress p("calibration");
  p.update(0, "preparing the kernels");
  const std::vector<CalibrationKernel> kernels = calibration_kernels(*be);
  const auto windows = measure_calibration_windows(*cm.meter, kernels, co, [&](double f, const std::string& s) {
    p.update(f, s);
  });
  p.done(fmt::format("{} windows", windows.size()));
  const CalibrationResult r = fit_calibration(windows);
  const EnergyProfile profile = calibration_profile(r, cm.kind, cm.model, cm.meter->source(), utc_date());
  const std::filesystem::path path = profile_path(dir, cm.model);
  write_profile(path, profile);

  auto row = [&](const char* what, const char* key, double v, const char* unit) {
    const Interval& i = r.intervals.at(key);
    fmt::print("  {:<26} {:>10.4g} {:<5} (95 % over {} repetitions: {:.4g} .. {:.4g})\n", what, v, unit,
               co.repetitions, i.low, i.high);
  };
  fmt::print("\nfitted on {} '{}' with {}:\n", cm.kind, cm.model, cm.meter->source());
  row("energy per int8 MAC", "int8_mac_pj", r.int8_mac_pj, "pJ");
  row("energy per DRAM byte", "dram_byte_pj", r.dram_byte_pj, "pJ");
  row("static power", "static_watts", r.static_watts(), "W");
  row("  of which idle", "idle_watts", r.idle_watts, "W");
  for (const auto& fit : r.report["fits"]) {
    double rms = 0;
    for (const auto& e : fit["residuals_joules"]) rms += e.get<double>() * e.get<double>();
    rms = std::sqrt(rms / double(std::max<size_t>(fit["residuals_joules"].size(), 1)));
    fmt::print("  fit of {:<19} R² {:.4f}, RMS residual {:.3g} J per window\n",
               fmt::format("{}:", fit["group"].get<std::string>()), fit["r2"].get<double>(), rms);
  }
  fmt::print("fp32 operations keep the textbook {:.3g} pJ (the kernels do too few to fit)\n",
             kHorowitz45nm.float_op_pj);
  fmt::print("profile: {} (the modelled meter uses it on this {} model)\n", printable(path.string()), cm.kind);
  return 0;
}

int run(const EnergyCmdOptions& o) {
  if (o.calibrate) return calibrate(o);
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
  eo.profile_dir = profile_dir(o);
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
  std::set<std::string> labels;
  for (const auto& [backend, m] : rows)
    for (const EnergyFigure& f : m.energy) {
      print_row(backend, m.name, f);
      labels.insert(f.label);
    }
  fmt::print("(measured J/token and watts are gross: all the sensor sees (the whole CPU package and DRAM, or the "
             "whole GPU board); net subtracts the idle baseline. * modelled: an estimate, not a measurement: op "
             "and byte counts x per-op energies + static power x the window; no watts shown for it)\n");
  for (const std::string& l : labels) fmt::print("  {}\n", printable(l));
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
  sub->add_flag("--calibrate", o->calibrate,
                "fit the modelled meter's constants against RAPL or NVML on this machine and write its profile");
  add_real(sub, "--calibrate-window", o->calibrate_window, "--calibrate: shortest window per kernel (NVML: 2 s at least)",
           0.01, 600.0);
  add_integer(sub, "--calibrate-repetitions", o->calibrate_repetitions,
              "--calibrate: repetitions of the kernel set (the confidence interval's sample)", 2, 100);
  sub->add_option("--profile-dir", o->profile_dir,
                  "energy profiles: where --calibrate writes and the model reads (default: BITLAB_ENERGY_PROFILE_DIR, "
                  "else ~/.config/bitlab/energy-profiles)");
  sub->callback([&action, o] { action = [o] { return run(*o); }; });
  return sub;
}

}  // namespace bitlab::cli

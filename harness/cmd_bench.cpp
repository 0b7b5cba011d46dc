// `bitlab bench`: the main job. Every backend usable here (or --backends) on
// one model: kernel microbenchmarks of the model's BitLinear shapes and head,
// then end-to-end prefill and decode, each held against the measured memory
// bandwidth (and, prefill and the many-token matmuls, the measured int8
// multiply-add peak), with the joules of each phase and where they came from (rapl,
// nvml or modelled). Writes one result file and prints one side-by-side table.
#include <algorithm>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include <fmt/format.h>

#include "harness/bandwidth.h"
#include "harness/cli_options.h"
#include "harness/compute_peak.h"
#include "harness/commands.h"
#include "harness/terminal_text.h"
#include "harness/e2e_bench.h"
#include "harness/energy/session.h"
#include "harness/kernel_bench.h"
#include "harness/model_spec.h"
#include "harness/progress.h"
#include "harness/results.h"
#include "harness/run_warnings.h"
#include "model/error.h"
#include "kernels/registry.h"
#include "common/sysinfo.h"

namespace bitlab::cli {
namespace {

struct BenchOptions {
  std::vector<std::string> backends;  // empty: every usable one
  std::string model = "synthetic:2b4t";
  int threads = 0;
  int device = 0;  // GPU index for the cuda and vulkan backends
  std::string out;
  bool quick = false;
  int repetitions = 9;
  std::vector<int64_t> tokens{1, 8, 32, 128};
  int64_t prompt_len = 128;
  int64_t gen = 32;
  std::vector<std::string> heads{"bf16"};  // e2e runs once per head
  // Weight layouts, each run in turn (kernels: the matmul cases again for each
  // layout after the first). Not given: the backends' defaults.
  std::vector<std::string> weight_bits;
  bool no_kernels = false, no_e2e = false;
  std::vector<std::string> variants;  // --variant: kernel variants to pin
  std::string energy_source = "auto";
  double idle_seconds = 2;
  unsigned nvml_device = 0;
  // Which of the options --quick shrinks were given: an explicit value wins.
  bool tokens_given = false, prompt_len_given = false, gen_given = false, idle_seconds_given = false;
};

// "0.0123 J/tok rapl 41.2 W": the primary energy figure of an e2e row.
std::string energy_cell(const nlohmann::json& m) {
  if (!m.contains("energy")) return "-";
  const auto& e = m["energy"];
  std::string s = fmt::format("{:.4g} J/tok {}", e["joules_per_token"].get<double>(), e["source"].get<std::string>());
  if (e.value("estimate", false)) s += " (est.)";
  s += fmt::format(" {:.3g} W", e["average_watts"].get<double>());
  if (e.contains("net_joules_per_token")) s += fmt::format(" net {:.3g}", e["net_joules_per_token"].get<double>());
  return s;
}

std::string cell(const nlohmann::json& m) {
  const auto& d = m.value("derived", nlohmann::json::object());
  const double med = m["stats"]["median"].get<double>();
  std::string s;
  if (m["kind"] == "kernel") {
    s = fmt::format("{:>9.1f} us {:>6.1f} GB/s", med * 1e6, d.value("gbps", 0.0));
  } else if (m["name"] == "prefill") {
    s = fmt::format("{:>8.2f} tok/s ttft {:.0f} ms", d.value("tokens_per_s", 0.0), d.value("ttft_ms", 0.0));
  } else {
    s = fmt::format("{:>8.2f} tok/s p90 {:.1f} ms", d.value("tokens_per_s", 0.0),
                    m["stats"]["p90"].get<double>() * 1e3);
  }
  if (d.contains("roofline_fraction")) s += fmt::format(" {:>3.0f}%", 100.0 * d["roofline_fraction"].get<double>());
  if (d.contains("compute_fraction"))
    s += fmt::format(" {:>3.0f}% of int8 peak", 100.0 * d["compute_fraction"].get<double>());
  return s;
}

// One row per measured case, one column per backend.
void print_table(const nlohmann::json& doc, const std::vector<std::string>& backends) {
  std::vector<std::string> rows;
  std::map<std::pair<std::string, std::string>, std::string> cells;
  for (const auto& m : doc["measurements"]) {
    const std::string key = m["key"].get<std::string>();
    // An e2e row's configuration beyond the defaults: ", int8 head", ", 1.6-bit weights".
    std::string config;
    if (m["kind"] == "e2e") {
      const size_t h = key.find("/head:");
      if (h != std::string::npos) config += fmt::format(", {} head", key.substr(h + 6, key.find('/', h + 6) - h - 6));
      const double bits = m.value("derived", nlohmann::json::object()).value("weight_bits", 2.0);
      if (bits != 2.0) config += fmt::format(", {:g}-bit weights", bits);
    }
    std::string row;
    if (m["kind"] == "kernel") {
      const size_t v = key.find("/variant:");
      row = fmt::format("{} {}x{} T={}{}", m["name"].get<std::string>(), m["shape"]["n"].get<int64_t>(),
                        m["shape"]["k"].get<int64_t>(), m["shape"]["tokens"].get<int64_t>(),
                        v == std::string::npos ? "" : " " + key.substr(v + 1));
    } else {
      row = fmt::format("{} (prompt {}{})", m["name"].get<std::string>(), m["shape"]["prompt"].get<int64_t>(), config);
    }
    if (std::find(rows.begin(), rows.end(), row) == rows.end()) rows.push_back(row);
    cells[{row, m["backend"].get<std::string>()}] = cell(m);
    if (m["kind"] == "e2e" && m.contains("energy")) {
      const std::string erow =
          fmt::format("{} energy{}", m["name"].get<std::string>(), config.empty() ? "" : " (" + config.substr(2) + ")");
      if (std::find(rows.begin(), rows.end(), erow) == rows.end()) rows.push_back(erow);
      cells[{erow, m["backend"].get<std::string>()}] = energy_cell(m);
    }
  }
  size_t w0 = 6;
  for (const auto& r : rows) w0 = std::max(w0, r.size());
  size_t wc = 40;
  for (const auto& [where, c] : cells) wc = std::max(wc, c.size());
  fmt::print("\n{:<{}}", "case", w0);
  for (const auto& b : backends) fmt::print("  {:<{}}", b, wc);
  fmt::print("\n");
  for (const auto& r : rows) {
    fmt::print("{:<{}}", r, w0);
    for (const auto& b : backends) {
      auto it = cells.find({r, b});
      fmt::print("  {:<{}}", it == cells.end() ? "-" : it->second, wc);
    }
    fmt::print("\n");
  }
  fmt::print("(kernels: median per call and weight+activation GB/s; e2e: median; % = fraction of the "
             "memory-bandwidth roofline: the highest of {:.1f} GB/s and probes just before and after the case)\n",
             doc["context"]["memory_bandwidth_gbps"].get<double>());
  const auto& ctx = doc["context"];
  if (ctx.contains("int8_peak_gmacs"))
    fmt::print("(% of int8 peak = int8 multiply-adds per second (ops / 2) over the measured {} peak of {:.0f} GMAC/s "
               "with {} threads)\n",
               ctx["int8_peak_isa"].get<std::string>(), ctx["int8_peak_gmacs"].get<double>(),
               ctx["threads"].get<int>());
  fmt::print("(energy: gross joules per token over the phase's window, its source, average watts, and net of the "
             "idle baseline; modelled = estimate from op and byte counts)\n");
}

// Every usable backend, except a Vulkan device that is a software rasterizer
// (lavapipe/llvmpipe): it is there for correctness, and timing it takes minutes
// per decode step. Naming it in --backends still benchmarks it.
std::vector<std::string> default_bench_backends(const BenchOptions& o) {
  std::vector<std::string> out;
  for (const std::string& name : usable_backends()) {
    if (name == "vulkan") {
      const std::string device = make_backend(name, backend_options(name, o.threads, o.device, o.variants))->info().name;
      if (device.find("llvmpipe") != std::string::npos) {
        fmt::print(stderr, "bench: skipping vulkan on {} (software rasterizer; --backends vulkan includes it)\n",
                   device);
        continue;
      }
    }
    out.push_back(name);
  }
  return out;
}

// One backend with one weight layout: the kernel cases (all of them for the
// first layout, only the matmul cases for the others), then e2e per head.
void bench_backend(const BenchOptions& o, const std::string& name, const BackendOptions& bo,
                   const std::vector<std::string>& pins, bool all_kernels, const ModelWeights& w,
                   const ModelConfig& cfg, double bandwidth_gbps, const std::function<double()>& probe,
                   const EnergySession* energy, RunContext& rc, std::vector<nlohmann::json>& measurements) {
  std::unique_ptr<Backend> be = make_backend(name, bo);
  const WeightBits bits = bo.weight_bits.value_or(WeightBits::Two);
  const std::string layout = bo.weight_bits ? fmt::format(", {}-bit weights", weight_bits_name(bits)) : "";
  if (be->info().kind == "gpu" && all_kernels) rc.gpus.push_back(be->info());
  const bool cpu_backend = be->info().kind == "cpu";
  if (!o.no_kernels) {
    KernelBenchOptions ko;
    ko.repetitions = o.repetitions;
    ko.min_seconds = o.quick ? 0.005 : 0.1;
    ko.pins = pins;
    // The roofline is host memory: meaningless for a GPU's kernels (gpu-check
    // measures device bandwidth with the CUDA and Vulkan benchmarks).
    ko.bandwidth_gbps = cpu_backend ? bandwidth_gbps : 0;
    ko.probe = probe;
    ko.int8_peak_macs = cpu_backend ? rc.int8_peak_gmacs * 1e9 : 0;
    std::vector<opcase::OpCase> cases = opcase::bench_cases(cfg, o.tokens);
    if (!all_kernels) std::erase_if(cases, [](const opcase::OpCase& c) { return c.op != "matmul_w2a8"; });
    Progress p("kernels " + name + layout);
    for (const Measurement& m : run_kernel_benchmarks(*be, cases, ko, [&](size_t i, size_t n, const std::string& s) {
           p.update(double(i) / double(n), s);
         }))
      measurements.push_back(to_json(m));
    p.done(fmt::format("{} cases x {} repetitions", cases.size(), o.repetitions));
  }
  for (const std::string& head_arg : o.no_e2e ? std::vector<std::string>{} : o.heads) {
    const HeadKind head = parse_head(head_arg);
    const std::string what =
        fmt::format("{}{}{}", name, head == HeadKind::BF16 ? "" : fmt::format(", {} head", head_name(head)), layout);
    Progress p("e2e " + what);
    p.update(0, "uploading weights");
    // Built on the profiler, which forwards untimed until the one profiled prefill.
    OpProfiler profiler(*be);
    Transformer model(profiler, w, o.prompt_len + o.gen, {}, head);
    E2eOptions eo;
    eo.prompt_len = o.prompt_len;
    eo.gen = o.gen;
    eo.prefill_repetitions = o.quick ? 3 : 5;
    eo.bandwidth_gbps = cpu_backend ? bandwidth_gbps : 0;
    eo.probe = probe;
    eo.int8_peak_macs = cpu_backend ? rc.int8_peak_gmacs * 1e9 : 0;
    eo.model = o.model;
    eo.energy = energy;
    eo.weight_bits = bits;
    eo.profiler = &profiler;
    const auto ms = run_e2e_benchmark(model, w, eo, [&](double f) { p.update(f, "prefill and decode"); });
    for (const Measurement& m : ms) measurements.push_back(to_json(m));
    std::string joules;
    if (!ms[1].energy.empty())
      joules = fmt::format("; decode {:.4g} J/token ({})", ms[1].energy[0].joules_per_token(),
                           ms[1].energy[0].source == "modelled" ? "modelled estimate" : ms[1].energy[0].source);
    p.done(fmt::format("prefill {:.2f} tok/s, decode {:.2f} tok/s, {:.3g} GB/token at {:.1f} GB/s{}",
                       ms[0].derived.at("tokens_per_s"), ms[1].derived.at("tokens_per_s"), ms[1].bytes / 1e9,
                       ms[1].derived.at("gbps"), joules));
    if (!ms[0].breakdown.empty()) fmt::print(stderr, "  prefill by op: {}\n", top_ops(ms[0].breakdown, 4));
  }
}

int run(BenchOptions o) {
  const LoadSample load_at_start = sample_load();
  // --quick changes defaults only: what the user wrote is what runs.
  if (o.quick) {
    if (!o.tokens_given) o.tokens = {1, 8};
    if (!o.prompt_len_given) o.prompt_len = 16;
    if (!o.gen_given) o.gen = 8;
    if (!o.idle_seconds_given) o.idle_seconds = 0.5;
  }
  const ModelConfig cfg = model_config(o.model);
  check_positions(cfg, o.prompt_len, o.gen);
  check_tokens(cfg, o.tokens, "--tokens");
  if (!o.out.empty()) check_result_path(o.out);
  std::vector<std::string> backends = o.backends.empty() ? default_bench_backends(o) : o.backends;
  // Fail on a bad name before any long work.
  check_variants(backends, o.variants);
  std::vector<std::string> kinds;
  for (const auto& b : backends)
    kinds.push_back(make_backend(b, backend_options(b, o.threads, o.device, o.variants))->info().kind);

  std::unique_ptr<EnergySession> energy;
  if (!o.no_e2e) {
    EnergyOptions eo;
    eo.source = o.energy_source;
    eo.idle_seconds = o.idle_seconds;
    eo.nvml_device = o.nvml_device;
    energy = std::make_unique<EnergySession>(eo, kinds);
    for (const std::string& note : energy->notes()) fmt::print(stderr, "energy: {}\n", note);
  }

  const int threads = o.threads > 0 ? o.threads : logical_cores();
  BandwidthProbe bw;
  {
    Progress p("bandwidth");
    p.update(0, "probing memory read bandwidth");
    bw = o.quick ? measure_read_bandwidth(threads, size_t(128) << 20, 3) : measure_read_bandwidth(threads);
    p.done(fmt::format("{:.1f} GB/s read with {} threads ({} MiB buffer)", bw.read_gbps, threads, bw.bytes >> 20));
  }
  ComputePeak peak;
  {
    Progress p("int8 peak");
    p.update(0, "probing the int8 multiply-add peak");
    peak = measure_int8_peak(threads, o.quick ? 0.05 : 0.2, 3);
    p.done(peak.isa.empty() ? std::string("no int8 dot-product path on this CPU")
                            : fmt::format("{:.0f} GMAC/s ({}, {} threads)", peak.macs_per_s / 1e9, peak.isa, threads));
  }
  ModelWeights w = load_model(o.model, 1);
  if (energy && energy->measures_hardware()) {
    Progress p("idle power");
    energy->measure_idle([&](const std::string& s) { p.update(0, s); });
    p.done("measured before any backend runs");
  }

  // A short probe run again around each case (KernelBenchOptions::probe).
  const std::function<double()> probe = [&] {
    return measure_read_bandwidth(threads, size_t(o.quick ? 64 : 256) << 20, 3).read_gbps;
  };

  RunContext rc;
  rc.command = command_line();
  rc.threads = threads;
  rc.bandwidth_gbps = bw.read_gbps;
  rc.int8_peak_gmacs = peak.macs_per_s / 1e9;
  rc.int8_peak_isa = peak.isa;
  rc.model = o.model;
  std::vector<nlohmann::json> measurements;

  // Each backend once per weight layout; a layout a backend has no kernel for is skipped with a note.
  std::vector<std::optional<WeightBits>> layouts;
  for (const std::string& b : o.weight_bits) layouts.emplace_back(parse_weight_bits(b));
  if (layouts.empty()) layouts.emplace_back();
  for (const std::string& name : backends) {
    for (size_t li = 0; li < layouts.size(); ++li) {
      const BackendOptions bo = backend_options(name, o.threads, o.device, o.variants, layouts[li]);
      std::vector<std::string> pins;
      try {
        pins = resolved_pins(name, bo);
      } catch (const DeviceError& e) {
        if (layouts.size() == 1) throw;
        fmt::print(stderr, "bench: skipping {} with {}-bit weights: {}\n", name, weight_bits_name(*layouts[li]),
                   e.what());
        continue;
      }
      bench_backend(o, name, bo, pins, li == 0, w, cfg, bw.read_gbps, probe, energy.get(), rc, measurements);
    }
  }

  rc.load = machine_load_between(load_at_start, sample_load());
  nlohmann::json doc = new_result(rc);
  doc["measurements"] = measurements;
  const std::vector<std::string> warnings = add_run_warnings(doc);
  const std::string path = o.out.empty() ? default_result_path("bench") : o.out;
  write_result(path, doc);
  print_table(doc, backends);
  fmt::print("result file: {}\n", printable(path));
  print_run_warnings(warnings);
  return 0;
}

}  // namespace

CLI::App* add_bench(CLI::App& app, Action& action) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* sub = app.add_subcommand(
      "bench", "Benchmark every usable backend: kernels of the model's shapes, then prefill and decode end to end");
  add_backends(sub, o->backends, "backends to run (default: every one usable here)");
  add_model(sub, o->model, "model");
  add_device(sub, o->device);
  add_threads(sub, o->threads);
  sub->add_option("--out", o->out, "result file (default: results/bench-<UTC time>.json)");
  sub->add_flag("--quick", o->quick,
                "small and fast (for CI): tokens 1 and 8, prompt 16, 8 decode steps, 0.5 s idle window and short "
                "minimum times; --tokens, --prompt-len, --gen and --idle-seconds given explicitly still apply");
  add_integer(sub, "--repetitions", o->repetitions, "kernel repetitions (samples per case)", 1, 1000);
  CLI::Option* tokens = add_integers<int64_t>(sub, "--tokens", o->tokens,
                                              "token counts for the kernel cases (each at most the model's positions)",
                                              1, kMaxTokenCount);
  CLI::Option* prompt_len = add_token_count(sub, "--prompt-len", o->prompt_len, "prompt length for prefill");
  CLI::Option* gen = add_token_count(sub, "--gen", o->gen, "decode steps to time");
  add_head_option(sub, "--heads", o->heads)->delimiter(',');
  add_weight_bits(sub, "--weight-bits", o->weight_bits);
  sub->add_flag("--no-kernels", o->no_kernels, "skip the kernel microbenchmarks");
  add_variants(sub, o->variants);
  sub->add_flag("--no-e2e", o->no_e2e, "skip prefill/decode end to end");
  sub->add_option("--energy-source", o->energy_source,
                  "energy of prefill/decode: auto (rapl for CPU backends, nvml for GPU ones, else modelled), rapl, "
                  "nvml, modelled or none")
      ->capture_default_str();
  CLI::Option* idle = add_real(sub, "--idle-seconds", o->idle_seconds,
                               "idle-power baseline window before the runs (--quick: 0.5 unless given)", 0.01, 3600.0);
  add_integer(sub, "--nvml-device", o->nvml_device, "NVML index of the GPU to meter", 0u, 255u);
  sub->callback([&action, o, tokens, prompt_len, gen, idle] {
    o->tokens_given = tokens->count() > 0;
    o->prompt_len_given = prompt_len->count() > 0;
    o->gen_given = gen->count() > 0;
    o->idle_seconds_given = idle->count() > 0;
    action = [o] { return run(*o); };
  });
  return sub;
}

}  // namespace bitlab::cli

// `bitlab bench`: the main job. Every backend usable here (or --backends) on
// one model: kernel microbenchmarks of the model's BitLinear shapes and head,
// then end-to-end prefill and decode, each held against the measured memory
// bandwidth (and, prefill and the many-token matmuls, the measured int8
// multiply-add peak), with the joules of each phase and where they came from (rapl,
// nvml or modelled). Writes one result file and prints one side-by-side table.
// Models, thread counts, prompt lengths, decode steps and context depths take
// comma lists (llama-bench's -m -t -p -n -d): every combination is measured.
#include <algorithm>
#include <cmath>
#include <map>
#include <memory>
#include <optional>
#include <set>
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
#include "harness/peers/peer_bench.h"
#include "harness/planted_slowdown.h"
#include "harness/progress.h"
#include "harness/result_formats.h"
#include "harness/results.h"
#include "harness/stats.h"
#include "harness/run_warnings.h"
#include "model/error.h"
#include "kernels/registry.h"
#include "common/sysinfo.h"

namespace bitlab::cli {
namespace {

struct BenchOptions {
  std::vector<std::string> backends;  // empty: every usable one
  std::vector<std::string> models{"synthetic:2b4t"};  // each measured in turn
  std::vector<int> threads{0};  // each measured in turn; 0 = all cores
  int device = 0;  // GPU index for the cuda and vulkan backends
  std::string out;
  std::string output;  // -o: a format (result_formats.h) for stdout; the table then goes to stderr
  bool quick = false;
  // Kernel samples per case; given explicitly, also the timed prefills and
  // decode passes of each end-to-end case (else 5 prefills, 3 with --quick, and one pass).
  int repetitions = 9;
  double min_time = 0;  // --min-time: seconds a kernel repetition lasts at least; 0 = 0.1 s (--quick: 0.005 s)
  std::vector<int64_t> tokens{1, 8, 32, 128};
  std::vector<int64_t> prompt_lens{128};
  std::vector<int64_t> gens{32};
  std::vector<int64_t> depths{0};  // tokens in the KV cache before prefill and decode
  std::vector<std::string> heads{"bf16"};  // e2e runs once per head
  // Weight layouts, each run in turn (kernels: the matmul cases again for each
  // layout after the first). Not given: the backends' defaults.
  std::vector<std::string> weight_bits;
  bool no_kernels = false, no_e2e = false;
  std::vector<std::string> variants;  // --variant: kernel variants to pin
  std::string energy_source = "auto";
  double idle_seconds = 2;
  unsigned nvml_device = 0;
  std::string plant_slowdown;  // hidden: a known slowdown for testing compare --ab (planted_slowdown.h)
  // Which of the options --quick shrinks were given: an explicit value wins.
  bool tokens_given = false, prompt_len_given = false, gen_given = false, idle_seconds_given = false;
  bool repetitions_given = false;
  peers::PeerOptions peers;  // --peer and its options
};

// The end-to-end repetitions: -r when given, else the long-standing defaults.
int prefill_repetitions(const BenchOptions& o) { return o.repetitions_given ? o.repetitions : o.quick ? 3 : 5; }
int decode_repetitions(const BenchOptions& o) { return o.repetitions_given ? o.repetitions : 1; }

// Fails (UsageError) before any long work on a model, a list or a combination
// that cannot run: each model's positions must hold its deepest case (context,
// prompt and decode steps); returns the models' configurations.
std::vector<ModelConfig> check_sweep(const BenchOptions& o) {
  std::vector<ModelConfig> cfgs;
  for (const std::string& spec : o.models) {
    const ModelConfig cfg = model_config(spec);
    const int64_t depth = *std::max_element(o.depths.begin(), o.depths.end());
    const int64_t prompt = *std::max_element(o.prompt_lens.begin(), o.prompt_lens.end());
    const int64_t gen = *std::max_element(o.gens.begin(), o.gens.end());
    if (depth + prompt + gen > cfg.max_pos)
      throw UsageError(fmt::format("{}--prompt-len + --gen = {} exceeds the model's {} positions ({}: {}--prompt-len {}, "
                                   "--gen {}, the largest of each list)",
                                   depth > 0 ? "--depth + " : "", depth + prompt + gen, cfg.max_pos, spec,
                                   depth > 0 ? fmt::format("--depth {}, ", depth) : "", prompt, gen));
    check_tokens(cfg, o.tokens, "--tokens");
    cfgs.push_back(cfg);
  }
  return cfgs;
}

// The thread count a --threads item runs with (0: every core).
int resolved_threads(int t) { return t > 0 ? t : logical_cores(); }

// What a progress line adds for the swept dimensions: ", 2 threads", ", synthetic:tiny".
std::string sweep_label(const BenchOptions& o, const std::string& model, int threads) {
  std::string s;
  if (o.models.size() > 1) s += ", " + model;
  if (o.threads.size() > 1) s += fmt::format(", {} threads", threads);
  return s;
}

// The statistics of a measurement's per-sample rate (tokens/s for e2e) or
// time (kernels): the table shows their mean ± standard deviation.
Stats sample_spread(const nlohmann::json& m, bool as_rate) {
  std::vector<double> v;
  const double tokens = double(m.value("tokens", int64_t(1)));
  for (const auto& x : m["samples"]) v.push_back(as_rate ? tokens / x.get<double>() : x.get<double>());
  return summarize(v);
}

// "0.0123 J/tok rapl 41.2 W": the primary energy figure of an e2e row
// ("0.0123 J/tok modelled (est.)": a model's figure shows no watts).
std::string energy_cell(const nlohmann::json& m) {
  if (!m.contains("energy")) return "-";
  const auto& e = m["energy"];
  std::string s = fmt::format("{:.4g} J/tok {}", e["joules_per_token"].get<double>(), e["source"].get<std::string>());
  if (e.value("estimate", false)) s += " (est.)";
  if (e.contains("average_watts")) s += fmt::format(" {:.3g} W", e["average_watts"].get<double>());
  if (e.contains("net_joules_per_token")) s += fmt::format(" net {:.3g}", e["net_joules_per_token"].get<double>());
  return s;
}

std::string cell(const nlohmann::json& m) {
  const auto& d = m.value("derived", nlohmann::json::object());
  const double med = m["stats"]["median"].get<double>();
  std::string s;
  if (m["kind"] == "kernel") {
    const Stats t = sample_spread(m, false);
    s = fmt::format("{:>9.1f} us ({:.1f} ± {:.1f}) {:>6.1f} GB/s", med * 1e6, t.mean * 1e6, t.stddev * 1e6,
                    d.value("gbps", 0.0));
  } else {
    const Stats r = sample_spread(m, true);
    s = fmt::format("{:>8.2f} tok/s ({:.2f} ± {:.2f})", d.value("tokens_per_s", 0.0), r.mean, r.stddev);
    if (m["name"] == "prefill")
      s += fmt::format(" ttft {:.0f} ms", d.value("ttft_ms", 0.0));
    else
      s += fmt::format(" p90 {:.1f} ms", m["stats"]["p90"].get<double>() * 1e3);
  }
  if (d.contains("roofline_fraction")) s += fmt::format(" {:>3.0f}%", 100.0 * d["roofline_fraction"].get<double>());
  if (d.contains("compute_fraction"))
    s += fmt::format(" {:>3.0f}% of int8 peak", 100.0 * d["compute_fraction"].get<double>());
  return s;
}

// The dimensions whose values differ between a document's measurements of
// one kind: the rows name them so that no two cases share a row.
struct SweptDims {
  bool model = false, threads = false, depth = false, gen = false, prompt = false;
};
SweptDims swept_dims(const nlohmann::json& doc, const std::string& kind) {
  std::set<std::string> models;
  std::set<int64_t> threads, depths, gens, prompts;
  for (const auto& m : doc["measurements"]) {
    if (m["kind"] != kind) continue;
    const auto shape = m.value("shape", nlohmann::json::object());
    models.insert(m.value("model", std::string()));
    threads.insert(shape.value("threads", int64_t(0)));
    depths.insert(shape.value("depth", int64_t(0)));
    prompts.insert(shape.value("prompt", int64_t(0)));
    if (m["name"] == "decode") gens.insert(shape.value("gen", int64_t(0)));
  }
  return {models.size() > 1, threads.size() > 1, depths.size() > 1, gens.size() > 1, prompts.size() > 1};
}

// ", depth 512, gen 32, 2 threads, synthetic:tiny": the swept values of an e2e row or " threads:2" of a kernel row.
std::string swept_cells(const nlohmann::json& m, const SweptDims& dims) {
  const auto shape = m.value("shape", nlohmann::json::object());
  std::string s;
  if (m["kind"] == "kernel") return dims.threads ? fmt::format(" threads:{}", shape.value("threads", 0)) : "";
  if (dims.depth) s += fmt::format(", depth {}", shape.value("depth", int64_t(0)));
  if (dims.gen && m["name"] == "decode") s += fmt::format(", gen {}", shape.value("gen", int64_t(0)));
  if (dims.threads) s += fmt::format(", threads {}", shape.value("threads", 0));
  if (dims.model) s += ", " + m.value("model", std::string("?"));
  return s;
}

// One row per measured case, one column per backend.
void print_table(std::FILE* out, const nlohmann::json& doc, const std::vector<std::string>& backends) {
  const SweptDims kernel_dims = swept_dims(doc, "kernel"), e2e_dims = swept_dims(doc, "e2e");
  std::vector<std::string> rows;
  std::map<std::pair<std::string, std::string>, std::string> cells;
  for (const auto& m : doc["measurements"]) {
    const std::string key = m["key"].get<std::string>();
    // An e2e row's configuration beyond the defaults: ", int8 head", ", 1.6-bit weights".
    std::string config;
    if (m["kind"] == "e2e") {
      config += swept_cells(m, e2e_dims);
      const size_t h = key.find("/head:");
      if (h != std::string::npos) config += fmt::format(", {} head", key.substr(h + 6, key.find('/', h + 6) - h - 6));
      const double bits = m.value("derived", nlohmann::json::object()).value("weight_bits", 2.0);
      if (bits != 2.0) config += fmt::format(", {:g}-bit weights", bits);
    }
    std::string row;
    if (m["kind"] == "kernel") {
      const size_t v = key.find("/variant:");
      row = fmt::format("{} {}x{} T={}{}{}", m["name"].get<std::string>(), m["shape"]["n"].get<int64_t>(),
                        m["shape"]["k"].get<int64_t>(), m["shape"]["tokens"].get<int64_t>(),
                        swept_cells(m, kernel_dims), v == std::string::npos ? "" : " " + key.substr(v + 1));
    } else {
      row = fmt::format("{} (prompt {}{})", m["name"].get<std::string>(), m["shape"]["prompt"].get<int64_t>(), config);
    }
    if (std::find(rows.begin(), rows.end(), row) == rows.end()) rows.push_back(row);
    cells[{row, m["backend"].get<std::string>()}] = cell(m);
    if (m["kind"] == "e2e" && m.contains("energy")) {
      // The prompt length only where it differs between rows: a plain run's energy rows read as they always did.
      if (e2e_dims.prompt) config = fmt::format(", prompt {}{}", m["shape"]["prompt"].get<int64_t>(), config);
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
  fmt::print(out, "\n{:<{}}", "case", w0);
  for (const auto& b : backends) fmt::print(out, "  {:<{}}", b, wc);
  fmt::print(out, "\n");
  for (const auto& r : rows) {
    fmt::print(out, "{:<{}}", r, w0);
    for (const auto& b : backends) {
      auto it = cells.find({r, b});
      fmt::print(out, "  {:<{}}", it == cells.end() ? "-" : it->second, wc);
    }
    fmt::print(out, "\n");
  }
  fmt::print(out, "(kernels: median per call (mean ± sd) and weight+activation GB/s; e2e: median tokens/s (mean ± sd of "
             "the samples' tokens/s); % = fraction of the memory-bandwidth roofline: the highest of {:.1f} GB/s and probes just before and after the case)\n",
             doc["context"]["memory_bandwidth_gbps"].get<double>());
  const auto& ctx = doc["context"];
  if (ctx.contains("int8_peak_gmacs"))
    fmt::print(out, "(% of int8 peak = int8 multiply-adds per second (ops / 2) over the highest of the measured {} peak of "
               "{:.0f} GMAC/s with {} threads and short probes just before and after the case, with its own threads)\n",
               ctx["int8_peak_isa"].get<std::string>(), ctx["int8_peak_gmacs"].get<double>(),
               ctx["threads"].get<int>());
  fmt::print(out, "(energy: joules per token over the phase's window and its source; measured: gross, with average "
             "watts and net of the idle baseline; modelled: an estimate from op and byte counts plus static power "
             "over the window's time, never shown in watts)\n");
}

// Every usable backend, except a Vulkan device that is a software rasterizer
// (lavapipe/llvmpipe): it is there for correctness, and timing it takes minutes
// per decode step. Naming it in --backends still benchmarks it.
std::vector<std::string> default_bench_backends(const BenchOptions& o) {
  std::vector<std::string> out;
  for (const std::string& name : usable_backends()) {
    if (name == "vulkan") {
      const std::string device = make_backend(name, backend_options(name, o.threads.front(), o.device, o.variants))->info().name;
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

// One backend with one weight layout and thread count on one model.
struct BackendRun {
  std::string name;
  BackendOptions options;
  std::vector<std::string> pins;
  bool all_kernels = true;  // the first layout: every kernel case, else only the matmuls
  std::string model;        // spec
  std::string label;        // what progress lines add for the swept dimensions
};

// Where a run's measurements go, and what it is held against.
struct BenchSink {
  double bandwidth_gbps = 0;
  std::function<double()> probe;
  const EnergySession* energy = nullptr;
  RunContext* rc = nullptr;
  std::vector<nlohmann::json>* measurements = nullptr;
  // Kernel cases measured so far, per backend, layout and thread count: a
  // second model with the same shapes measures nothing new (kernel keys name
  // shapes, not models).
  std::set<std::string> kernel_cases;
  peers::PeerBench* peers = nullptr;  // run after each e2e case of a CPU backend
};

// The int8 peak a CPU backend's compute-bound cases start from: the run's
// probe, taken with the most threads any case uses; a case with fewer threads
// has only its own probes to go by (twice the threads is not half the ceiling
// where the cores are shared), so it starts from none.
double int8_ceiling(const RunContext& rc, const Backend& be) {
  if (rc.int8_peak_gmacs <= 0) return 0;
  return be.info().threads == rc.threads ? rc.int8_peak_gmacs * 1e9 : 0.0;
}

// A short int8 peak probe with the backend's own thread count, run just before
// and after each compute-bound case (KernelBenchOptions::peak_probe).
std::function<double()> peak_probe(const BenchOptions& o, const Backend& be) {
  if (be.info().kind != "cpu") return {};
  const int threads = be.info().threads;
  const double seconds = o.quick ? 0.02 : 0.05;
  return [threads, seconds] { return measure_int8_peak(threads, seconds, 2).macs_per_s; };
}

void bench_kernels(const BenchOptions& o, const BackendRun& r, Backend& be, const ModelConfig& cfg,
                   const std::string& layout, BenchSink& sink) {
  const bool cpu_backend = be.info().kind == "cpu";
  KernelBenchOptions ko;
  ko.repetitions = o.repetitions;
  ko.min_seconds = o.min_time > 0 ? o.min_time : o.quick ? 0.005 : 0.1;
  ko.pins = r.pins;
  // The roofline is host memory: meaningless for a GPU's kernels (gpu-check
  // measures device bandwidth with the CUDA and Vulkan benchmarks).
  ko.bandwidth_gbps = cpu_backend ? sink.bandwidth_gbps : 0;
  ko.probe = sink.probe;
  ko.int8_peak_macs = cpu_backend ? int8_ceiling(*sink.rc, be) : 0;
  ko.peak_probe = peak_probe(o, be);
  std::vector<opcase::OpCase> cases = opcase::bench_cases(cfg, o.tokens);
  if (!r.all_kernels) std::erase_if(cases, [](const opcase::OpCase& c) { return c.op != "matmul_w2a8"; });
  const std::string run_id = fmt::format("{}{}/threads:{}", r.name, layout, be.info().threads);
  std::erase_if(cases, [&](const opcase::OpCase& c) { return !sink.kernel_cases.insert(run_id + c.key()).second; });
  if (cases.empty()) return;
  Progress p("kernels " + r.name + layout + r.label);
  for (const Measurement& m : run_kernel_benchmarks(be, cases, ko, [&](size_t i, size_t n, const std::string& s) {
         p.update(double(i) / double(n), s);
       }))
    sink.measurements->push_back(to_json(m));
  p.done(fmt::format("{} cases x {} repetitions", cases.size(), o.repetitions));
}

// "prefill 12.3 tok/s, decode 4.56 tok/s, 0.123 GB/token at 7.8 GB/s": what one e2e case's progress line ends with.
std::string e2e_summary(const std::vector<Measurement>& ms) {
  std::string s = fmt::format("prefill {:.2f} tok/s", ms[0].derived.at("tokens_per_s"));
  for (size_t i = 1; i < ms.size(); ++i) {
    const Measurement& d = ms[i];
    const std::string gen = ms.size() > 2 ? fmt::format(" ({} steps)", d.shape.at("gen")) : "";
    s += fmt::format(", decode{} {:.2f} tok/s, {:.3g} GB/token at {:.1f} GB/s", gen, d.derived.at("tokens_per_s"),
                     d.bytes / 1e9, d.derived.at("gbps"));
    if (!d.energy.empty())
      s += fmt::format("; decode {:.4g} J/token ({})", d.energy[0].joules_per_token(),
                       d.energy[0].source == "modelled" ? "modelled estimate" : d.energy[0].source);
  }
  return s;
}

// Every e2e case of one head: each depth and prompt length, with every decode step count.
void bench_e2e(const BenchOptions& o, const BackendRun& r, Backend& be, const ModelWeights& w, HeadKind head,
               WeightBits bits, const std::string& layout, BenchSink& sink) {
  const bool cpu_backend = be.info().kind == "cpu";
  const std::string what = fmt::format("{}{}{}{}", r.name,
                                       head == HeadKind::BF16 ? "" : fmt::format(", {} head", head_name(head)), layout,
                                       r.label);
  const int64_t max_seq = *std::max_element(o.depths.begin(), o.depths.end()) +
                          *std::max_element(o.prompt_lens.begin(), o.prompt_lens.end()) +
                          *std::max_element(o.gens.begin(), o.gens.end());
  const bool one_case = o.depths.size() == 1 && o.prompt_lens.size() == 1;
  // Built on the profiler, which forwards untimed until the one profiled prefill.
  OpProfiler profiler(be);
  std::unique_ptr<Transformer> model;
  for (int64_t depth : o.depths) {
    for (int64_t prompt_len : o.prompt_lens) {
      Progress p("e2e " + what + (one_case ? "" : fmt::format(" (depth {}, prompt {})", depth, prompt_len)));
      if (!model) {
        p.update(0, "uploading weights");
        model = std::make_unique<Transformer>(profiler, w, max_seq, ProgressFn{}, head);
      }
      E2eOptions eo;
      eo.prompt_len = prompt_len;
      eo.gens = o.gens;
      eo.depth = depth;
      eo.prefill_repetitions = prefill_repetitions(o);
      eo.decode_repetitions = decode_repetitions(o);
      eo.bandwidth_gbps = cpu_backend ? sink.bandwidth_gbps : 0;
      eo.probe = sink.probe;
      eo.int8_peak_macs = cpu_backend ? int8_ceiling(*sink.rc, be) : 0;
      eo.peak_probe = peak_probe(o, be);
      eo.model = r.model;
      eo.energy = sink.energy;
      eo.weight_bits = bits;
      eo.profiler = &profiler;
      const auto ms = run_e2e_benchmark(*model, w, eo, [&](double f) {
        p.update(f, depth > 0 ? "context, prefill and decode" : "prefill and decode");
      });
      for (const Measurement& m : ms) sink.measurements->push_back(to_json(m));
      p.done(e2e_summary(ms));
      if (!ms[0].breakdown.empty()) fmt::print(stderr, "  prefill by op: {}\n", top_ops(ms[0].breakdown, 4));
      if (sink.peers && cpu_backend)
        sink.peers->after_e2e_case(w, r.model, prompt_len, o.gens, depth, be.info().threads, prefill_repetitions(o));
    }
  }
}

// One backend with one weight layout and thread count: the kernel cases, then e2e per head.
void bench_backend(const BenchOptions& o, const BackendRun& r, const ModelWeights& w, BenchSink& sink) {
  std::unique_ptr<Backend> be = plant_slowdown(o.plant_slowdown, make_backend(r.name, r.options));
  const WeightBits bits = r.options.weight_bits.value_or(WeightBits::Two);
  const std::string layout = r.options.weight_bits ? fmt::format(", {}-bit weights", weight_bits_name(bits)) : "";
  if (!o.no_kernels) bench_kernels(o, r, *be, w.config, layout, sink);
  for (const std::string& head_arg : o.no_e2e ? std::vector<std::string>{} : o.heads)
    bench_e2e(o, r, *be, w, parse_head(head_arg), bits, layout, sink);
}

// Every backend on one model: each weight layout and thread count in turn (a
// layout a backend has no kernel for is skipped with a note; a thread count
// the backend runs as one it already ran, a GPU's for one, is not repeated).
void bench_model(const BenchOptions& o, const std::string& spec, const std::vector<std::string>& backends,
                 BenchSink& sink) {
  ModelWeights w = load_model(spec, 1);
  std::vector<std::optional<WeightBits>> layouts;
  for (const std::string& b : o.weight_bits) layouts.emplace_back(parse_weight_bits(b));
  if (layouts.empty()) layouts.emplace_back();
  for (const std::string& name : backends) {
    for (size_t li = 0; li < layouts.size(); ++li) {
      std::set<int> threads_run;
      for (int threads : o.threads) {
        BackendRun r;
        r.name = name;
        r.options = backend_options(name, threads, o.device, o.variants, layouts[li]);
        try {
          r.pins = resolved_pins(name, r.options);
        } catch (const DeviceError& e) {
          if (layouts.size() == 1) throw;
          fmt::print(stderr, "bench: skipping {} with {}-bit weights: {}\n", name, weight_bits_name(*layouts[li]),
                     e.what());
          break;
        }
        const DeviceInfo di = make_backend(name, r.options)->info();
        if (!threads_run.insert(di.threads).second) {
          fmt::print(stderr, "bench: {} runs --threads {} as {} threads, already measured\n", name, threads,
                     di.threads);
          continue;
        }
        if (di.kind == "gpu" && li == 0 && threads_run.size() == 1 && spec == o.models.front())
          sink.rc->gpus.push_back(di);
        r.all_kernels = li == 0;
        r.model = spec;
        r.label = sweep_label(o, spec, di.threads);
        bench_backend(o, r, w, sink);
      }
    }
  }
  if (sink.peers) sink.peers->check_model(w, spec, resolved_threads(o.threads.front()));
}

int run(BenchOptions o) {
  const LoadSample load_at_start = sample_load();
  // --quick changes defaults only: what the user wrote is what runs.
  if (o.quick) {
    if (!o.tokens_given) o.tokens = {1, 8};
    if (!o.prompt_len_given) o.prompt_lens = {16};
    if (!o.gen_given) o.gens = {8};
    if (!o.idle_seconds_given) o.idle_seconds = 0.5;
  }
  check_sweep(o);
  if (!o.out.empty()) check_result_path(o.out);
  peers::PeerBench peer_bench(o.peers);
  // The first thread count opens the backends for the checks below.
  std::optional<OutputFormat> format;
  if (!o.output.empty()) format = parse_output_format(o.output, "--output");
  std::vector<std::string> backends = o.backends.empty() ? default_bench_backends(o) : o.backends;
  // Fail on a bad name before any long work.
  check_variants(backends, o.variants);
  std::vector<std::string> kinds;
  for (const auto& b : backends)
    kinds.push_back(make_backend(b, backend_options(b, o.threads.front(), o.device, o.variants))->info().kind);

  std::unique_ptr<EnergySession> energy;
  if (!o.no_e2e) {
    EnergyOptions eo;
    eo.source = o.energy_source;
    eo.idle_seconds = o.idle_seconds;
    eo.nvml_device = o.nvml_device;
    energy = std::make_unique<EnergySession>(eo, kinds);
    for (const std::string& note : energy->notes()) fmt::print(stderr, "energy: {}\n", note);
  }

  // Bandwidth and the int8 peak are probed once, with the most threads any case uses.
  int threads = 1;
  for (int t : o.threads) threads = std::max(threads, resolved_threads(t));
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
  if (energy && energy->measures_hardware()) {
    Progress p("idle power");
    energy->measure_idle([&](const std::string& s) { p.update(0, s); });
    p.done("measured before any backend runs");
  }

  RunContext rc;
  rc.command = command_line();
  rc.threads = threads;
  rc.bandwidth_gbps = bw.read_gbps;
  rc.int8_peak_gmacs = peak.macs_per_s / 1e9;
  rc.int8_peak_isa = peak.isa;
  rc.model = fmt::format("{}", fmt::join(o.models, ","));
  std::vector<nlohmann::json> measurements;

  BenchSink sink;
  sink.bandwidth_gbps = bw.read_gbps;
  // A short probe run again around each case (KernelBenchOptions::probe).
  sink.probe = [&] { return measure_read_bandwidth(threads, size_t(o.quick ? 64 : 256) << 20, 3).read_gbps; };
  sink.energy = energy.get();
  sink.rc = &rc;
  sink.measurements = &measurements;
  if (peer_bench.active()) sink.peers = &peer_bench;
  for (const std::string& spec : o.models) bench_model(o, spec, backends, sink);
  peer_bench.append_rows(measurements);

  rc.load = machine_load_between(load_at_start, sample_load());
  nlohmann::json doc = new_result(rc);
  doc["measurements"] = measurements;
  const std::vector<std::string> warnings = add_run_warnings(doc);
  const std::string path = o.out.empty() ? default_result_path("bench") : o.out;
  write_result(path, doc);
  // With -o the chosen format alone is stdout (`-o sql | sqlite3 db`).
  std::FILE* human = format ? stderr : stdout;
  std::vector<std::string> columns = backends;
  for (const std::string& p : peer_bench.names()) columns.push_back(p);
  print_table(human, doc, columns);
  peers::print_peer_ratios(human, doc, peer_bench.names());
  fmt::print(human, "result file: {}\n", printable(path));
  print_run_warnings(warnings);  // stderr
  if (format) fmt::print("{}", render_results({{path, doc}}, *format));
  return 0;
}

}  // namespace

CLI::App* add_bench(CLI::App& app, Action& action) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* sub = app.add_subcommand(
      "bench", "Benchmark every usable backend: kernels of the model's shapes, then prefill and decode end to end");
  add_backends(sub, o->backends, "backends to run (default: every one usable here)");
  sub->add_option("-m,--model", o->models,
                  std::string("models, a comma list or the option repeated, each measured in turn: ") + kModelSpecHelp)
      ->delimiter(',')
      ->capture_default_str();
  add_device(sub, o->device);
  add_integers<int>(sub, "-t,--threads", o->threads,
                    "CPU thread counts, each measured in turn (0 = all cores); bandwidth and the int8 peak are probed "
                    "with the largest",
                    0, 1024);
  sub->add_option("--out", o->out, "result file (default: results/bench-<UTC time>.json)");
  sub->add_option("-o,--output", o->output,
                  fmt::format("also print the result to stdout as {} (the table then goes to stderr)",
                              output_format_list()));
  sub->add_flag("--quick", o->quick,
                "small and fast (for CI): tokens 1 and 8, prompt 16, 8 decode steps, 0.5 s idle window and short "
                "minimum times; --tokens, --prompt-len, --gen and --idle-seconds given explicitly still apply");
  CLI::Option* reps = add_integer(sub, "-r,--repetitions", o->repetitions,
                                  "kernel repetitions (samples per case); given, also the timed prefills and decode "
                                  "passes of each end-to-end case (else 5 prefills, 3 with --quick, and one pass)",
                                  1, 1000);
  sub->add_option("--min-time", o->min_time,
                  "seconds each kernel repetition runs at least (its calls repeated until then): longer is steadier "
                  "on a noisy machine; default 0.1, --quick 0.005")
      ->check(CLI::Range(0.001, 60.0));
  CLI::Option* tokens = add_integers<int64_t>(sub, "--tokens", o->tokens,
                                              "token counts for the kernel cases (each at most the model's positions)",
                                              1, kMaxTokenCount);
  CLI::Option* prompt_len = add_integers<int64_t>(sub, "-p,--prompt-len", o->prompt_lens,
                                                  "prompt lengths for prefill, each measured in turn", 1,
                                                  kMaxTokenCount);
  CLI::Option* gen = add_integers<int64_t>(sub, "-n,--gen", o->gens, "decode steps to time, each count in turn", 1,
                                           kMaxTokenCount);
  add_integers<int64_t>(sub, "-d,--depth", o->depths,
                        "tokens already in the KV cache (prefilled untimed) before each prefill and decode, each "
                        "depth in turn",
                        0, kMaxTokenCount);
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
  peers::add_peer_options(sub, o->peers);
  sub->add_option("--plant-slowdown", o->plant_slowdown, "OP:FRACTION: slow OP down (testing compare --ab)")
      ->group("");
  sub->callback([&action, o, tokens, prompt_len, gen, idle, reps] {
    o->tokens_given = tokens->count() > 0;
    o->prompt_len_given = prompt_len->count() > 0;
    o->gen_given = gen->count() > 0;
    o->idle_seconds_given = idle->count() > 0;
    o->repetitions_given = reps->count() > 0;
    action = [o] { return run(*o); };
  });
  return sub;
}

}  // namespace bitlab::cli

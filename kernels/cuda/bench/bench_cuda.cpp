// Benchmarks of the CUDA backend on the 2B4T shapes, and its targets.
//
//   kernel/<op>/cuda/N:<n>/K:<k>/T:<t>/threads:1[/variant:<name>]
//       the op cases' bench set (harness/op_cases), under each kernel variant the
//       backend lists, keyed as `bitlab bench` keys them: fused qkv 3840x2560,
//       o 2560x2560, fused gate_up 13824x2560, down 2560x6912 at 1, 8, 32 and
//       128 tokens (T:1 is the GEMV), then the bf16 and the int8 tied head
//   e2e/prefill/cuda/2b4t/T:<t>                   forward_argmax over a t-token prompt
//   e2e/decode/cuda/2b4t/ctx:<c>                  one decode step after a c-token prompt
// Kernel cases: CUDA events around one call, weights cold by the one policy of
// every benchmark (copies rotated past the caches). Counters: bytes_per_second
// (weights + activations + outputs), ops/s (2 per weight and token), and here
// hbm_fraction (weight bytes / time / the measured read bandwidth).
// End to end: host time around forward_argmax (the id comes back), synthetic
// 2B4T weights, graphs as the backend runs them (BITLAB_CUDA_GRAPHS=0: eager);
// decode also reports kernels_per_step, the kernels one decode step launches.
// After the run, a table of the targets: each GEMV >= 50 % of the measured
// bandwidth, decode >= 1000 tokens/s, prefill of 512 >= 30000 tokens/s.
//
//   bitlab_cuda_bench --benchmark_repetitions=9 --benchmark_out=cuda.json [--targets-out=targets.md] [--no-e2e]
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "harness/op_cases/op_bench.h"
#include "kernels/cuda/bench/read_bandwidth.h"
#include "kernels/cuda/cuda_backend.h"
#include "kernels/registry.h"
#include "model/transformer.h"
#include "model/weights/atomic_write.h"
#include "model/weights/synthetic.h"

namespace bitlab {
namespace {

const ModelConfig kModel = bitnet_2b4t();
constexpr int64_t kPrefillTokens[] = {128, 512};
constexpr int64_t kDecodeContexts[] = {128, 1024};
constexpr int64_t kMaxSeq = 2048;

class Fixtures {
 public:
  Backend& backend() {
    if (!be_) {
      be_ = make_backend("cuda");
      read_gbps_ = cuda::measure_read_gbps(size_t(1) << 30, 5);
    }
    return *be_;
  }
  double read_gbps() const { return read_gbps_; }

  Transformer& model() {
    if (!model_) {
      model_weights_ = std::make_unique<ModelWeights>(synthetic_weights(kModel, 1));
      model_ = std::make_unique<Transformer>(backend(), *model_weights_, kMaxSeq);
    }
    return *model_;
  }
  // BOS, then ordinary text ids: 2B4T's special tokens start at BOS.
  std::vector<int32_t> prompt(int64_t n) const {
    std::vector<int32_t> p{kModel.bos};
    SplitMix64 rng(11);
    while (int64_t(p.size()) < n) p.push_back(int32_t(rng.next() % uint64_t(kModel.bos)));
    return p;
  }

 private:
  std::unique_ptr<Backend> be_;
  double read_gbps_ = 0;
  std::unique_ptr<ModelWeights> model_weights_;
  std::unique_ptr<Transformer> model_;
};

Fixtures& fixtures() {
  static Fixtures f;
  return f;
}

// Per-iteration seconds of every case, for the targets table.
std::map<std::string, std::vector<double>>& samples() {
  static std::map<std::string, std::vector<double>> s;
  return s;
}

// One iteration's time, for Google Benchmark and for the targets table.
void record(benchmark::State& st, const std::string& key, double sec) {
  st.SetIterationTime(sec);
  samples()[key].push_back(sec);
}

double since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

void bench_prefill(benchmark::State& st, const std::string& key, int64_t t) {
  Fixtures& fx = fixtures();
  Transformer& m = fx.model();
  const std::vector<int32_t> prompt = fx.prompt(t);
  for (auto _ : st) {
    m.reset();
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(m.forward_argmax(prompt));
    record(st, key, since(t0));
  }
  st.counters["tokens_per_s"] = benchmark::Counter(double(t), benchmark::Counter::kIsIterationInvariantRate);
}

void bench_decode(benchmark::State& st, const std::string& key, int64_t ctx) {
  Fixtures& fx = fixtures();
  Transformer& m = fx.model();
  const std::vector<int32_t> prompt = fx.prompt(ctx);
  m.reset();
  int32_t next = m.forward_argmax(prompt);
  for (auto _ : st) {
    if (m.pos() + 1 >= std::min<int64_t>(m.max_seq(), ctx + 256)) {  // keep the context near ctx, untimed
      st.PauseTiming();
      m.reset();
      next = m.forward_argmax(prompt);
      st.ResumeTiming();
    }
    const auto t0 = std::chrono::steady_clock::now();
    next = m.forward_argmax(std::span(&next, 1));
    record(st, key, since(t0));
  }
  st.counters["tokens_per_s"] = benchmark::Counter(1.0, benchmark::Counter::kIsIterationInvariantRate);
  if (const cuda::StepStats* stats = cuda::cuda_step_stats(fx.backend()); stats && stats->steps > 0)
    st.counters["kernels_per_step"] = double(stats->last_kernels);
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

struct TargetRow {
  std::string what, measured, target;
  bool met;
};

std::vector<TargetRow> targets() {
  Fixtures& fx = fixtures();
  std::vector<TargetRow> rows;
  for (const opcase::OpCase& c : opcase::bench_cases(kModel, {1})) {
    if (c.op != "matmul_w2a8") continue;
    const std::string key = opcase::bench_key(c, fx.backend().info());
    if (!samples().count(key)) continue;
    const double sec = median(samples()[key]);
    const double frac = double(c.weight_bytes) / sec / (fx.read_gbps() * 1e9);
    rows.push_back({fmt::format("GEMV {} {}x{}", c.label, c.param("N"), c.param("K")),
                    fmt::format("{:.1f} us, {:.0f} % of {:.0f} GB/s", sec * 1e6, 100 * frac, fx.read_gbps()), ">= 50 %",
                    frac >= 0.5});
  }
  const std::string decode = fmt::format("e2e/decode/cuda/2b4t/ctx:{}", kDecodeContexts[0]);
  if (samples().count(decode)) {
    const double tps = 1.0 / median(samples()[decode]);
    // Kernels are counted where steps are recorded (graphs on).
    const cuda::StepStats* stats = cuda::cuda_step_stats(fx.backend());
    const std::string kernels =
        stats && stats->steps > 0 ? fmt::format("{} kernels a step, ", stats->last_kernels) : std::string();
    const bool programmatic = fx.backend().info().variant.find("programmatic") != std::string::npos;
    rows.push_back({fmt::format("decode, 2B4T, batch 1, context {}", kDecodeContexts[0]),
                    fmt::format("{:.0f} tokens/s ({}{} launch)", tps, kernels, programmatic ? "programmatic" : "plain"),
                    ">= 1000 tokens/s", tps >= 1000});
  }
  const std::string prefill = "e2e/prefill/cuda/2b4t/T:512";
  if (samples().count(prefill)) {
    const double tps = 512.0 / median(samples()[prefill]);
    rows.push_back(
        {"prefill, 2B4T, 512 tokens", fmt::format("{:.0f} tokens/s", tps), ">= 30000 tokens/s", tps >= 30000});
  }
  return rows;
}

void register_all(bool e2e) {
  opcase::OpBenchOptions o;
  o.on_sample = [](const std::string& key, double sec) { samples()[key].push_back(sec); };
  o.counters = [](benchmark::State& st, const opcase::OpCase& c) {
    st.counters["hbm_fraction"] = benchmark::Counter(double(c.weight_bytes) / (fixtures().read_gbps() * 1e9),
                                                     benchmark::Counter::kIsIterationInvariantRate);
  };
  opcase::register_op_benchmarks([](const DeviceInfo& di) { return di.backend == "cuda"; }, o);
  if (!e2e) return;
  for (int64_t t : kPrefillTokens) {
    const std::string key = fmt::format("e2e/prefill/cuda/2b4t/T:{}", t);
    benchmark::RegisterBenchmark(key.c_str(), [key, t](benchmark::State& st) { bench_prefill(st, key, t); })
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
  for (int64_t c : kDecodeContexts) {
    const std::string key = fmt::format("e2e/decode/cuda/2b4t/ctx:{}", c);
    benchmark::RegisterBenchmark(key.c_str(), [key, c](benchmark::State& st) { bench_decode(st, key, c); })
        ->UseManualTime()
        ->Unit(benchmark::kMillisecond);
  }
}

}  // namespace
}  // namespace bitlab

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  std::string targets_out;
  bool e2e = true;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--targets-out=", 14) == 0) {
      targets_out = argv[i] + 14;
    } else if (std::strcmp(argv[i], "--no-e2e") == 0) {
      e2e = false;
    } else {
      std::fprintf(stderr, "bitlab_cuda_bench: unknown argument '%s'\n", argv[i]);
      return 2;
    }
  }
  using namespace bitlab;
  for (const BackendEntry& e : list_backends())
    if (e.name == "cuda" && !e.probe.usable) {
      std::fprintf(stderr, "bitlab_cuda_bench: cuda backend not usable: %s\n", e.probe.reason.c_str());
      return 1;
    }
  try {
    Fixtures& fx = fixtures();
    fx.backend();
    benchmark::AddCustomContext("cuda_device", fx.backend().info().name);
    benchmark::AddCustomContext("cuda_driver", fx.backend().info().driver);
    benchmark::AddCustomContext("cuda_read_gbps", fmt::format("{:.1f}", fx.read_gbps()));
    benchmark::AddCustomContext("cold_bytes", std::to_string(opcase::cold_budget_bytes()));
    register_all(e2e);
    benchmark::RunSpecifiedBenchmarks();
    opcase::close_op_benchmarks();
    benchmark::Shutdown();
    std::string table = fmt::format("| target | measured | goal | met |\n|---|---|---|---|\n");
    for (const TargetRow& r : targets())
      table += fmt::format("| {} | {} | {} | {} |\n", r.what, r.measured, r.target, r.met ? "yes" : "NO");
    std::printf("\n%s", table.c_str());
    if (!targets_out.empty()) {
      // Through the project's one writer: a failed write leaves the old file, never half a table.
      write_text_atomically(targets_out,
                            fmt::format("Targets on {} ({}), medians; measured read bandwidth {:.1f} GB/s\n\n{}",
                                        fx.backend().info().name, fx.backend().info().driver, fx.read_gbps(), table));
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bitlab_cuda_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}

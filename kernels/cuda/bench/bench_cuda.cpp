// Benchmarks of the CUDA backend on the 2B4T shapes, and its targets.
//
//   matmul_w2a8/cuda/<label>/N:<n>/K:<k>/T:<t>   fused qkv 3840x2560, o 2560x2560,
//       fused gate_up 13824x2560, down 2560x6912; T:1 is the GEMV, T:128/512 the GEMM
//   lm_head/cuda/N:128256/K:2560/T:1              the bf16 tied head
//   lm_head_i8/cuda/N:128256/K:2560/T:1           the int8 tied head (--head int8)
//   e2e/prefill/cuda/2b4t/T:<t>                   forward_argmax over a t-token prompt
//   e2e/decode/cuda/2b4t/ctx:<c>                  one decode step after a c-token prompt
// Kernel cases: CUDA events around one call, the L2 flushed (a read of twice
// its size, which leaves no dirty lines) before every call, so weights come
// from DRAM. Counters:
// bytes_per_second (weights + activations + outputs), hbm_fraction (weight bytes
// / time / the measured read bandwidth), ops/s (2 per weight and token).
// End to end: host time around forward_argmax (the id comes back), synthetic
// 2B4T weights, graphs as the backend runs them (BITLAB_CUDA_GRAPHS=0: eager);
// decode also reports kernels_per_step, the kernels one decode step launches.
// After the run, a table of the targets: each GEMV >= 50 % of the measured
// bandwidth, decode >= 1000 tokens/s, prefill of 512 >= 30000 tokens/s.
//
//   bitlab_cuda_bench --benchmark_repetitions=9 --benchmark_out=cuda.json [--targets-out=targets.md] [--no-e2e]
#include <benchmark/benchmark.h>
#include <cuda_runtime_api.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "kernels/cuda/bench/read_bandwidth.h"
#include "kernels/cuda/cuda_backend.h"
#include "model/reference.h"
#include "model/registry.h"
#include "model/transformer.h"
#include "model/weights/atomic_write.h"
#include "model/weights/synthetic.h"

namespace bitlab {
namespace {

const ModelConfig kModel = bitnet_2b4t();
// The 2B4T layer matmuls (model/config.h).
const std::vector<MatmulShape> kShapes = bitlinear_shapes(kModel);
constexpr int64_t kTokens[] = {1, 128, 512};
constexpr int64_t kPrefillTokens[] = {128, 512};
constexpr int64_t kDecodeContexts[] = {128, 1024};
constexpr int64_t kMaxSeq = 2048;

// A bf16 [vocab, hidden] table of small values, the same on every call.
std::vector<uint16_t> host_head_table() {
  std::vector<uint16_t> t(size_t(kModel.vocab * kModel.hidden));
  SplitMix64 rng(7);
  for (uint16_t& x : t) x = f32_to_bf16(float(int64_t(rng.next() % 2001) - 1000) * 5e-5f);
  return t;
}

class Fixtures {
 public:
  Backend& backend() {
    if (!be_) {
      be_ = make_backend("cuda");
      int l2 = 0;
      cudaDeviceGetAttribute(&l2, cudaDevAttrL2CacheSize, 0);
      flush_bytes_ = 2 * size_t(std::max(l2, 1 << 20));
      if (cudaMalloc(&flush_, flush_bytes_) != cudaSuccess || cudaMemset(flush_, 1, flush_bytes_) != cudaSuccess)
        throw std::runtime_error("cannot allocate the L2 flush buffer");
      read_gbps_ = cuda::measure_read_gbps(size_t(1) << 30, 5);
    }
    return *be_;
  }
  // Evicts every weight byte from L2: reads twice its size through it, then waits.
  void flush_l2() { cuda::flush_l2_by_reading(flush_, flush_bytes_); }
  double read_gbps() const { return read_gbps_; }
  size_t flush_bytes() const { return flush_bytes_; }

  const TernaryWeight& weight(const MatmulShape& s) {
    auto& w = weights_[s.label];
    if (!w.packed.buf) {
      std::vector<CanonicalTernary> parts;
      for (size_t i = 0; i < s.parts.size(); ++i)
        parts.push_back(synthetic_ternary(fmt::format("{}.{}", s.label, i), s.parts[i], s.k, 100 + i));
      std::vector<const CanonicalTernary*> ptrs;
      for (const auto& p : parts) ptrs.push_back(&p);
      w = backend().upload(ptrs);
    }
    return w;
  }
  const Tensor& head_table() {
    if (!table_.buf) {
      const std::vector<uint16_t> t = host_head_table();
      table_ = backend().upload_tensor(t.data(), DType::BF16, {kModel.vocab, kModel.hidden});
    }
    return table_;
  }
  // The same table quantised as the Transformer does for --head int8.
  const HeadTable& head_table_i8() {
    if (!table_i8_.q.buf) {
      const std::vector<uint16_t> t = host_head_table();
      std::vector<int8_t> q(t.size());
      std::vector<float> s(size_t(kModel.vocab));
      quantize_head_parallel(t.data(), kModel.vocab, kModel.hidden, q.data(), s.data());
      table_i8_ = {backend().upload_tensor(q.data(), DType::I8, {kModel.vocab, kModel.hidden}),
                   backend().upload_tensor(s.data(), DType::F32, {kModel.vocab, 1})};
    }
    return table_i8_;
  }
  Transformer& model() {
    if (!model_) {
      weights_.clear();  // room for the model
      table_ = Tensor{};
      table_i8_ = HeadTable{};
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
  void* flush_ = nullptr;
  size_t flush_bytes_ = 0;
  double read_gbps_ = 0;
  std::map<std::string, TernaryWeight> weights_;
  Tensor table_;
  HeadTable table_i8_;
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

// Times `call` with CUDA events, the L2 flushed before each call so its
// `weight_bytes` come from DRAM; hbm_fraction relates them to the measured
// read bandwidth.
template <class F>
void time_kernel(benchmark::State& st, const std::string& key, double weight_bytes, F&& call) {
  Fixtures& fx = fixtures();
  auto timer = fx.backend().timer();
  for (auto _ : st) {
    fx.flush_l2();
    timer->start();
    call();
    record(st, key, timer->stop_seconds());
  }
  st.counters["hbm_fraction"] =
      benchmark::Counter(weight_bytes / (fx.read_gbps() * 1e9), benchmark::Counter::kIsIterationInvariantRate);
}

void bench_matmul(benchmark::State& st, const std::string& key, const MatmulShape& s, int64_t t) {
  Fixtures& fx = fixtures();
  Backend& be = fx.backend();
  const TernaryWeight& w = fx.weight(s);
  std::vector<int8_t> xq(size_t(t * s.k));
  SplitMix64 rng(3);
  for (int8_t& x : xq) x = int8_t(int(rng.next() % 255) - 127);
  const std::vector<float> scales(size_t(t), 12.7f);
  QuantAct x{be.upload_tensor(xq.data(), DType::I8, {t, s.k}), be.upload_tensor(scales.data(), DType::F32, {t, 1})};
  std::vector<Tensor> ys;
  for (int64_t rows : s.parts) ys.push_back(be.new_tensor(DType::F32, {t, rows}));
  const double weight_bytes = double(s.n()) * double(s.k) / 4;
  time_kernel(st, key, weight_bytes, [&] { be.matmul_w2a8(x, w, ys); });
  const double bytes = weight_bytes + double(t * s.k) + double(t * s.n() * 4);
  st.counters["bytes_per_second"] = benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["ops/s"] =
      benchmark::Counter(2.0 * double(s.n() * s.k * t), benchmark::Counter::kIsIterationInvariantRate);
}

void bench_lm_head(benchmark::State& st, const std::string& key) {
  Fixtures& fx = fixtures();
  Backend& be = fx.backend();
  const Tensor& table = fx.head_table();
  std::vector<float> xv(static_cast<size_t>(kModel.hidden));
  SplitMix64 rng(5);
  for (float& x : xv) x = float(int64_t(rng.next() % 2001) - 1000) * 1e-3f;
  Tensor x = be.upload_tensor(xv.data(), DType::F32, {1, kModel.hidden});
  Tensor logits = be.new_tensor(DType::F32, {1, kModel.vocab});
  const double weight_bytes = double(table.bytes());
  time_kernel(st, key, weight_bytes, [&] { be.lm_head(x, table, logits); });
  st.counters["bytes_per_second"] =
      benchmark::Counter(weight_bytes + double(kModel.hidden) * 4.0 + double(kModel.vocab) * 4.0,
                         benchmark::Counter::kIsIterationInvariantRate);
}

void bench_lm_head_i8(benchmark::State& st, const std::string& key) {
  Fixtures& fx = fixtures();
  Backend& be = fx.backend();
  const HeadTable& table = fx.head_table_i8();
  std::vector<int8_t> xq(static_cast<size_t>(kModel.hidden));
  SplitMix64 rng(5);
  for (int8_t& x : xq) x = int8_t(int(rng.next() % 255) - 127);
  const float s_x = 12.7f;
  QuantAct x{be.upload_tensor(xq.data(), DType::I8, {1, kModel.hidden}), be.upload_tensor(&s_x, DType::F32, {1, 1})};
  Tensor logits = be.new_tensor(DType::F32, {1, kModel.vocab});
  const double weight_bytes = double(table.q.bytes()) + double(table.scale.bytes());
  time_kernel(st, key, weight_bytes, [&] { be.lm_head_i8(x, table, logits); });
  st.counters["bytes_per_second"] = benchmark::Counter(
      weight_bytes + double(kModel.hidden) + 4.0 + double(kModel.vocab) * 4.0, benchmark::Counter::kIsIterationInvariantRate);
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
  for (const MatmulShape& s : kShapes) {
    const std::string key = fmt::format("matmul_w2a8/cuda/{}/N:{}/K:{}/T:1", s.label, s.n(), s.k);
    if (!samples().count(key)) continue;
    const double sec = median(samples()[key]);
    const double frac = double(s.n()) * double(s.k) / 4 / sec / (fx.read_gbps() * 1e9);
    rows.push_back({fmt::format("GEMV {} {}x{}", s.label, s.n(), s.k),
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
  for (const MatmulShape& s : kShapes)
    for (int64_t t : kTokens) {
      const std::string key = fmt::format("matmul_w2a8/cuda/{}/N:{}/K:{}/T:{}", s.label, s.n(), s.k, t);
      benchmark::RegisterBenchmark(key.c_str(), [key, &s, t](benchmark::State& st) { bench_matmul(st, key, s, t); })
          ->UseManualTime()
          ->Unit(benchmark::kMicrosecond);
    }
  const std::string head = fmt::format("lm_head/cuda/N:{}/K:{}/T:1", kModel.vocab, kModel.hidden);
  benchmark::RegisterBenchmark(head.c_str(), [head](benchmark::State& st) { bench_lm_head(st, head); })
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
  const std::string head_i8 = fmt::format("lm_head_i8/cuda/N:{}/K:{}/T:1", kModel.vocab, kModel.hidden);
  benchmark::RegisterBenchmark(head_i8.c_str(), [head_i8](benchmark::State& st) { bench_lm_head_i8(st, head_i8); })
      ->UseManualTime()
      ->Unit(benchmark::kMicrosecond);
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
    benchmark::AddCustomContext("l2_flush_bytes", std::to_string(fx.flush_bytes()));
    register_all(e2e);
    benchmark::RunSpecifiedBenchmarks();
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

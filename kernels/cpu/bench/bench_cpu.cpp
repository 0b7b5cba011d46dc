// Kernel benchmarks for every CPU variant usable on this machine (scalar,
// avx512, ... as the registry lists them), through the Backend API so the
// threading under test is the real one.
//
//   matmul_w2a8/<backend>/N:<n>/K:<k>/T:<tokens>/threads:<threads>
//     the 2B4T BitLinear shapes (model/config.h): 3840x2560 (fused QKV),
//     2560x2560 (o), 13824x2560 (fused gate/up), 2560x6912 (down)
//   lm_head/<backend>/N:128256/K:2560/T:<tokens>/threads:<threads>
//     the tied bf16 head
//   lm_head_i8/<backend>/N:128256/K:2560/T:<tokens>/threads:<threads>
//     the int8 head (`--head int8`), same shape: a random int8 table with one
//     constant fp32 scale per row
// for tokens in {1, 8, 32, 128} and threads in {1, 2}.
//
// Weights are cold: each case rotates through enough uploaded copies of its
// weight matrix that together they exceed 4x the last-level cache, so every
// iteration streams its weights from DRAM. Counters: bytes_per_second is the
// weight traffic (packed ternary bytes, the bf16 table, or the int8 table and
// its per-row fp32 scales), ops/s counts a multiply and an add per weight per
// token (int8 for the matmul and the int8 head, fp32 for the bf16 head).
// Example, with the statistics the harness expects:
//   build/bin/bitlab_cpu_bench --benchmark_filter='avx512/.*T:1/' --benchmark_repetitions=9
#include <benchmark/benchmark.h>

#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "model/config.h"
#include "model/registry.h"
#include "model/sysinfo.h"
#include "model/tensor.h"
#include "model/weights/synthetic.h"

namespace bitlab {
namespace {

const ModelConfig kModel = bitnet_2b4t();
// The layer's matmuls, each benchmarked as one [n, k] matrix (fused parts as one).
const std::vector<MatmulShape> kMatmulShapes = bitlinear_shapes(kModel);
constexpr int64_t kTokens[] = {1, 8, 32, 128};
constexpr int kThreads[] = {1, 2};

std::vector<int8_t> random_int8(size_t n, uint64_t seed) {
  std::vector<int8_t> v(n);
  SplitMix64 rng(seed);
  for (int8_t& x : v) x = int8_t(int(rng.next() % 255) - 127);
  return v;
}

// [t, k] int8 activations with one scale per token.
QuantAct random_act(Backend& be, int64_t t, int64_t k, uint64_t seed) {
  const std::vector<int8_t> xq = random_int8(size_t(t * k), seed);
  const std::vector<float> scales(size_t(t), 12.7f);
  return {be.upload_tensor(xq.data(), DType::I8, {t, k}), be.upload_tensor(scales.data(), DType::F32, {t, 1})};
}

// One backend per (name, threads); weights and inputs shared by all thread counts.
class Fixtures {
 public:
  Backend& backend(const std::string& name, int threads) {
    auto& b = backends_[{name, threads}];
    if (!b) b = make_backend(name, BackendOptions{.threads = threads, .device = 0});
    return *b;
  }
  // Copies of one [n, k] matrix in `name`'s layout, together > 4x the LLC.
  const std::vector<TernaryWeight>& weights(const std::string& name, const MatmulShape& s) {
    auto& w = weights_[{name, s.n(), s.k}];
    if (w.empty()) {
      Backend& be = backend(name, 1);
      const CanonicalTernary c = synthetic_ternary(fmt::format("bench.{}x{}", s.n(), s.k), s.n(), s.k, 1);
      w.push_back(be.upload(c));
      const size_t copies = cold_copies(w[0].packed.bytes(), 4 * last_level_cache_bytes());
      while (w.size() < copies) w.push_back(be.upload(c));
    }
    return w;
  }
  const Tensor& head_table(Backend& be) {
    if (!table_.buf) {
      std::vector<uint16_t> t(size_t(kModel.vocab * kModel.hidden));
      SplitMix64 rng(7);
      for (uint16_t& x : t) x = f32_to_bf16(float(int64_t(rng.next() % 2001) - 1000) * 5e-5f);
      table_ = be.upload_tensor(t.data(), DType::BF16, {kModel.vocab, kModel.hidden});
    }
    return table_;
  }
  const HeadTable& head_table_i8(Backend& be) {
    if (!table_i8_.q.buf) {
      const std::vector<int8_t> q = random_int8(size_t(kModel.vocab * kModel.hidden), 9);
      const std::vector<float> scales(size_t(kModel.vocab), 1500.0f);
      table_i8_ = {be.upload_tensor(q.data(), DType::I8, {kModel.vocab, kModel.hidden}),
                   be.upload_tensor(scales.data(), DType::F32, {kModel.vocab, 1})};
    }
    return table_i8_;
  }

 private:
  std::map<std::pair<std::string, int>, std::unique_ptr<Backend>> backends_;
  std::map<std::tuple<std::string, int64_t, int64_t>, std::vector<TernaryWeight>> weights_;
  Tensor table_;          // host memory: every CPU backend reads it
  HeadTable table_i8_;
};

Fixtures& fixtures() {
  static Fixtures f;
  return f;
}

// Runs `call` once an iteration, waiting for it each time, and reports the
// weight bytes and ops of one call.
template <class F>
void run_calls(benchmark::State& state, Backend& be, size_t weight_bytes, int64_t ops, F&& call) {
  for (auto _ : state) {
    call();
    be.synchronize();
  }
  state.SetBytesProcessed(int64_t(state.iterations()) * int64_t(weight_bytes));
  state.counters["ops/s"] = benchmark::Counter(double(ops), benchmark::Counter::kIsIterationInvariantRate);
}

void bench_matmul(benchmark::State& state, std::string name, const MatmulShape& s, int64_t t, int threads) {
  Fixtures& fx = fixtures();
  Backend& be = fx.backend(name, threads);
  const std::vector<TernaryWeight>& ws = fx.weights(name, s);
  const QuantAct x = random_act(be, t, s.k, 3);
  Tensor y[] = {be.new_tensor(DType::F32, {t, s.n()})};
  size_t i = 0;
  run_calls(state, be, ws[0].packed.bytes(), 2 * s.n() * s.k * t, [&] {
    be.matmul_w2a8(x, ws[i], y);
    i = (i + 1) % ws.size();
  });
  state.counters["copies"] = double(ws.size());
}

void bench_lm_head(benchmark::State& state, std::string name, int64_t t, int threads) {
  Fixtures& fx = fixtures();
  Backend& be = fx.backend(name, threads);
  const Tensor& table = fx.head_table(be);
  std::vector<float> xv(size_t(t * kModel.hidden));
  SplitMix64 rng(5);
  for (float& x : xv) x = float(int64_t(rng.next() % 2001) - 1000) * 1e-3f;
  Tensor x = be.upload_tensor(xv.data(), DType::F32, {t, kModel.hidden});
  Tensor logits = be.new_tensor(DType::F32, {t, kModel.vocab});
  run_calls(state, be, table.bytes(), 2 * kModel.vocab * kModel.hidden * t, [&] { be.lm_head(x, table, logits); });
}

void bench_lm_head_i8(benchmark::State& state, std::string name, int64_t t, int threads) {
  Fixtures& fx = fixtures();
  Backend& be = fx.backend(name, threads);
  const HeadTable& table = fx.head_table_i8(be);
  const QuantAct x = random_act(be, t, kModel.hidden, 11);
  Tensor logits = be.new_tensor(DType::F32, {t, kModel.vocab});
  run_calls(state, be, table.q.bytes() + table.scale.bytes(), 2 * kModel.vocab * kModel.hidden * t,
            [&] { be.lm_head_i8(x, table, logits); });
}

// The CPU backends this machine can run, as the registry lists them.
std::vector<std::string> cpu_backends() {
  std::vector<std::string> out;
  for (const std::string& name : usable_backends())
    if (make_backend(name, BackendOptions{.threads = 1, .device = 0})->info().kind == "cpu") out.push_back(name);
  return out;
}

void register_all() {
  for (const std::string& name : cpu_backends()) {
    for (const MatmulShape& s : kMatmulShapes)
      for (int64_t t : kTokens)
        for (int th : kThreads)
          benchmark::RegisterBenchmark(
              fmt::format("matmul_w2a8/{}/N:{}/K:{}/T:{}/threads:{}", name, s.n(), s.k, t, th).c_str(),
              [=](benchmark::State& st) { bench_matmul(st, name, s, t, th); })
              ->UseRealTime()
              ->Unit(benchmark::kMicrosecond);
    // The bf16 head and the int8 one.
    using HeadBench = void (*)(benchmark::State&, std::string, int64_t, int);
    const std::pair<const char*, HeadBench> heads[] = {{"lm_head", bench_lm_head}, {"lm_head_i8", bench_lm_head_i8}};
    for (const auto& head : heads)
      for (int64_t t : kTokens)
        for (int th : kThreads) {
          const HeadBench fn = head.second;
          benchmark::RegisterBenchmark(
              fmt::format("{}/{}/N:{}/K:{}/T:{}/threads:{}", head.first, name, kModel.vocab, kModel.hidden, t, th)
                  .c_str(),
              [=](benchmark::State& st) { fn(st, name, t, th); })
              ->UseRealTime()
              ->Unit(benchmark::kMicrosecond);
        }
  }
}

}  // namespace
}  // namespace bitlab

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  try {
    bitlab::register_all();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bitlab_cpu_bench: %s\n", e.what());
    return 1;
  }
  benchmark::AddCustomContext("llc_bytes", std::to_string(bitlab::last_level_cache_bytes()));
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

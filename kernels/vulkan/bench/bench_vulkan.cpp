// Benchmarks of the Vulkan backend (Google Benchmark, manual time from device
// timestamps around each call):
//
//   kernel/<op>/vulkan/N:<n>/K:<k>/T:<t>/threads:1[/variant:<name>]
//       the op cases' bench set (harness/op_cases), under each kernel variant the
//       backend lists, keyed as `bitlab bench` keys them: the 2B4T BitLinear
//       shapes at 1, 8, 32 and 128 tokens and the two LM heads; weights cold by
//       the one policy of every benchmark (copies rotated past the caches)
//   rmsnorm_quant/vulkan/D:<d>/T:1, attention/vulkan/ctx:<c>  the rest of a decode step
//   e2e/decode/vulkan[-<variant>]/<model>/ctx:<c>            one decode step after a c-token
//       prompt: host time around forward_argmax (token id in, id out), per matmul variant
// Counters: bytes_per_second (weights, activations and outputs), ops/s (2 per
// weight and token). --no-e2e skips the end-to-end cases (slow on lavapipe),
// --e2e-model picks their model (default 2b4t).
//
//   build/bin/bitlab_vulkan_bench --benchmark_repetitions=9 --benchmark_out=vulkan.json [--device=N]
#include <benchmark/benchmark.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <fmt/format.h>

#include "harness/op_cases/op_bench.h"
#include "kernels/vulkan/device.h"
#include "kernels/registry.h"
#include "model/transformer.h"
#include "model/weights/synthetic.h"

namespace bitlab {
namespace {

const ModelConfig kModel = bitnet_2b4t();
constexpr int64_t kContexts[] = {128, 1024};

struct Flags {
  int device = 0;
  bool e2e = true;
  std::string e2e_model = "2b4t";
};
Flags g_flags;

// One backend per pinned matmul variant ("" = the default), kept for the whole run.
std::map<std::string, std::unique_ptr<Backend>>& backends() {
  static std::map<std::string, std::unique_ptr<Backend>> made;
  return made;
}

Backend& backend(const std::string& pin) {
  auto& b = backends()[pin];
  if (!b) {
    BackendOptions o{.threads = 1, .device = g_flags.device};
    if (!pin.empty()) o.variants = {pin};
    b = make_backend("vulkan", o);
  }
  return *b;
}

// Times one call with the backend's timestamps.
template <class F>
void timed_loop(benchmark::State& state, Backend& be, F&& call) {
  auto timer = be.timer();
  for (auto _ : state) {
    timer->start();
    call();
    state.SetIterationTime(timer->stop_seconds());
  }
}

void bench_rmsnorm_quant(benchmark::State& state, int64_t d) {
  Backend& be = backend("");
  SplitMix64 g(9);
  std::vector<float> xv(static_cast<size_t>(d)), wv(static_cast<size_t>(d));
  for (float& v : xv) v = g.normal();
  for (float& v : wv) v = 1.0f + 0.1f * g.normal();
  const Tensor x = be.upload_tensor(xv.data(), DType::F32, {1, d});
  const Tensor w = be.upload_tensor(wv.data(), DType::F32, {1, d});
  QuantAct q{be.new_tensor(DType::I8, {1, d}), be.new_tensor(DType::F32, {1, 1})};
  timed_loop(state, be, [&] { be.rmsnorm_quant(x, w, 1e-5f, q); });
}

void bench_attention(benchmark::State& state, int64_t ctx) {
  Backend& be = backend("");
  const ModelConfig& c = kModel;
  KvLayer cache{be.new_tensor(DType::F32, {ctx + 1, c.kv_dim()}), be.new_tensor(DType::F32, {ctx + 1, c.kv_dim()})};
  SplitMix64 g(13);
  std::vector<float> kv(size_t((ctx + 1) * c.kv_dim()));
  for (float& v : kv) v = g.normal();
  cache.k.buf->write(kv.data(), 0, kv.size() * 4);
  cache.v.buf->write(kv.data(), 0, kv.size() * 4);
  std::vector<float> qv(static_cast<size_t>(c.q_dim()));
  for (float& v : qv) v = g.normal();
  const Tensor q = be.upload_tensor(qv.data(), DType::F32, {1, c.q_dim()});
  const Tensor k = be.upload_tensor(kv.data(), DType::F32, {1, c.kv_dim()});
  Tensor out = be.new_tensor(DType::F32, {1, c.q_dim()});
  const AttentionParams p{c.n_heads, c.n_kv_heads, c.head_dim, ctx};
  timed_loop(state, be, [&] { be.attention(q, k, k, cache, p, out); });
}

void bench_decode(benchmark::State& state, const std::string& pin, int64_t ctx) {
  Backend& be = backend(pin);
  static std::unique_ptr<ModelWeights> weights;
  if (!weights) weights = std::make_unique<ModelWeights>(synthetic_weights(config_by_name(g_flags.e2e_model), 1));
  Transformer model(be, *weights, ctx + 1);
  std::vector<int32_t> prompt(size_t(ctx), weights->config.bos);
  for (size_t i = 1; i < prompt.size(); ++i) prompt[i] = int32_t(3 + i % size_t(weights->config.vocab - 3));
  int32_t next = model.forward_argmax(prompt);
  for (auto _ : state) {
    model.rewind(ctx);
    const auto t0 = std::chrono::steady_clock::now();
    next = model.forward_argmax(std::span(&next, 1));
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
  }
  state.counters["tokens/s"] = benchmark::Counter(double(state.iterations()), benchmark::Counter::kIsRate);
}

void register_all() {
  opcase::OpBenchOptions o;
  o.device = g_flags.device;
  opcase::register_op_benchmarks([](const DeviceInfo& di) { return di.backend == "vulkan"; }, o);
  auto add = [](const std::string& name, auto fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)->UseManualTime()->Unit(benchmark::kMicrosecond);
  };
  for (int64_t d : {kModel.hidden, kModel.ffn})
    add(fmt::format("rmsnorm_quant/vulkan/D:{}/T:1", d), [=](benchmark::State& st) { bench_rmsnorm_quant(st, d); });
  for (int64_t ctx : kContexts)
    add(fmt::format("attention/vulkan/ctx:{}", ctx), [=](benchmark::State& st) { bench_attention(st, ctx); });
  if (g_flags.e2e)
    for (const std::string& pin : opcase::pins_for("vulkan", "matmul_w2a8"))
      for (int64_t ctx : kContexts)
        add(fmt::format("e2e/decode/vulkan{}/{}/ctx:{}", pin.empty() ? "" : "-" + pin, g_flags.e2e_model, ctx),
            [=](benchmark::State& st) { bench_decode(st, pin, ctx); });
}

// Takes this binary's own flags out of argv before Google Benchmark sees it.
void parse_flags(int& argc, char** argv) {
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--device=", 0) == 0) g_flags.device = std::stoi(a.substr(9));
    else if (a == "--no-e2e") g_flags.e2e = false;
    else if (a.rfind("--e2e-model=", 0) == 0) g_flags.e2e_model = a.substr(12);
    else argv[out++] = argv[i];
  }
  argc = out;
}

}  // namespace
}  // namespace bitlab

int main(int argc, char** argv) {
  try {
    bitlab::parse_flags(argc, argv);
    benchmark::Initialize(&argc, argv);
    if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 2;
    const auto dev = bitlab::vk::Device::open(bitlab::g_flags.device);
    benchmark::AddCustomContext("vulkan_device", dev->name());
    benchmark::AddCustomContext("vulkan_driver", dev->driver());
    bitlab::register_all();
    benchmark::RunSpecifiedBenchmarks();
    bitlab::opcase::close_op_benchmarks();
    bitlab::backends().clear();  // closed before the driver's own teardown at exit
    benchmark::Shutdown();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bitlab_vulkan_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}

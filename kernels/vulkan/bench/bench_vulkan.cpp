// Benchmarks of the Vulkan backend (Google Benchmark, manual time from device
// timestamps around each call):
//
//   matmul_w2a8/vulkan-<path>/<label>/N:<n>/K:<k>/T:<t>   path = int-dot (where the
//       device has it) and portable; fused qkv 3840x2560, o 2560x2560, fused
//       gate_up 13824x2560, down 2560x6912; T:1 runs the GEMV shader, T:8 and up the GEMM
//   lm_head/vulkan/N:128256/K:2560/T:1                      the bf16 tied head
//   rmsnorm_quant/vulkan/D:<d>/T:1, attention/vulkan/ctx:<c>  the rest of a decode step
//   e2e/decode/vulkan-<path>/<model>/ctx:<c>                one decode step after a c-token
//       prompt: host time around forward_argmax (token id in, id out)
// Weights are cold: each matmul case rotates through copies of its weights
// (at most 64) that together exceed --cold-mib (default 256 MiB, above any
// GPU's L2).
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

#include "kernels/vulkan/device.h"
#include "kernels/vulkan/vulkan_backend.h"
#include "model/sysinfo.h"
#include "model/transformer.h"
#include "model/weights/synthetic.h"

namespace bitlab {
namespace {

const ModelConfig kModel = bitnet_2b4t();
// The 2B4T layer matmuls (model/config.h).
const std::vector<MatmulShape> kShapes = bitlinear_shapes(kModel);
constexpr int64_t kTokens[] = {1, 8, 32, 128};
constexpr int64_t kContexts[] = {128, 1024};

struct Flags {
  int device = 0;
  size_t cold_bytes = size_t(256) << 20;
  bool e2e = true;
  std::string e2e_model = "2b4t";
};
Flags g_flags;

struct Path {
  const char* name;
  vk::DotPath dot;
};

// One backend per dot path, kept for the whole run.
Backend& backend(const Path& p) {
  static std::map<std::string, std::unique_ptr<Backend>> backends;
  auto& b = backends[p.name];
  if (!b) {
    vk::VulkanOptions o;
    o.device = g_flags.device;
    o.dot = p.dot;
    b = vk::make_backend(o);
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

void bench_matmul(benchmark::State& state, Path path, MatmulShape s, int64_t t) {
  Backend& be = backend(path);
  std::vector<CanonicalTernary> parts;
  for (size_t i = 0; i < s.parts.size(); ++i)
    parts.push_back(synthetic_ternary(fmt::format("{}.{}", s.label, i), s.parts[i], s.k, stream_key(11, i)));
  std::vector<const CanonicalTernary*> ptrs;
  for (const auto& p : parts) ptrs.push_back(&p);
  std::vector<TernaryWeight> copies{be.upload(ptrs)};
  const size_t n_copies = cold_copies(copies[0].packed.bytes(), g_flags.cold_bytes, 64);
  while (copies.size() < n_copies) copies.push_back(be.upload(ptrs));
  SplitMix64 g(3);
  std::vector<int8_t> xq(size_t(t * s.k));
  for (int8_t& v : xq) v = int8_t(int(g.next() % 255) - 127);
  const std::vector<float> scales(size_t(t), 12.7f);
  const QuantAct x{be.upload_tensor(xq.data(), DType::I8, {t, s.k}),
                   be.upload_tensor(scales.data(), DType::F32, {t, 1})};
  std::vector<Tensor> ys;
  for (int64_t rows : s.parts) ys.push_back(be.new_tensor(DType::F32, {t, rows}));
  size_t i = 0;
  timed_loop(state, be, [&] {
    be.matmul_w2a8(x, copies[i], ys);
    i = (i + 1) % copies.size();
  });
  const double bytes = double(s.n() * s.k) / 4 + double(t * s.k) + double(t * s.n() * 4);
  state.SetBytesProcessed(int64_t(double(state.iterations()) * bytes));
  state.counters["ops/s"] =
      benchmark::Counter(double(2 * s.n() * s.k * t), benchmark::Counter::kIsIterationInvariantRate);
  state.counters["copies"] = double(copies.size());
}

void bench_lm_head(benchmark::State& state, Path path) {
  Backend& be = backend(path);
  std::vector<uint16_t> table(size_t(kModel.vocab * kModel.hidden));
  SplitMix64 g(7);
  for (uint16_t& v : table) v = f32_to_bf16(0.05f * g.normal());
  const Tensor tab = be.upload_tensor(table.data(), DType::BF16, {kModel.vocab, kModel.hidden});
  table = {};
  std::vector<float> xv(static_cast<size_t>(kModel.hidden));
  for (float& v : xv) v = g.normal();
  const Tensor x = be.upload_tensor(xv.data(), DType::F32, {1, kModel.hidden});
  Tensor logits = be.new_tensor(DType::F32, {1, kModel.vocab});
  timed_loop(state, be, [&] { be.lm_head(x, tab, logits); });
  state.SetBytesProcessed(int64_t(double(state.iterations()) * double(tab.bytes())));
}

void bench_rmsnorm_quant(benchmark::State& state, Path path, int64_t d) {
  Backend& be = backend(path);
  SplitMix64 g(9);
  std::vector<float> xv(static_cast<size_t>(d)), wv(static_cast<size_t>(d));
  for (float& v : xv) v = g.normal();
  for (float& v : wv) v = 1.0f + 0.1f * g.normal();
  const Tensor x = be.upload_tensor(xv.data(), DType::F32, {1, d});
  const Tensor w = be.upload_tensor(wv.data(), DType::F32, {1, d});
  QuantAct q{be.new_tensor(DType::I8, {1, d}), be.new_tensor(DType::F32, {1, 1})};
  timed_loop(state, be, [&] { be.rmsnorm_quant(x, w, 1e-5f, q); });
}

void bench_attention(benchmark::State& state, Path path, int64_t ctx) {
  Backend& be = backend(path);
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

void bench_decode(benchmark::State& state, Path path, int64_t ctx) {
  Backend& be = backend(path);
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
  std::vector<Path> paths;
  if (vk::Device::open(g_flags.device)->caps().int_dot) paths.push_back({"int-dot", vk::DotPath::IntegerDot});
  paths.push_back({"portable", vk::DotPath::Portable});
  auto add = [](const std::string& name, auto fn) {
    benchmark::RegisterBenchmark(name.c_str(), fn)->UseManualTime()->Unit(benchmark::kMicrosecond);
  };
  for (const Path& p : paths)
    for (const MatmulShape& s : kShapes)
      for (int64_t t : kTokens)
        add(fmt::format("matmul_w2a8/vulkan-{}/{}/N:{}/K:{}/T:{}", p.name, s.label, s.n(), s.k, t),
            [=](benchmark::State& st) { bench_matmul(st, p, s, t); });
  const Path first = paths.front();
  add(fmt::format("lm_head/vulkan/N:{}/K:{}/T:1", kModel.vocab, kModel.hidden),
      [=](benchmark::State& st) { bench_lm_head(st, first); });
  for (int64_t d : {kModel.hidden, kModel.ffn})
    add(fmt::format("rmsnorm_quant/vulkan/D:{}/T:1", d),
        [=](benchmark::State& st) { bench_rmsnorm_quant(st, first, d); });
  for (int64_t ctx : kContexts)
    add(fmt::format("attention/vulkan/ctx:{}", ctx), [=](benchmark::State& st) { bench_attention(st, first, ctx); });
  if (g_flags.e2e)
    for (const Path& p : paths)
      for (int64_t ctx : kContexts)
        add(fmt::format("e2e/decode/vulkan-{}/{}/ctx:{}", p.name, g_flags.e2e_model, ctx),
            [=](benchmark::State& st) { bench_decode(st, p, ctx); });
}

// Takes this binary's own flags out of argv before Google Benchmark sees it.
void parse_flags(int& argc, char** argv) {
  int out = 1;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--device=", 0) == 0) g_flags.device = std::stoi(a.substr(9));
    else if (a.rfind("--cold-mib=", 0) == 0) g_flags.cold_bytes = size_t(std::stoull(a.substr(11))) << 20;
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
    benchmark::Shutdown();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bitlab_vulkan_bench: %s\n", e.what());
    return 1;
  }
  return 0;
}

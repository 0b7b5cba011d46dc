#include "harness/kernel_bench.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "model/error.h"
#include "model/sysinfo.h"
#include "model/weights/synthetic.h"

namespace bitlab {

int64_t KernelCase::n() const {
  int64_t n = 0;
  for (int64_t r : part_rows) n += r;
  return n;
}

double KernelCase::bytes() const {
  const double n_ = double(n()), k_ = double(k), t = double(tokens);
  return double(weight_bytes()) + (op == "lm_head" ? t * k_ * 4 : t * k_)  // fp32 or int8 input
         + (op == "lm_head_i8" ? n_ * 4 : 0)                              // row factors
         + t * n_ * 4;
}

size_t KernelCase::weight_bytes() const {
  const auto n_ = size_t(n()), k_ = size_t(k);
  if (op == "lm_head") return n_ * k_ * 2;     // bf16 table
  if (op == "lm_head_i8") return n_ * k_;      // int8 table
  return n_ * k_ / 4;                          // 2-bit codes
}

double KernelCase::ops() const { return 2.0 * double(n()) * double(k) * double(tokens); }

std::vector<KernelCase> kernel_cases(const ModelConfig& c, const std::vector<int64_t>& tokens) {
  std::vector<KernelCase> out;
  for (int64_t t : tokens)
    for (const MatmulShape& s : bitlinear_shapes(c)) out.push_back({"matmul_w2a8", s.label, s.parts, s.k, t});
  out.push_back({"lm_head", "head", {c.vocab}, c.hidden, 1});
  out.push_back({"lm_head_i8", "head", {c.vocab}, c.hidden, 1});
  return out;
}

namespace {

// Collects the per-repetition time of each run; prints nothing.
class SampleCollector : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& r : runs) {
      if (r.run_type != Run::RT_Iteration) continue;
      if (r.error_occurred) throw DeviceError("benchmark failed: " + r.error_message);
      samples.push_back(r.real_accumulated_time / double(r.iterations));
    }
  }
  std::vector<double> samples;
};

// The data one case needs, built before timing starts.
struct Prepared {
  std::vector<TernaryWeight> weights;  // rotated copies (matmul)
  std::vector<Tensor> tables;          // rotated copies (lm_head)
  std::vector<HeadTable> tables_i8;    // rotated copies (lm_head_i8)
  QuantAct xq;
  Tensor x;
  std::vector<Tensor> outs;
};

Prepared prepare(Backend& be, const KernelCase& kc, size_t cold_bytes) {
  Prepared p;
  const int64_t t = kc.tokens, k = kc.k;
  const size_t wbytes = kc.weight_bytes();
  const size_t copies = cold_copies(wbytes, cold_bytes, 512);
  SplitMix64 g(stream_key(7, uint64_t(kc.n()), uint64_t(k)));
  if (kc.op == "lm_head") {
    std::vector<uint16_t> table(size_t(kc.n() * k));
    for (uint16_t& v : table) v = f32_to_bf16(0.05f * g.normal());
    for (size_t c = 0; c < copies; ++c) p.tables.push_back(be.upload_tensor(table.data(), DType::BF16, {kc.n(), k}));
    std::vector<float> x(size_t(t * k));
    for (float& v : x) v = g.normal();
    p.x = be.upload_tensor(x.data(), DType::F32, {t, k});
    p.outs.push_back(be.new_tensor(DType::F32, {t, kc.n()}));
  } else if (kc.op == "lm_head_i8") {
    std::vector<int8_t> q(size_t(kc.n() * k));
    for (int8_t& v : q) v = int8_t(int(g.next() % 255) - 127);
    std::vector<float> sv(size_t(kc.n()));
    for (float& v : sv) v = 1000.0f + float(g.next() % 1000);
    for (size_t c = 0; c < copies; ++c)
      p.tables_i8.push_back({be.upload_tensor(q.data(), DType::I8, {kc.n(), k}),
                             be.upload_tensor(sv.data(), DType::F32, {kc.n(), 1})});
    std::vector<int8_t> x(size_t(t * k));
    for (int8_t& v : x) v = int8_t(int(g.next() % 255) - 127);
    std::vector<float> sx(size_t(t), 20.0f);
    p.xq = {be.upload_tensor(x.data(), DType::I8, {t, k}), be.upload_tensor(sx.data(), DType::F32, {t, 1})};
    p.outs.push_back(be.new_tensor(DType::F32, {t, kc.n()}));
  } else {
    // One matrix, uploaded `copies` times: each upload is a buffer of its own,
    // which is all the rotation needs to read from DRAM.
    std::vector<CanonicalTernary> parts;
    for (size_t i = 0; i < kc.part_rows.size(); ++i)
      parts.push_back(synthetic_ternary(fmt::format("{}.{}", kc.label, i), kc.part_rows[i], k,
                                        stream_key(11, i, uint64_t(k))));
    std::vector<const CanonicalTernary*> ptrs;
    for (const auto& w : parts) ptrs.push_back(&w);
    for (size_t c = 0; c < copies; ++c) p.weights.push_back(be.upload(ptrs));
    std::vector<int8_t> q(size_t(t * k));
    for (int8_t& v : q) v = int8_t(int(g.next() % 255) - 127);
    std::vector<float> s(size_t(t), 2.5f);
    p.xq = {be.upload_tensor(q.data(), DType::I8, {t, k}), be.upload_tensor(s.data(), DType::F32, {t, 1})};
    for (int64_t rows : kc.part_rows) p.outs.push_back(be.new_tensor(DType::F32, {t, rows}));
  }
  return p;
}

}  // namespace

std::vector<Measurement> run_kernel_benchmarks(
    Backend& be, const std::vector<KernelCase>& cases, const KernelBenchOptions& o,
    const std::function<void(size_t, size_t, const std::string&)>& progress) {
  static bool initialised = false;
  if (!initialised) {
    int argc = 1;
    char name[] = "bitlab";
    char* argv[] = {name, nullptr};
    benchmark::Initialize(&argc, argv);
    initialised = true;
  }
  const DeviceInfo& di = be.info();
  std::vector<Measurement> out;
  // The probe after one case is also the probe before the next.
  const bool probing = o.bandwidth_gbps > 0 && o.probe;
  double last_probe = probing ? o.probe() : 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const KernelCase& kc = cases[i];
    const std::string key = fmt::format("kernel/{}/{}/N:{}/K:{}/T:{}/threads:{}", kc.op, di.backend, kc.n(), kc.k,
                                        kc.tokens, di.threads);
    if (progress) progress(i, cases.size(), fmt::format("{} {} {}x{} T={}", kc.op, kc.label, kc.n(), kc.k, kc.tokens));
    auto prep = std::make_shared<Prepared>(prepare(be, kc, o.cold_bytes));
    double roof = std::max(o.bandwidth_gbps, last_probe);
    std::unique_ptr<Timer> timer = be.timer();
    benchmark::RegisterBenchmark(key.c_str(), [&, prep](benchmark::State& st) {
      size_t copy = 0;
      for (auto _ : st) {
        timer->start();
        if (kc.op == "lm_head") {
          be.lm_head(prep->x, prep->tables[copy], prep->outs[0]);
          copy = (copy + 1) % prep->tables.size();
        } else if (kc.op == "lm_head_i8") {
          be.lm_head_i8(prep->xq, prep->tables_i8[copy], prep->outs[0]);
          copy = (copy + 1) % prep->tables_i8.size();
        } else {
          be.matmul_w2a8(prep->xq, prep->weights[copy], prep->outs);
          copy = (copy + 1) % prep->weights.size();
        }
        st.SetIterationTime(timer->stop_seconds());
      }
    })
        ->UseManualTime()
        ->Repetitions(o.repetitions)
        ->MinTime(o.min_seconds);
    SampleCollector collector;
    benchmark::RunSpecifiedBenchmarks(&collector);
    benchmark::ClearRegisteredBenchmarks();
    if (probing) {
      last_probe = o.probe();
      roof = std::max(roof, last_probe);
    }

    Measurement m;
    m.key = key;
    m.kind = "kernel";
    m.backend = di.backend;
    m.variant = di.variant;
    m.name = kc.op;
    m.shape = {{"n", kc.n()}, {"k", kc.k}, {"tokens", kc.tokens}, {"threads", di.threads}};
    m.samples = std::move(collector.samples);
    if (m.samples.empty()) throw DeviceError("benchmark " + key + " produced no samples");
    m.bytes = kc.bytes();
    m.ops = kc.ops();
    const double med = summarize(m.samples).median;
    m.derived["gbps"] = m.bytes / med / 1e9;
    m.derived["gops"] = m.ops / med / 1e9;
    if (roof > 0) {
      m.derived["roofline_gbps"] = roof;
      m.derived["roofline_fraction"] = m.bytes / (roof * 1e9) / med;
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace bitlab

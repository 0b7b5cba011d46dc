#include "harness/kernel_bench.h"

#include <benchmark/benchmark.h>

#include <algorithm>
#include <memory>

#include <fmt/format.h>

#include "model/error.h"
#include "harness/op_cases/op_bench.h"

namespace bitlab {

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

}  // namespace

std::vector<Measurement> run_kernel_benchmarks(
    Backend& be, const std::vector<opcase::OpCase>& cases, const KernelBenchOptions& o,
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
  const bool peak_probing = bool(o.peak_probe);
  double last_peak = 0;  // 0: the case before was not compute-bound (no probe to share)
  for (size_t i = 0; i < cases.size(); ++i) {
    const opcase::OpCase& oc = cases[i];
    std::string pin;
    for (const std::string& name : opcase::usable_variants(di.backend, oc.op))
      if (std::find(o.pins.begin(), o.pins.end(), name) != o.pins.end()) pin = name;
    const std::string key = opcase::bench_key(oc, di, pin);
    if (progress) progress(i, cases.size(), oc.key());
    const size_t copies = opcase::cold_copies_for(oc);
    std::shared_ptr<opcase::Prepared> prep = oc.prepare(be, copies);
    double roof = std::max(o.bandwidth_gbps, last_probe);
    const bool compute_bound = (o.int8_peak_macs > 0 || peak_probing) && oc.op == "matmul_w2a8" && oc.param("T") > 1;
    double ceiling = o.int8_peak_macs;
    if (compute_bound && peak_probing) {
      if (last_peak == 0) last_peak = o.peak_probe();
      ceiling = std::max(ceiling, last_peak);
    }
    benchmark::RegisterBenchmark(key.c_str(), [&be, &oc, prep, copies](benchmark::State& st) {
      opcase::time_case(st, be, *prep, copies, oc);
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
    if (compute_bound && peak_probing) {
      last_peak = o.peak_probe();
      ceiling = std::max(ceiling, last_peak);
    } else {
      last_peak = 0;
    }

    Measurement m;
    m.key = key;
    m.kind = "kernel";
    m.backend = di.backend;
    m.variant = opcase::kernel_for(di, oc.op);
    m.name = oc.op;
    m.shape = {{"n", oc.param("N")}, {"k", oc.param("K")}, {"tokens", oc.param("T")}, {"threads", di.threads}};
    m.samples = std::move(collector.samples);
    if (m.samples.empty()) throw DeviceError("benchmark " + key + " produced no samples");
    m.bytes = oc.bytes;
    m.ops = oc.ops;
    const double med = summarize(m.samples).median;
    m.derived["gbps"] = m.bytes / med / 1e9;
    m.derived["gops"] = m.ops / med / 1e9;
    if (roof > 0) {
      m.derived["roofline_gbps"] = roof;
      m.derived["roofline_fraction"] = m.bytes / (roof * 1e9) / med;
    }
    // The many-token matmuls are compute-bound: achieved int8 MACs/s (ops
    // counts a multiply-add as 2) against the measured peak.
    if (compute_bound && ceiling > 0) {
      m.derived["int8_peak_gmacs"] = ceiling / 1e9;
      m.derived["compute_fraction"] = m.ops / 2.0 / med / ceiling;
    }
    out.push_back(std::move(m));
  }
  return out;
}

}  // namespace bitlab

#include "harness/op_cases/op_bench.h"

#include <map>
#include <memory>
#include <tuple>

#include "kernels/registry.h"

namespace bitlab::opcase {

void time_case(benchmark::State& st, Backend& be, Prepared& p, size_t copies, const OpCase& c,
               const std::function<void(double)>& sample) {
  std::unique_ptr<Timer> timer = be.timer();
  size_t copy = 0;
  for (auto _ : st) {
    timer->start();
    p.run(copy);
    const double seconds = timer->stop_seconds();
    st.SetIterationTime(seconds);
    if (sample) sample(seconds);
    copy = (copy + 1) % copies;
  }
  st.counters["bytes_per_second"] = benchmark::Counter(c.bytes, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["ops/s"] = benchmark::Counter(c.ops, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["copies"] = double(copies);
}

std::vector<std::string> pins_for(const std::string& backend, const std::string& op) {
  std::vector<std::string> pins = usable_variants(backend, op);
  if (pins.empty()) pins.push_back("");
  return pins;
}

namespace {

// The case being timed: built on its first run, kept through its repetitions,
// replaced by the next case's (only one case's weight copies are held at a time).
struct Current {
  std::string key;
  std::unique_ptr<Prepared> prepared;
  size_t copies = 1;
};
Current& current() {
  static Current c;
  return c;
}

using BackendCache = std::map<std::tuple<std::string, int, int, std::vector<std::string>>, std::unique_ptr<Backend>>;
BackendCache& backend_cache() {
  static BackendCache backends;
  return backends;
}

Backend& cached_backend(const std::string& name, const BackendOptions& opts) {
  auto& be = backend_cache()[{name, opts.threads, opts.device, opts.variants}];
  if (!be) be = make_backend(name, opts);
  return *be;
}

}  // namespace

void close_op_benchmarks() {
  current() = Current{};
  backend_cache().clear();
}

size_t register_op_benchmarks(const std::function<bool(const DeviceInfo&)>& want, const OpBenchOptions& o) {
  const std::vector<OpCase> cases = bench_cases(o.model, o.tokens);
  size_t registered = 0;
  for (const std::string& name : usable_backends()) {
    const DeviceInfo& di = cached_backend(name, {.threads = o.threads.front(), .device = o.device}).info();
    if (!want(di)) continue;
    const bool cpu = di.kind == "cpu";
    for (int threads : cpu ? o.threads : std::vector<int>{o.threads.front()})
      for (const OpCase& c : cases)
        for (const std::string& pin : pins_for(name, c.op)) {
          BackendOptions opts{.threads = threads, .device = o.device};
          if (!pin.empty()) opts.variants = {pin};
          Backend& be = cached_backend(name, opts);
          const std::string key = bench_key(c, be.info(), pin);
          benchmark::RegisterBenchmark(key.c_str(), [&be, c, key, o](benchmark::State& st) {
            Current& cur = current();
            if (cur.key != key) {
              cur.prepared.reset();  // free the last case's copies before building these
              cur.copies = cold_copies_for(c);
              cur.prepared = c.prepare(be, cur.copies);
              cur.key = key;
            }
            time_case(st, be, *cur.prepared, cur.copies, c, [&](double s) {
              if (o.on_sample) o.on_sample(key, s);
            });
            if (o.counters) o.counters(st, c);
          })->UseManualTime()->Unit(benchmark::kMicrosecond);
          ++registered;
        }
  }
  return registered;
}

}  // namespace bitlab::opcase

// The int8 compute-peak probe (harness/compute_peak.h): a usable rate on the
// CPU's own dot-product path, and one that grows with threads where there are
// cores to grow onto. No timing thresholds beyond that: the machine may be shared.
#include <gtest/gtest.h>
#include <sched.h>

#include <chrono>
#include <cmath>
#include <fstream>
#include <thread>
#include <vector>
#include <set>
#include <string>
#include <utility>

#include "harness/compute_peak.h"
#include "harness/e2e_bench.h"
#include "harness/kernel_bench.h"
#include "harness/machine_load.h"
#include "model/weights/synthetic.h"
#include "harness/op_cases/families.h"
#include "kernels/registry.h"

namespace {

using bitlab::int8_peak_isa;
using bitlab::measure_int8_peak;

// Physical cores this process may run on: distinct (package, core) pairs of
// the CPUs in its affinity mask (two SMT siblings share one core's vector units).
int physical_cores_available() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) != 0) return 1;
  std::set<std::pair<int, int>> cores;
  for (int cpu = 0; cpu < CPU_SETSIZE; ++cpu) {
    if (!CPU_ISSET(cpu, &set)) continue;
    const std::string dir = "/sys/devices/system/cpu/cpu" + std::to_string(cpu) + "/topology/";
    int package = -1, core = cpu;  // no topology: count each CPU as its own core
    std::ifstream(dir + "physical_package_id") >> package;
    std::ifstream(dir + "core_id") >> core;
    cores.insert({package, core});
  }
  return int(cores.size());
}

// How many CPUs sat idle over a short window (idle and iowait time, from
// harness/machine_load.h's /proc/stat sampling); -1 where it cannot be read. A
// second thread only adds work where a core is free: on a machine already busy
// (other processes, or a CPU quota shared by this process's threads) two
// threads get no more than one.
double idle_cpus(int cpus) {
  const bitlab::LoadSample start = bitlab::sample_load();
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  const bitlab::MachineLoad load = bitlab::load_fractions(start, bitlab::sample_load());
  if (!load.busy_fraction) return -1;
  return double(cpus) * (1.0 - *load.busy_fraction - load.steal_fraction.value_or(0.0));
}

TEST(ComputePeak, OneThreadGivesAPositiveFiniteRateOnTheCpusPath) {
  if (int8_peak_isa().empty()) GTEST_SKIP() << "no int8 dot-product path on this CPU";
  const bitlab::ComputePeak p = measure_int8_peak(1, 0.05, 3);
  EXPECT_EQ(p.isa, int8_peak_isa());
  EXPECT_EQ(p.threads, 1);
  EXPECT_TRUE(std::isfinite(p.macs_per_s));
  EXPECT_GT(p.macs_per_s, 0.0);
}

// Every thread runs its own chains: two cores give well over one core's rate.
// Best of three tries, as another process may hold a core for a while.
TEST(ComputePeak, TwoThreadsOnTwoCoresBeatOneByAFifth) {
  if (int8_peak_isa().empty()) GTEST_SKIP() << "no int8 dot-product path on this CPU";
  if (physical_cores_available() < 2) GTEST_SKIP() << "fewer than 2 physical cores available";
  const int cpus = int(std::thread::hardware_concurrency());
  const double idle = idle_cpus(cpus);
  if (idle >= 0 && idle < 1.5) GTEST_SKIP() << "the machine is busy: " << idle << " of " << cpus << " CPUs idle";
  double one = 0, two = 0;
  for (int attempt = 0; attempt < 3; ++attempt) {
    one = measure_int8_peak(1, 0.1, 3).macs_per_s;
    two = measure_int8_peak(2, 0.1, 3).macs_per_s;
    if (two > 1.2 * one) break;
  }
  EXPECT_GT(two, 1.2 * one) << "1 thread " << one / 1e9 << " GMAC/s, 2 threads " << two / 1e9 << " GMAC/s";
}

// Each many-token matmul is held against the highest of the run's peak and
// the probes just before and after it (a probe between two such cases serves
// both); a one-token case is not compute-bound and gets neither a probe nor a
// compute fraction. The probe's readings are scripted, so the ceilings follow.
TEST(ComputePeak, KernelBenchHoldsEachManyTokenMatmulAgainstTheHighestProbeAroundIt) {
  using bitlab::opcase::matmul_case;
  const std::vector<bitlab::opcase::OpCase> cases = {matmul_case("a", {64}, 64, 8), matmul_case("b", {64}, 64, 8),
                                                     matmul_case("c", {64}, 64, 1), matmul_case("d", {64}, 64, 8)};
  const std::vector<double> readings = {1e12, 5e12, 2e12, 4e12, 0.5e12};
  size_t calls = 0;
  bitlab::KernelBenchOptions o;
  o.repetitions = 1;
  o.min_seconds = 0.001;
  o.int8_peak_macs = 3e12;
  o.peak_probe = [&] { return readings.at(calls++); };
  std::unique_ptr<bitlab::Backend> be = bitlab::make_backend("scalar", {});
  const std::vector<bitlab::Measurement> ms = bitlab::run_kernel_benchmarks(*be, cases, o);
  ASSERT_EQ(ms.size(), 4u);
  EXPECT_EQ(calls, readings.size());
  EXPECT_DOUBLE_EQ(ms[0].derived.at("int8_peak_gmacs"), 5e3);  // max(3, 1 before, 5 after)
  EXPECT_DOUBLE_EQ(ms[1].derived.at("int8_peak_gmacs"), 5e3);  // max(3, 5 shared, 2 after)
  EXPECT_EQ(ms[2].derived.count("int8_peak_gmacs"), 0u);
  EXPECT_EQ(ms[2].derived.count("compute_fraction"), 0u);
  EXPECT_DOUBLE_EQ(ms[3].derived.at("int8_peak_gmacs"), 4e3);  // max(3, 4 before, 0.5 after)
  for (size_t i : {0u, 1u, 3u}) {
    const double med = bitlab::summarize(ms[i].samples).median;
    EXPECT_DOUBLE_EQ(ms[i].derived.at("compute_fraction"), ms[i].ops / 2.0 / med / (ms[i].derived.at("int8_peak_gmacs") * 1e9));
  }
}

// Prefill likewise: probes just before the timed prefills and just after them.
TEST(ComputePeak, PrefillIsHeldAgainstTheHighestProbeAroundIt) {
  const bitlab::ModelWeights w = bitlab::synthetic_weights(bitlab::tiny_config(), 1);
  auto be = bitlab::make_backend("scalar", bitlab::BackendOptions{.threads = 1, .device = 0});
  bitlab::Transformer model(*be, w, 12);
  bitlab::E2eOptions o;
  o.prompt_len = 8;
  o.gen = 2;
  o.prefill_repetitions = 2;
  o.model = "synthetic:tiny";
  o.int8_peak_macs = 3e12;
  const std::vector<double> readings = {2e12, 7e12};
  size_t calls = 0;
  o.peak_probe = [&] { return readings.at(calls++); };
  const auto ms = bitlab::run_e2e_benchmark(model, w, o);
  EXPECT_EQ(calls, 2u);
  EXPECT_DOUBLE_EQ(ms.at(0).derived.at("int8_peak_gmacs"), 7e3);
  const double med = bitlab::summarize(ms[0].samples).median;
  EXPECT_DOUBLE_EQ(ms[0].derived.at("compute_fraction"), ms[0].ops / 2.0 / med / 7e12);
  EXPECT_EQ(ms.at(1).derived.count("compute_fraction"), 0u);  // decode is bandwidth-bound
}

}  // namespace

// The machine-load figures from fixture text (never the live /proc), and the
// warnings a result document earns: busy machine, spread-out cases.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "harness/machine_load.h"
#include "harness/run_warnings.h"

namespace bitlab {
namespace {

constexpr const char* kProcStat =
    "cpu  1000 20 300 8000 50 10 5 15 0 0\n"
    "cpu0 500 10 150 4000 25 5 2 7 0 0\n"
    "cpu1 500 10 150 4000 25 5 3 8 0 0\n"
    "intr 12345 0 0\n"
    "procs_running 3\n";

TEST(MachineLoad, ParsesTheAggregateCpuLine) {
  const auto t = parse_proc_stat(kProcStat);
  ASSERT_TRUE(t);
  EXPECT_EQ(t->user, 1000u);
  EXPECT_EQ(t->nice, 20u);
  EXPECT_EQ(t->system, 300u);
  EXPECT_EQ(t->idle, 8000u);
  EXPECT_EQ(t->steal, 15u);
  EXPECT_EQ(t->total(), 1000u + 20 + 300 + 8000 + 50 + 10 + 5 + 15);
  EXPECT_EQ(t->busy(), 1000u + 20 + 300 + 10 + 5);
}

TEST(MachineLoad, OldKernelLineWithoutStealAndBadText) {
  const auto t = parse_proc_stat("cpu 1 2 3 4\n");
  ASSERT_TRUE(t);
  EXPECT_EQ(t->steal, 0u);
  EXPECT_EQ(t->total(), 10u);
  EXPECT_FALSE(parse_proc_stat(""));
  EXPECT_FALSE(parse_proc_stat("cpu0 1 2 3 4 5\n"));  // per-CPU lines only
  EXPECT_FALSE(parse_proc_stat("cpu 1 x 3 4 5\n"));
  EXPECT_FALSE(parse_proc_stat("cpu 1 2\n"));
}

TEST(MachineLoad, ParsesLoadavg) {
  const auto l = parse_loadavg("2.35 1.10 0.50 3/412 98765\n");
  ASSERT_TRUE(l);
  EXPECT_DOUBLE_EQ(l->one_minute, 2.35);
  EXPECT_EQ(l->running, 3);
  EXPECT_FALSE(parse_loadavg("2.35 1.10 0.50\n"));
  EXPECT_FALSE(parse_loadavg("abc 1.10 0.50 3/412 1\n"));
  EXPECT_FALSE(parse_loadavg("1 1 1 3412 1\n"));
}

TEST(MachineLoad, ParsesClockFromCpuinfoAndSysfs) {
  const auto mhz = parse_cpuinfo_mhz(
      "processor\t: 0\ncpu MHz\t\t: 2000.000\nflags\t: fpu\n\nprocessor\t: 1\ncpu MHz\t\t: 3000.500\n");
  ASSERT_TRUE(mhz);
  EXPECT_DOUBLE_EQ(*mhz, 2500.25);
  EXPECT_FALSE(parse_cpuinfo_mhz("processor\t: 0\nBogoMIPS\t: 50.00\n"));  // Arm: no clock line
  EXPECT_DOUBLE_EQ(parse_scaling_khz("2400000\n").value(), 2400.0);
  EXPECT_FALSE(parse_scaling_khz("<unknown>\n"));
  EXPECT_FALSE(parse_scaling_khz("0\n"));
}

TEST(MachineLoad, FractionsFromTwoSamples) {
  LoadSample a, b;
  a.cpu = CpuTimes{1000, 0, 0, 1000, 0, 0, 0, 0};
  // 1000 ticks pass over all CPUs: 600 busy, 100 stolen, 300 idle.
  b.cpu = CpuTimes{1600, 0, 0, 1300, 0, 0, 0, 100};
  a.self_cpu_seconds = 1.0;
  b.self_cpu_seconds = 3.0;  // 200 ticks at 100 per second: this process
  a.ticks_per_second = b.ticks_per_second = 100;
  const MachineLoad m = load_fractions(a, b);
  EXPECT_DOUBLE_EQ(m.busy_fraction.value(), 0.6);
  EXPECT_DOUBLE_EQ(m.steal_fraction.value(), 0.1);
  EXPECT_DOUBLE_EQ(m.other_busy_fraction.value(), 0.4);
  // No /proc/stat (another OS): no fractions, and nothing added to a context.
  const MachineLoad none = load_fractions(LoadSample{}, b);
  EXPECT_FALSE(none.busy_fraction || none.other_busy_fraction || none.steal_fraction);
  nlohmann::json ctx = nlohmann::json::object();
  add_machine_load(ctx, none);
  EXPECT_TRUE(ctx.empty());
  add_machine_load(ctx, m);
  EXPECT_DOUBLE_EQ(ctx.at("other_busy_fraction").get<double>(), 0.4);
  EXPECT_FALSE(ctx.contains("load_average_1m"));
}

nlohmann::json measurement(const std::string& key, double p10, double median, double p90, int count = 10) {
  return {{"key", key},
          {"stats", {{"count", count}, {"min", p10}, {"median", median}, {"mean", median}, {"p10", p10}, {"p90", p90},
                     {"stddev", 0.0}}}};
}

nlohmann::json quiet_document() {
  return {{"context",
           {{"threads", 2}, {"load_average_1m", 1.9}, {"other_busy_fraction", 0.02}, {"steal_fraction", 0.0}}},
          {"measurements",
           {measurement("e2e/decode/avx512/threads:2", 0.0255, 0.026, 0.0265),
            measurement("kernel/add/avx512", 1.0e-6, 1.01e-6, 1.03e-6)}}};
}

TEST(RunWarnings, QuietAndTightDocumentHasNone) {
  nlohmann::json doc = quiet_document();
  EXPECT_TRUE(run_warnings(doc).empty());
  EXPECT_TRUE(add_run_warnings(doc).empty());
  EXPECT_FALSE(doc.contains("warnings"));
  // A document without any load figures (older version, another OS) earns none either.
  EXPECT_TRUE(run_warnings(nlohmann::json{{"context", {{"threads", 2}}}, {"measurements", nlohmann::json::array()}})
                  .empty());
  EXPECT_TRUE(run_warnings(nlohmann::json::array()).empty());
}

TEST(RunWarnings, BusyMachineIsNamed) {
  nlohmann::json doc = quiet_document();
  doc["context"]["other_busy_fraction"] = 0.45;
  auto w = run_warnings(doc);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("machine busy"), std::string::npos);
  EXPECT_NE(w[0].find("45 %"), std::string::npos);

  doc = quiet_document();
  doc["context"]["steal_fraction"] = 0.2;
  w = run_warnings(doc);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("steal"), std::string::npos);

  doc = quiet_document();
  doc["context"]["load_average_1m"] = 3.2;  // 2 threads: above 2.5
  w = run_warnings(doc);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("load average 3.20"), std::string::npos);
  doc["context"]["load_average_1m"] = 2.4;  // the run's own threads plus a little: not busy
  EXPECT_TRUE(run_warnings(doc).empty());
}

TEST(RunWarnings, SpreadOutCaseIsNamed) {
  nlohmann::json doc = quiet_document();
  // (0.0345 - 0.0285) / 0.03 = 20 %: twice the limit, as a busy neighbour makes it.
  doc["measurements"].push_back(measurement("e2e/decode/avx512/threads:1", 0.0285, 0.03, 0.0345));
  nlohmann::json recorded = doc;
  const auto w = add_run_warnings(recorded);
  ASSERT_EQ(w.size(), 1u);
  EXPECT_NE(w[0].find("e2e/decode/avx512/threads:1"), std::string::npos);
  EXPECT_NE(w[0].find("20 %"), std::string::npos);
  EXPECT_EQ(recorded.at("warnings"), nlohmann::json(w));
  // Too few samples for a spread: no warning.
  doc["measurements"].back() = measurement("e2e/prefill/avx512", 0.02, 0.03, 0.06, 3);
  EXPECT_TRUE(run_warnings(doc).empty());
}

}  // namespace
}  // namespace bitlab

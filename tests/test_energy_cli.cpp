// Energy through the binary: `bitlab info` lists the sensors and why not,
// `bitlab bench` and `bitlab energy` record joules per token with their source,
// and the documents validate against the schema. RAPL and NVML come from a fake
// powercap tree and the fake libnvidia-ml, so this runs on any machine.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <vector>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/cli_test_util.h"

namespace {
namespace fs = std::filesystem;
using nlohmann::json;

using Result = bitlab::test::CmdResult;
using bitlab::test::kPython;
using bitlab::test::line_with;
using bitlab::test::slurp;

std::string scratch() { return bitlab::test::scratch_dir("energy"); }
using bitlab::test::run_bitlab;

// A powercap tree with one package (and DRAM) whose counters stand still.
std::string fake_powercap(const std::string& dir) {
  for (const auto& [zone, name] : {std::pair{"intel-rapl:0", "package-0"}, std::pair{"intel-rapl:0:1", "dram"}}) {
    const fs::path z = fs::path(dir) / "powercap" / zone;
    fs::create_directories(z);
    std::ofstream(z / "name") << name << "\n";
    std::ofstream(z / "energy_uj") << 123456 << "\n";
    std::ofstream(z / "max_energy_range_uj") << 262143328850ull << "\n";
  }
  return dir + "powercap";
}

constexpr auto expect_valid = bitlab::test::expect_valid_result;

TEST(EnergyCli, InfoListsEachSensorAndWhyNot) {
  const std::string dir = scratch();
  Result r = run_bitlab("info", "BITLAB_POWERCAP_ROOT=" + dir + "none BITLAB_NVML_LIBRARY=/nonexistent/libnvml.so");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("energy sensors"), std::string::npos);
  EXPECT_NE(line_with(r.out, "  rapl ").find("unavailable no " + dir + "none"), std::string::npos) << r.out;
  EXPECT_NE(line_with(r.out, "  nvml ").find("unavailable /nonexistent/libnvml.so not loadable"), std::string::npos)
      << r.out;
  EXPECT_NE(line_with(r.out, "  modelled ").find("estimate, not a measurement"), std::string::npos) << r.out;

  r = run_bitlab("info", "BITLAB_POWERCAP_ROOT=" + fake_powercap(dir) + " BITLAB_NVML_LIBRARY=" + FAKE_NVML_PATH);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(line_with(r.out, "  rapl ").find("usable     package-0, dram-0 energy counters"), std::string::npos)
      << r.out;
  EXPECT_NE(line_with(r.out, "  nvml ").find("GPU 0 Fake GPU 0: total-energy counter"), std::string::npos) << r.out;
}

TEST(EnergyCli, BenchRecordsEnergyWithItsSource) {
  const std::string dir = scratch();
  const std::string args = "bench --quick --no-kernels --model synthetic:tiny --backends scalar --threads 1 "
                           "--idle-seconds 0.05 --out " + dir + "bench.json";
  // No sensor: the model alone, labelled an estimate.
  Result r = run_bitlab(args, "BITLAB_POWERCAP_ROOT=" + dir + "none BITLAB_ENERGY_PROFILE_DIR=" + dir + "profiles");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("energy: rapl unavailable: no " + dir + "none"), std::string::npos) << r.err;
  json doc = json::parse(slurp(dir + "bench.json"));
  int rows = 0;
  for (const auto& m : doc["measurements"]) {
    ASSERT_TRUE(m.contains("energy")) << m["key"];
    EXPECT_EQ(m["energy"]["source"], "modelled");
    EXPECT_EQ(m["energy"]["estimate"], true);
    // Its label and parts, and no watts that would read as measured.
    EXPECT_EQ(m["energy"]["label"].get<std::string>().rfind("modelled (textbook constants: Horowitz 45 nm, static 10 W "
                                                            "per CPU socket x ", 0), 0u) << m["energy"].dump();
    EXPECT_FALSE(m["energy"].contains("average_watts"));
    EXPECT_GT(m["energy"]["static_joules"].get<double>(), 0.0);
    EXPECT_GT(m["energy"]["joules_per_token"].get<double>(), 0.0);
    EXPECT_FALSE(m.contains("other_energy"));
    ++rows;
  }
  EXPECT_EQ(rows, 2);
  EXPECT_NE(r.out.find("decode energy"), std::string::npos) << r.out;
  expect_valid(dir + "bench.json");

  // RAPL (a still fake tree): measured first, the model beside it.
  r = run_bitlab(args, "BITLAB_POWERCAP_ROOT=" + fake_powercap(dir));
  ASSERT_EQ(r.code, 0) << r.err;
  doc = json::parse(slurp(dir + "bench.json"));
  for (const auto& m : doc["measurements"]) {
    EXPECT_EQ(m["energy"]["source"], "rapl");
    EXPECT_EQ(m["energy"]["estimate"], false);
    EXPECT_TRUE(m["energy"].contains("idle_watts"));
    EXPECT_TRUE(m["energy"].contains("net_joules_per_token"));
    EXPECT_GE(m["energy"]["seconds"].get<double>(), 0.2);  // RAPL's shortest window
    ASSERT_EQ(m["other_energy"].size(), 1u);
    EXPECT_EQ(m["other_energy"][0]["source"], "modelled");
  }
  bool listed = false;
  for (const auto& s : doc["context"]["energy_sensors"])
    listed = listed || (s["name"] == "rapl" && s["available"] == true);
  EXPECT_TRUE(listed) << doc["context"]["energy_sensors"].dump();
  expect_valid(dir + "bench.json");

  EXPECT_EQ(run_bitlab(args + " --energy-source none").code, 0);
  doc = json::parse(slurp(dir + "bench.json"));
  for (const auto& m : doc["measurements"]) EXPECT_FALSE(m.contains("energy"));
}

TEST(EnergyCli, EnergyCommandMeasuresLongWindowsFromEachSource) {
  const std::string dir = scratch();
  const std::string args = "energy --model synthetic:tiny --backends scalar --threads 1 --prompt-len 8 --gen 4 "
                           "--seconds 0.1 --idle-seconds 0.05 --out " + dir + "energy.json";
  Result r = run_bitlab(args, "BITLAB_POWERCAP_ROOT=" + fake_powercap(dir));
  ASSERT_EQ(r.code, 0) << r.err;
  json doc = json::parse(slurp(dir + "energy.json"));
  ASSERT_EQ(doc["measurements"].size(), 2u);
  for (const auto& m : doc["measurements"]) {
    EXPECT_EQ(m["key"].get<std::string>().rfind("energy/", 0), 0u) << m["key"];
    EXPECT_EQ(m["energy"]["source"], "rapl");
    EXPECT_EQ(m["energy"]["domains"].size(), 2u);
    EXPECT_EQ(m["energy"]["label"], "measured (rapl: dram-0 + package-0, gross; net figures subtract the idle baseline)");
    EXPECT_GE(m["energy"]["seconds"].get<double>(), 0.2);  // RAPL's own minimum is longer than --seconds
    EXPECT_EQ(m["other_energy"][0]["source"], "modelled");
  }
  // The modelled row shows no watts ("-" in the avg W column) and its label is printed.
  const std::string row = line_with(r.out, "scalar    decode   modelled*");
  ASSERT_NE(row.size(), 0u) << r.out;
  EXPECT_EQ(row.find(" W"), std::string::npos);
  std::istringstream cols(row);
  std::vector<std::string> col{std::istream_iterator<std::string>(cols), {}};
  ASSERT_EQ(col.size(), 10u) << row;
  EXPECT_EQ(col[5], "-") << row;
  EXPECT_NE(line_with(r.out, "  modelled (").size(), 0u) << r.out;

  expect_valid(dir + "energy.json");

  // NVML named outright, from the fake library: the GPU's counter over the same windows.
  r = run_bitlab(args + " --source nvml", std::string("BITLAB_NVML_LIBRARY=") + FAKE_NVML_PATH);
  ASSERT_EQ(r.code, 0) << r.err;
  doc = json::parse(slurp(dir + "energy.json"));
  for (const auto& m : doc["measurements"]) {
    EXPECT_EQ(m["energy"]["source"], "nvml");
    EXPECT_EQ(m["energy"]["method"], "GPU total-energy counter");
    EXPECT_GE(m["energy"]["seconds"].get<double>(), 2.0);  // NVML's own minimum window
  }
  expect_valid(dir + "energy.json");
}

// The report shows gross and net J/token, the estimate beside the measurement, and the model's table.
TEST(EnergyCli, ReportShowsGrossNetAndTheEstimate) {
  if (!bitlab::test::python_has("matplotlib"))
    GTEST_SKIP() << kPython << " lacks matplotlib (Debian package python3-matplotlib)";
  const std::string dir = scratch();
  Result r = run_bitlab("energy --model synthetic:tiny --backends scalar --threads 1 --prompt-len 8 --gen 4 "
                        "--seconds 0.1 --idle-seconds 0.05 --out " + dir + "energy.json",
                        "BITLAB_POWERCAP_ROOT=" + fake_powercap(dir));
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_bitlab("report " + dir + "energy.json -o " + dir + "report");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string md = slurp(dir + "report/report.md");
  EXPECT_NE(md.find("| J/token | energy source | power | flags |"), std::string::npos);
  const std::string decode = line_with(md, "energy/decode/");
  EXPECT_NE(decode.find("| measured (rapl: dram-0 + package-0, gross;"), std::string::npos) << decode;
  EXPECT_NE(decode.find("| average 0.000 W, idle 0.000 W, net 0.000 J/token |"), std::string::npos) << decode;
  // The estimate beside it carries its label and no watts.
  const size_t modelled = decode.find("also modelled (textbook constants: Horowitz 45 nm, static 10 W");
  ASSERT_NE(modelled, std::string::npos) << decode;
  EXPECT_EQ(decode.substr(modelled, decode.find(" | ", modelled) - modelled).find(" W,"), std::string::npos) << decode;
  EXPECT_NE(md.find("modelled: estimate: op and byte counts x Horowitz ISSCC 2014, 45 nm"), std::string::npos);
}

// --calibrate needs RAPL or NVML: without either, one line naming both and exit 1.
TEST(EnergyCli, CalibrateWithoutAMeterIsOneLineError) {
  const std::string dir = scratch();
  const std::string env = "BITLAB_POWERCAP_ROOT=" + dir + "none BITLAB_NVML_LIBRARY=/nonexistent/libnvml.so "
                          "BITLAB_ENERGY_PROFILE_DIR=" + dir + "profiles";
  Result r = run_bitlab("energy --calibrate", env);
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("energy --calibrate needs a hardware energy meter and none is usable here (rapl: no " + dir +
                       "none"),
            std::string::npos)
      << r.err;
  EXPECT_NE(r.err.find("nvml: /nonexistent/libnvml.so not loadable"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_FALSE(fs::exists(dir + "profiles"));
  r = run_bitlab("energy --calibrate --source modelled", env);
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--source modelled is not a hardware meter"), std::string::npos) << r.err;
}

TEST(EnergyCli, BadSourcesAreOneLineErrors) {
  const std::string dir = scratch();
  const std::string base = "energy --model synthetic:tiny --backends scalar --seconds 0 --idle-seconds 0.05 --out " +
                           dir + "x.json";
  Result r = run_bitlab(base + " --source bogus");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("unknown energy source 'bogus'"), std::string::npos) << r.err;
  r = run_bitlab(base + " --source rapl", "BITLAB_POWERCAP_ROOT=" + dir + "none");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("energy source rapl: no " + dir + "none"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  r = run_bitlab(base + " --source nvml", "BITLAB_NVML_LIBRARY=/nonexistent/libnvml.so");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("energy source nvml: /nonexistent/libnvml.so not loadable"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(dir + "x.json"));
  EXPECT_EQ(run_bitlab("bench --energy-source bogus --model synthetic:tiny --quick").code, 2);
}

}  // namespace

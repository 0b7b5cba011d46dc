// `bitlab bench --quick` and `bitlab check` on the tiny model, through the
// binary: they run, their result files validate against the schema, and they
// hold a row for every usable backend.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "harness/compute_peak.h"
#include "kernels/registry.h"
#include "tests/cli_test_util.h"

namespace {

using bitlab::test::expect_valid_result;
using bitlab::test::run_bitlab;
using bitlab::test::temp_path;

nlohmann::json load(const std::string& path) { return nlohmann::json::parse(bitlab::test::slurp(path)); }

TEST(Bench, QuickTinyWritesAValidResultForEveryBackend) {
  const std::string out = temp_path("bench.json");
  // Every usable backend by name: the default list leaves out software Vulkan devices.
  std::string all;
  for (const std::string& b : bitlab::usable_backends()) all += (all.empty() ? "" : ",") + b;
  const auto r =
      run_bitlab("bench --quick --model synthetic:tiny --threads 2 --heads bf16,int8 --backends " + all + " --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("prefill by op: "), std::string::npos) << r.err;
  const auto doc = load(out);
  // The int8 peak is measured where the CPU has a dot-product path; then prefill
  // and the many-token matmuls of a CPU backend (not a GPU's) are held against it.
  const bool peak = !bitlab::int8_peak_isa().empty();
  EXPECT_EQ(doc["context"].contains("int8_peak_gmacs"), peak);
  if (peak) {
    EXPECT_GT(doc["context"]["int8_peak_gmacs"].get<double>(), 0.0);
    EXPECT_EQ(doc["context"]["int8_peak_isa"], bitlab::int8_peak_isa());
  }
  for (const std::string& b : bitlab::usable_backends()) {
    const bool cpu = bitlab::make_backend(b)->info().kind == "cpu";
    int kernels = 0, e2e = 0, compute_fractions = 0;
    for (const auto& m : doc["measurements"]) {
      if (m["backend"] != b) continue;
      kernels += m["kind"] == "kernel";
      e2e += m["kind"] == "e2e";
      EXPECT_GE(m["samples"].size(), 3u) << m["key"];
      // One profiled prefill per head: its ops' shares and "other" add up to 1.
      EXPECT_EQ(m.contains("breakdown"), m["name"] == "prefill") << m["key"];
      if (m.contains("breakdown")) {
        double share = 0;
        for (const auto& op : m["breakdown"]) share += op["share"].get<double>();
        EXPECT_NEAR(share, 1.0, 1e-6) << m["key"];
      }
      const auto d = m.value("derived", nlohmann::json::object());
      const bool held = peak && cpu &&
                        (m["name"] == "prefill" || (m["name"] == "matmul_w2a8" && m["shape"]["tokens"] > 1));
      EXPECT_EQ(d.contains("compute_fraction"), held) << m["key"];
      if (!held) continue;
      ++compute_fractions;
      EXPECT_GT(d["compute_fraction"].get<double>(), 0.0) << m["key"];
      // ops counts a multiply-add as 2: the fraction is ops / 2 per second over the peak.
      const double macs_per_s = m["ops"].get<double>() / 2.0 / m["stats"]["median"].get<double>();
      // Over the case's own ceiling: the highest of the run's peak (taken with
      // the same threads here) and the probes just before and after the case.
      const double ceiling = d["int8_peak_gmacs"].get<double>();
      EXPECT_GE(ceiling, doc["context"]["int8_peak_gmacs"].get<double>()) << m["key"];
      const double expected = macs_per_s / (ceiling * 1e9);
      EXPECT_NEAR(d["compute_fraction"].get<double>(), expected, 1e-6 * expected) << m["key"];
    }
    if (peak && cpu) {
      EXPECT_EQ(compute_fractions, 4 + 2) << b << ": the 4 matmul shapes at T=8 and prefill per head";
    }
    EXPECT_EQ(kernels, 2 * 4 + 2) << b << ": 4 matmul shapes at T=1 and 8, plus the bf16 and int8 heads";
    EXPECT_EQ(e2e, 2 * 2) << b << ": prefill and decode per head";
  }
  EXPECT_GT(doc["context"]["memory_bandwidth_gbps"].get<double>(), 0.0);
  EXPECT_EQ(doc["context"]["command"].get<std::string>().rfind("bitlab bench", 0), 0u);
  expect_valid_result(out);
}

// Both weight layouts and the certified head in one bench: each configuration
// keyed apart, the 1.6-bit one pinning its matmul (kernel keys name it) and
// reading fewer bytes per decode step, the certified head recording the rows
// it rescored. avx512 is the backend with a 1.6-bit matmul on this CPU.
TEST(Bench, WeightBitsAndHeadsAreConfigurationsOfOneRun) {
  bool avx512 = false;
  for (const std::string& b : bitlab::usable_backends()) avx512 = avx512 || b == "avx512";
  if (!avx512) GTEST_SKIP() << "avx512 backend not usable here";
  const std::string out = temp_path("bench-bits.json");
  const auto r = run_bitlab("bench --quick --model synthetic:tiny --threads 2 --backends avx512 --weight-bits 2,1.6 "
                            "--heads bf16,certified --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto doc = load(out);
  std::map<std::string, double> decode_bytes;
  int matmul_1p6 = 0;
  for (const auto& m : doc["measurements"]) {
    const std::string key = m["key"].get<std::string>();
    if (m["kind"] == "kernel") {
      if (key.find("/variant:t1p6i8_matmul") != std::string::npos) ++matmul_1p6;
      continue;
    }
    if (m["name"] != "decode") continue;
    decode_bytes[key] = m["bytes"].get<double>();
    const auto& d = m["derived"];
    EXPECT_GT(d["bytes_per_token"].get<double>(), 0.0) << key;
    EXPECT_GT(d["gbps"].get<double>(), 0.0) << key;
    EXPECT_EQ(d.contains("rows_rescored_per_step"), key.find("/head:certified") != std::string::npos) << key;
    EXPECT_EQ(d["weight_bits"].get<double>(), key.find("/weight_bits:1.6") != std::string::npos ? 1.6 : 2.0) << key;
  }
  EXPECT_EQ(matmul_1p6, 2 * 4) << "the 4 matmul shapes at T=1 and 8 again with the 1.6-bit matmul";
  const std::string base = "e2e/decode/avx512/synthetic:tiny/prompt:16/threads:2";
  ASSERT_EQ(decode_bytes.size(), 4u) << r.out;
  ASSERT_TRUE(decode_bytes.count(base) && decode_bytes.count(base + "/weight_bits:1.6") &&
              decode_bytes.count(base + "/head:certified") && decode_bytes.count(base + "/head:certified/weight_bits:1.6"))
      << r.out;
  EXPECT_LT(decode_bytes[base + "/weight_bits:1.6"], decode_bytes[base]);
  EXPECT_LT(decode_bytes[base + "/head:certified/weight_bits:1.6"], decode_bytes[base + "/head:certified"]);
  expect_valid_result(out);
}

// check --weight-bits 1.6: the backend runs its 1.6-bit matmul and passes the
// same checks; a layout a named backend has no kernel for is a one-line error.
TEST(Check, WeightBitsPickTheLayoutChecked) {
  bool avx512 = false;
  for (const std::string& b : bitlab::usable_backends()) avx512 = avx512 || b == "avx512";
  if (!avx512) GTEST_SKIP() << "avx512 backend not usable here";
  const std::string out = temp_path("check-bits.json");
  const auto r = run_bitlab("check --model synthetic:tiny --tokens 6 --backends avx512 --weight-bits 1.6 --out " + out);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const auto doc = load(out);
  ASSERT_FALSE(doc["correctness"].empty());
  int matmul_checks = 0;
  for (const auto& c : doc["correctness"]) {
    EXPECT_TRUE(c["pass"].get<bool>()) << c.dump();
    if (c["backend"] == "avx512" && c["check"].get<std::string>().rfind("matmul_w2a8/", 0) == 0) {
      EXPECT_EQ(c["variant"], "t1p6i8_matmul_b3r16k20__avx512vnni") << c.dump();
      ++matmul_checks;
    }
  }
  EXPECT_GT(matmul_checks, 0);
  EXPECT_EQ(run_bitlab("check --model synthetic:tiny --weight-bits 3").code, 2);
}

TEST(Check, TinyPassesAndWritesAValidResult) {
  const std::string out = temp_path("check.json");
  const auto r = run_bitlab("check --model synthetic:tiny --tokens 6 --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto doc = load(out);
  size_t e2e = 0, e2e_int8 = 0;
  for (const auto& c : doc["correctness"]) {
    EXPECT_TRUE(c["pass"].get<bool>()) << c.dump();
    const std::string check = c["check"].get<std::string>();
    e2e += check.rfind("e2e/", 0) == 0;
    e2e_int8 += check.rfind("e2e/", 0) == 0 && check.ends_with("/head:int8");
  }
  // Two end-to-end checks per backend: the bf16 head and the int8 head.
  EXPECT_EQ(e2e, 2 * bitlab::usable_backends().size());
  EXPECT_EQ(e2e_int8, bitlab::usable_backends().size());
  expect_valid_result(out);
}

// --seed picks the synthetic weights (and from them the teacher-forced tokens):
// another seed is another model, so the oracle's noise floor moves, and the
// verdict still holds. Seed 1 is the default: giving it changes nothing.
TEST(Check, SeedPicksTheWeightsTheCheckRunsOn) {
  auto floor_of = [](const std::string& seed_args, const std::string& name) {
    const std::string out = temp_path(name);
    const auto r = run_bitlab("check --model synthetic:tiny --tokens 6 --backends scalar --out " + out + seed_args);
    EXPECT_EQ(r.code, 0) << r.out << r.err;
    const auto doc = load(out);
    for (const auto& c : doc["correctness"])
      if (c["check"] == "e2e/tiny/tokens:6") {
        EXPECT_TRUE(c["pass"].get<bool>()) << c.dump();
        return std::make_pair(c["floor_nmse"].get<double>(), r.err);
      }
    ADD_FAILURE() << "no e2e/tiny/tokens:6 record in " << out;
    return std::make_pair(-1.0, r.err);
  };
  const auto seed1 = floor_of("", "seed-default.json");
  const auto seed1_given = floor_of(" --seed 1", "seed-1.json");
  const auto seed7 = floor_of(" --seed 7", "seed-7.json");
  EXPECT_NE(seed7.second.find("(seed 7)"), std::string::npos) << seed7.second;
  EXPECT_EQ(seed1.first, seed1_given.first);
  EXPECT_NE(seed1.first, seed7.first);
  EXPECT_EQ(run_bitlab("check --model synthetic:tiny --seed -1").code, 2);
}

// The result's context names the commit the sources are at: from git, or from
// BITLAB_SOURCE_COMMIT in a copy of the tree without its .git.
TEST(Check, ContextNamesTheSourceCommit) {
  const std::string out = temp_path("commit.json");
  const std::string check = "check --model synthetic:tiny --backends scalar --tokens 2 --out " + out;
  auto r = run_bitlab(check, "BITLAB_SOURCE_COMMIT=0123abcd-dirty");
  ASSERT_EQ(r.code, 0) << r.err;
  auto git = load(out)["context"]["git"];
  EXPECT_EQ(git["commit"], "0123abcd");
  EXPECT_EQ(git["dirty"], true);
  r = run_bitlab(check, "BITLAB_SOURCE_COMMIT=4567ef");
  ASSERT_EQ(r.code, 0) << r.err;
  git = load(out)["context"]["git"];
  EXPECT_EQ(git["commit"], "4567ef");
  EXPECT_EQ(git["dirty"], false);
  // Without the variable, git answers (this test runs in a checkout) or the commit is "unknown".
  r = bitlab::test::run_command("env -u BITLAB_SOURCE_COMMIT " + std::string(BITLAB_BIN) + " " + check);
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string from_git = load(out)["context"]["git"]["commit"];
  EXPECT_TRUE(from_git == "unknown" || from_git.size() == 40) << from_git;
}

TEST(BenchCheck, BadInputIsAUsageError) {
  EXPECT_EQ(run_bitlab("bench --backends scalar,nonesuch --quick").code, 2);
  EXPECT_EQ(run_bitlab("check --model synthetic:huge").code, 2);
  EXPECT_EQ(run_bitlab("bench --tokens 0 --model synthetic:tiny").code, 2);
}

// An error is one line on stderr naming what was wrong.
void expect_one_line_usage_error(const std::string& args, const std::string& named) {
  const auto r = run_bitlab(args);
  EXPECT_EQ(r.code, 2) << args;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ":\n" << r.err;
  EXPECT_NE(r.err.find(named), std::string::npos) << args << ":\n" << r.err;
}

TEST(BenchCheck, UnknownOpIsAOneLineUsageError) {
  expect_one_line_usage_error("check --model synthetic:tiny --backends scalar --op nonesuch_op", "nonesuch_op");
}

TEST(BenchCheck, VariantNoSelectedBackendListsIsAOneLineUsageError) {
  for (const char* cmd : {"check --model synthetic:tiny --backends scalar", "bench --quick --model synthetic:tiny "
                                                                             "--backends scalar",
                          "run --model synthetic:tiny --backend scalar --gen 1"})
    expect_one_line_usage_error(std::string(cmd) + " --variant no_such_kernel", "no_such_kernel");
}

TEST(BenchCheck, CheckOpRunsThatOpAlone) {
  const std::string out = temp_path("check-op.json");
  const auto r = run_bitlab("check --model synthetic:tiny --backends scalar --op matmul_w2a8 --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  expect_valid_result(out);
  const nlohmann::json doc = load(out);
  ASSERT_FALSE(doc["correctness"].empty());
  for (const auto& c : doc["correctness"]) {
    EXPECT_EQ(c["check"].get<std::string>().rfind("matmul_w2a8/", 0), 0u) << c["check"];
    EXPECT_EQ(c["backend"], "scalar");
    EXPECT_FALSE(c["variant"].get<std::string>().empty());
  }
}

}  // namespace

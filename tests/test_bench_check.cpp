// `bitlab bench --quick` and `bitlab check` on the tiny model, through the
// binary: they run, their result files validate against the schema, and they
// hold a row for every usable backend.
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "model/registry.h"
#include "tests/cli_test_util.h"

namespace {

int sh(const std::string& cmd) { return bitlab::test::run_command(cmd).code; }

std::string temp_path(const std::string& name) {
  return ::testing::TempDir() + "/bitlab_" + std::to_string(getpid()) + "_" + name;
}

using bitlab::test::expect_valid_result;

nlohmann::json load(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

TEST(Bench, QuickTinyWritesAValidResultForEveryBackend) {
  const std::string out = temp_path("bench.json");
  // Every usable backend by name: the default list leaves out software Vulkan devices.
  std::string all;
  for (const std::string& b : bitlab::usable_backends()) all += (all.empty() ? "" : ",") + b;
  ASSERT_EQ(sh(std::string(BITLAB_BIN) + " bench --quick --model synthetic:tiny --threads 2 --heads bf16,int8 --backends " + all + " --out " + out +
               " >/dev/null 2>&1"),
            0);
  const auto doc = load(out);
  for (const std::string& b : bitlab::usable_backends()) {
    int kernels = 0, e2e = 0;
    for (const auto& m : doc["measurements"]) {
      if (m["backend"] != b) continue;
      kernels += m["kind"] == "kernel";
      e2e += m["kind"] == "e2e";
      EXPECT_GE(m["samples"].size(), 3u) << m["key"];
    }
    // The int8 head is optional: its kernel case and e2e runs only where the backend has it.
    const int heads = bitlab::make_backend(b, {})->has_lm_head_i8() ? 2 : 1;
    EXPECT_EQ(kernels, 2 * 4 + heads) << b << ": 4 matmul shapes at T=1 and 8, plus the head(s)";
    EXPECT_EQ(e2e, 2 * heads) << b << ": prefill and decode per head";
  }
  EXPECT_GT(doc["context"]["memory_bandwidth_gbps"].get<double>(), 0.0);
  EXPECT_EQ(doc["context"]["command"].get<std::string>().rfind("bitlab bench", 0), 0u);
  expect_valid_result(out);
}

TEST(Check, TinyPassesAndWritesAValidResult) {
  const std::string out = temp_path("check.json");
  ASSERT_EQ(sh(std::string(BITLAB_BIN) + " check --model synthetic:tiny --tokens 6 --out " + out + " >/dev/null 2>&1"),
            0);
  const auto doc = load(out);
  size_t e2e = 0, e2e_int8 = 0, want_int8 = 0;
  for (const auto& r : doc["correctness"]) {
    EXPECT_TRUE(r["pass"].get<bool>()) << r.dump();
    const std::string check = r["check"].get<std::string>();
    e2e += check.rfind("e2e/", 0) == 0;
    e2e_int8 += check.rfind("e2e/", 0) == 0 && check.ends_with("/head:int8");
  }
  // One end-to-end check per backend, and one more with the int8 head where it has one.
  for (const std::string& b : bitlab::usable_backends()) want_int8 += bitlab::make_backend(b, {})->has_lm_head_i8();
  EXPECT_EQ(e2e, bitlab::usable_backends().size() + want_int8);
  EXPECT_EQ(e2e_int8, want_int8);
  expect_valid_result(out);
}

// The result's context names the commit the sources are at: from git, or from
// BITLAB_SOURCE_COMMIT in a copy of the tree without its .git.
TEST(Check, ContextNamesTheSourceCommit) {
  const std::string out = temp_path("commit.json");
  const std::string check = std::string(BITLAB_BIN) + " check --model synthetic:tiny --backends scalar --tokens 2 --out " +
                            out + " >/dev/null 2>&1";
  ASSERT_EQ(sh("BITLAB_SOURCE_COMMIT=0123abcd-dirty " + check), 0);
  auto git = load(out)["context"]["git"];
  EXPECT_EQ(git["commit"], "0123abcd");
  EXPECT_EQ(git["dirty"], true);
  ASSERT_EQ(sh("BITLAB_SOURCE_COMMIT=4567ef " + check), 0);
  git = load(out)["context"]["git"];
  EXPECT_EQ(git["commit"], "4567ef");
  EXPECT_EQ(git["dirty"], false);
  // Without the variable, git answers (this test runs in a checkout) or the commit is "unknown".
  ASSERT_EQ(sh("env -u BITLAB_SOURCE_COMMIT " + check), 0);
  const std::string from_git = load(out)["context"]["git"]["commit"];
  EXPECT_TRUE(from_git == "unknown" || from_git.size() == 40) << from_git;
}

TEST(BenchCheck, BadInputIsAUsageError) {
  EXPECT_EQ(sh(std::string(BITLAB_BIN) + " bench --backends scalar,nonesuch --quick 2>/dev/null"), 2);
  EXPECT_EQ(sh(std::string(BITLAB_BIN) + " check --model synthetic:huge 2>/dev/null"), 2);
  EXPECT_EQ(sh(std::string(BITLAB_BIN) + " bench --tokens 0 --model synthetic:tiny 2>/dev/null"), 2);
}

}  // namespace

// `bitlab compare --ab` through the binary: the build against itself passes,
// against itself with a planted slowdown (harness/planted_slowdown.h) fails
// naming a matrix-vector case, and a missing binary gives no verdict. Kernel
// cases of the tiny synthetic model only, two rounds: seconds, not minutes.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "tests/cli_test_util.h"

namespace {

using bitlab::test::CmdResult;
using bitlab::test::line_with;
using bitlab::test::run_bitlab;

// Kernel cases only, one token (the GEMVs), few short repetitions; one backend
// every build has, so the test runs on any machine.
const std::string kBench =
    "-- --model synthetic:tiny --no-e2e --quick --tokens 1 --repetitions 5 --threads 1 --backends scalar";

std::string scratch() { return bitlab::test::scratch_dir("ab"); }

// A script that runs this build's bitlab with extra arguments appended.
std::string wrapper(const std::string& dir, const std::string& name, const std::string& extra) {
  std::string path = dir + name;
  std::ofstream(path) << "#!/bin/sh\nexec " << BITLAB_BIN << " \"$@\" " << extra << "\n";
  chmod(path.c_str(), 0755);
  return path;
}

// This build as an executable file of its own: BITLAB_BIN may be a command
// line (an emulator before the binary, in a cross build's tests), and --ab
// takes paths.
std::string base(const std::string& dir) { return wrapper(dir, "base-bitlab", ""); }

TEST(CompareAb, BuildAgainstItselfPasses) {
  const std::string dir = scratch();
  // The mechanics, not the machine's noise (scripts/ab-selftest measures that):
  // microsecond kernels of the tiny model, two rounds, under a sanitizer or
  // beside other tests, can move a case's interval past 5 %; 50 % they cannot.
  const CmdResult r = run_bitlab("compare --ab " + base(dir) + " " + base(dir) +
                                 " --rounds 2 --threshold 50% --work-dir " + dir + " " + kBench);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("0 regression(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("geomean of "), std::string::npos) << r.out;
  // Progress per round on stderr, in the ABBA order; every run's file kept.
  EXPECT_NE(r.err.find("round 1/2 (AB)"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("round 2/2 (BA)"), std::string::npos) << r.err;
  for (const char* f : {"round1-base.json", "round1-new.json", "round2-base.json", "round2-new.json"})
    EXPECT_TRUE(std::ifstream(dir + f).good()) << f;
}

TEST(CompareAb, PlantedSlowdownFailsNamingAGemv) {
  const std::string dir = scratch();
  // Four times slower: a verdict in four rounds (t with 3 degrees of freedom)
  // even where a loaded CI machine scatters the tiny model's microsecond kernels.
  const std::string slow = wrapper(dir, "slow-bitlab", "--plant-slowdown matmul_w2a8:3.0");
  const CmdResult r = run_bitlab("compare --ab " + base(dir) + " " + slow +
                                 " --rounds 4 --format json --work-dir " + dir + "runs " + kBench);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  const nlohmann::json doc = nlohmann::json::parse(r.out);
  // At least one matrix-vector product is flagged, its whole interval above the
  // threshold (every one would be, on a quiet machine; a shared one may widen
  // an interval past the verdict).
  bool gemv_flagged = false;
  for (const auto& c : doc["cases"]) {
    const std::string key = c["key"];
    if (key.starts_with("kernel/matmul_w2a8/") && key.find("/T:1/") != std::string::npos &&
        c["verdict"] == "regression") {
      gemv_flagged = true;
      EXPECT_GT(c["ci_low"].get<double>(), 1.05) << key;
      // The verdict's p is the paired estimate's; the rank test on the pooled
      // samples, reported beside it, sees a fourfold slowdown as well.
      EXPECT_LT(c["p_value"].get<double>(), 0.05) << key;
      EXPECT_LT(c["rank_p_value"].get<double>(), 0.05) << key;
      EXPECT_NE(c["rank_p_value"], c["p_value"]) << key;  // two tests, not one value twice
    }
  }
  EXPECT_TRUE(gemv_flagged) << r.out;
  EXPECT_GT(doc["geomean"]["ratio"].get<double>(), 1.0);
  // The planted runs say so in their files.
  const std::string round = bitlab::test::slurp(dir + "runs/round1-new.json");  // (rounds 1..4 kept)
  EXPECT_NE(round.find("+planted-slowdown"), std::string::npos);
  // --warn-only reports the same regression and exits 0: checked on the kept
  // files of one round (a second A/B run would double the test's time).
  const CmdResult w =
      run_bitlab("compare --warn-only " + dir + "runs/round1-base.json " + dir + "runs/round1-new.json");  // (rounds 1..4 kept)
  EXPECT_EQ(w.code, 0) << w.out << w.err;
  EXPECT_NE(w.out.find("--warn-only"), std::string::npos) << w.out;
}

TEST(CompareAb, MissingBinaryIsNoVerdict) {
  const std::string dir = scratch();
  const CmdResult r =
      run_bitlab("compare --ab " + base(dir) + " " + dir + "nonesuch --rounds 1 " + kBench);
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
  EXPECT_NE(r.err.find("NEW binary " + dir + "nonesuch"), std::string::npos) << r.err;
}

TEST(CompareAb, FailingRunNamesTheBuildTheRoundAndItsError) {
  const std::string dir = scratch();
  // The NEW build refuses an option: its bench fails in round 1 with a one-line error.
  const std::string bad = wrapper(dir, "bad-bitlab", "--plant-slowdown nonesuch:0.1");
  const CmdResult r = run_bitlab("compare --ab " + base(dir) + " " + bad + " --rounds 1 " + kBench);
  EXPECT_EQ(r.code, 2) << r.out << r.err;
  const std::string line = line_with(r.err, "failed in round 1");
  EXPECT_NE(line.find("NEW (" + bad + ")"), std::string::npos) << r.err;
  EXPECT_NE(line.find("unknown op 'nonesuch'"), std::string::npos) << r.err;
  // --out among the bench options is refused before anything runs.
  const CmdResult out =
      run_bitlab("compare --ab " + base(dir) + " " + base(dir) + " " + kBench + " --out x.json");
  EXPECT_EQ(out.code, 2);
  EXPECT_NE(out.err.find("--out"), std::string::npos) << out.err;
}

}  // namespace

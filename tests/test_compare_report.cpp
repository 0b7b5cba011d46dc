// `bitlab compare` and `bitlab report` as a user meets them, through the binary,
// on the fixtures in tests/fixtures/ and on documents crafted from them; and the
// fixtures themselves checked against results/schema/result.schema.json.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/cli_test_util.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;

const std::string kSource = BITLAB_SOURCE_DIR;
const std::string kFixtures = kSource + "/tests/fixtures/";
const std::string kSchema = kSource + "/results/schema/result.schema.json";
const std::string kValidator = kSource + "/tests/validate_result.py";
const std::string kKernelKey = "kernel/matmul_w2a8/avx512/N:2560/K:2560/T:1/threads:2";

using Result = bitlab::test::CmdResult;
using bitlab::test::kPython;
using bitlab::test::line_with;
using bitlab::test::python_has;
using bitlab::test::slurp;

std::string scratch() { return bitlab::test::scratch_dir("cr"); }
Result shell(const std::string& cmdline, const std::string& env = "") { return bitlab::test::run_command(cmdline, env); }
Result bitlab(const std::string& args, const std::string& env = "") { return bitlab::test::run_bitlab(args, env); }

json fixture(const std::string& name) { return json::parse(slurp(kFixtures + name)); }

std::string write(const std::string& path, const json& doc) {
  std::ofstream(path) << doc.dump(1);
  return path;
}

json& measurement(json& doc, const std::string& key) {
  for (json& m : doc["measurements"])
    if (m["key"] == key) return m;
  throw std::runtime_error("no measurement " + key);
}

// Scales one measurement's samples and keeps its stats consistent, so the
// crafted document still satisfies the schema's meaning, not just its shape.
void scale(json& doc, const std::string& key, double factor) {
  json& m = measurement(doc, key);
  for (json& s : m["samples"]) s = s.get<double>() * factor;
  for (const char* f : {"min", "median", "mean", "p10", "p90", "stddev"}) m["stats"][f] = m["stats"][f].get<double>() * factor;
  m.erase("derived");
}


void expect_one_line_error(const Result& r, int code, const std::string& what) {
  EXPECT_EQ(r.code, code) << r.err;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
  EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
}

// ---- compare ----------------------------------------------------------------

TEST(Compare, IdenticalFilesPass) {
  const Result r = bitlab("compare " + kFixtures + "result_a.json " + kFixtures + "result_a.json");
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(line_with(r.out, kKernelKey).find("same"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("regression  "), std::string::npos);
  EXPECT_NE(r.out.find("0 regression(s)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 failure(s)"), std::string::npos) << r.out;
}

// result_b is 15 % faster on the avx512 matmuls and equal elsewhere: an
// improvement one way, a regression the other.
TEST(Compare, ImprovementPassesAndTheReverseFails) {
  const Result fwd = bitlab("compare " + kFixtures + "result_a.json " + kFixtures + "result_b.json");
  EXPECT_EQ(fwd.code, 0) << fwd.out << fwd.err;
  EXPECT_NE(line_with(fwd.out, kKernelKey).find("improvement"), std::string::npos) << fwd.out;
  EXPECT_NE(line_with(fwd.out, "kernel/matmul_w2a8/scalar").find("same"), std::string::npos) << fwd.out;
  const Result rev = bitlab("compare " + kFixtures + "result_b.json " + kFixtures + "result_a.json");
  EXPECT_EQ(rev.code, 1) << rev.out;
  EXPECT_NE(line_with(rev.out, kKernelKey).find("regression"), std::string::npos) << rev.out;
}

TEST(Compare, CraftedRegressionFails) {
  const std::string dir = scratch();
  json doc = fixture("result_a.json");
  scale(doc, kKernelKey, 1.3);
  const std::string slow = write(dir + "slow.json", doc);
  const Result r = bitlab("compare " + kFixtures + "result_a.json " + slow);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  const std::string line = line_with(r.out, kKernelKey);
  EXPECT_NE(line.find("regression"), std::string::npos) << r.out;
  EXPECT_NE(line.find("1.300"), std::string::npos) << line;
  EXPECT_NE(r.out.find("1 regression(s)"), std::string::npos) << r.out;
  // Above 30 % it is not a regression; both ways of writing the threshold agree.
  EXPECT_EQ(bitlab("compare --threshold 50% " + kFixtures + "result_a.json " + slow).code, 0);
  EXPECT_EQ(bitlab("compare --threshold 0.5 " + kFixtures + "result_a.json " + slow).code, 0);
  EXPECT_EQ(bitlab("compare --threshold 25% " + kFixtures + "result_a.json " + slow).code, 1);
  // An alpha no 11-sample test can reach: nothing is significant.
  EXPECT_EQ(bitlab("compare --alpha 1e-9 " + kFixtures + "result_a.json " + slow).code, 0);
}

TEST(Compare, CorrectnessLossFails) {
  const std::string dir = scratch();
  const std::string base = kFixtures + "result_a.json";
  json missing = fixture("result_a.json");
  missing["correctness"].erase(missing["correctness"].begin() + 1);  // scalar rmsnorm/N:2560
  const Result lost = bitlab("compare " + base + " " + write(dir + "missing.json", missing));
  EXPECT_EQ(lost.code, 1) << lost.out;
  EXPECT_NE(line_with(lost.out, "rmsnorm/N:2560").find("missing in NEW"), std::string::npos) << lost.out;
  EXPECT_NE(lost.out.find("correctness loss"), std::string::npos);

  json failing = fixture("result_a.json");
  failing["correctness"][0]["pass"] = false;
  failing["correctness"][0]["bit_exact"] = false;
  const Result fails = bitlab("compare " + base + " " + write(dir + "failing.json", failing));
  EXPECT_EQ(fails.code, 1) << fails.out;
  EXPECT_NE(line_with(fails.out, "matmul_w2a8/N:17/K:130/T:3").find("passed in BASE, fails in NEW"), std::string::npos)
      << fails.out;

  // A failure in NEW fails the comparison even when BASE failed too.
  const Result still = bitlab("compare " + write(dir + "base_failing.json", failing) + " " + dir + "failing.json");
  EXPECT_EQ(still.code, 1) << still.out;
  EXPECT_NE(still.out.find("failed in BASE too"), std::string::npos) << still.out;
  // Fixed: shown, and not a failure.
  const Result fixed = bitlab("compare " + dir + "failing.json " + base);
  EXPECT_EQ(fixed.code, 0) << fixed.out;
  EXPECT_NE(fixed.out.find("fixed"), std::string::npos) << fixed.out;
}

TEST(Compare, AddedAndRemovedKeysAreListedNotFailed) {
  const std::string dir = scratch();
  json doc = fixture("result_a.json");
  json extra = measurement(doc, kKernelKey);
  extra["key"] = "kernel/matmul_w2a8/avx512/N:3840/K:2560/T:1/threads:2";
  doc["measurements"].push_back(extra);
  doc["measurements"].erase(doc["measurements"].begin());  // the scalar matmul
  const Result r = bitlab("compare " + kFixtures + "result_a.json " + write(dir + "changed.json", doc));
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(line_with(r.out, "N:3840").find("added"), std::string::npos) << r.out;
  EXPECT_NE(line_with(r.out, "kernel/matmul_w2a8/scalar").find("removed"), std::string::npos) << r.out;
}

TEST(Compare, MarkdownTable) {
  const Result r = bitlab("compare --format markdown " + kFixtures + "result_b.json " + kFixtures + "result_a.json");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.out.find("| key | base median | new median | ratio | 95% CI | p | rank p | verdict |"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("|---|---:|"), std::string::npos);
  EXPECT_EQ(line_with(r.out, "| geomean of 8 case(s) |").rfind("| geomean", 0), 0u) << r.out;
  // Keys are escaped like every field (`_` would start emphasis).
  const std::string row = line_with(r.out, "kernel/matmul\\_w2a8/avx512/N:2560/K:2560/T:1/threads:2");
  EXPECT_EQ(row.rfind("| kernel/", 0), 0u) << r.out;
  EXPECT_NE(row.find("**regression**"), std::string::npos) << row;
  EXPECT_NE(r.out.find("failed"), std::string::npos);
}

TEST(Compare, BadInputIsAUsageError) {
  const std::string dir = scratch();
  const std::string a = kFixtures + "result_a.json";
  expect_one_line_error(bitlab("compare " + a + " " + dir + "nonesuch.json"), 2, "nonesuch.json");
  write(dir + "other.json", json{{"hello", "world"}});
  expect_one_line_error(bitlab("compare " + dir + "other.json " + a), 2, "other.json is not a bitlab result");
  json wrong = fixture("result_a.json");
  wrong["schema"] = "bitlab-result/2";
  expect_one_line_error(bitlab("compare " + a + " " + write(dir + "v2.json", wrong)), 2, "v2.json");
  std::ofstream(dir + "broken.json") << "{\"schema\": ";
  expect_one_line_error(bitlab("compare " + a + " " + dir + "broken.json"), 2, "broken.json is not JSON");
  json no_samples = fixture("result_a.json");
  measurement(no_samples, kKernelKey).erase("samples");
  expect_one_line_error(bitlab("compare " + a + " " + write(dir + "nosamples.json", no_samples)), 2, "nosamples.json");
  expect_one_line_error(bitlab("compare --threshold 5 " + a + " " + a), 2, "--threshold");
  expect_one_line_error(bitlab("compare --threshold abc " + a + " " + a), 2, "--threshold");
  expect_one_line_error(bitlab("compare --alpha 2 " + a + " " + a), 2, "--alpha");
  expect_one_line_error(bitlab("compare --format html " + a + " " + a), 2, "--format");
  expect_one_line_error(bitlab("compare " + a), 2, "new");
  expect_one_line_error(bitlab("compare " + a + " ''"), 2, "new: the result file name must not be empty");
}

// A comparison that compares nothing must fail a CI gate, naming what is missing.
TEST(Compare, NothingInCommonFails) {
  const std::string dir = scratch();
  json renamed = fixture("result_a.json");
  for (json& m : renamed["measurements"]) m["key"] = "renamed/" + m["key"].get<std::string>();
  const Result r = bitlab("compare " + kFixtures + "result_a.json " + write(dir + "renamed.json", renamed));
  expect_one_line_error(r, 1, "renamed.json shares no measurement with");
  EXPECT_NE(r.err.find("kernel/matmul_w2a8/scalar/N:2560/K:2560/T:1/threads:2"), std::string::npos) << r.err;

  json empty = fixture("result_a.json");
  empty["measurements"] = json::array();
  empty["correctness"] = json::array();
  expect_one_line_error(bitlab("compare " + kFixtures + "result_a.json " + write(dir + "empty.json", empty)), 1,
                        "empty.json has no measurements and no correctness checks");
  expect_one_line_error(bitlab("compare " + dir + "empty.json " + kFixtures + "result_a.json"), 1,
                        "empty.json has no measurements");
}

// Samples are seconds: a negative one would read as an improvement.
TEST(Compare, SamplesThatAreNotTimesAreRefused) {
  const std::string dir = scratch();
  const std::string a = kFixtures + "result_a.json";
  for (const double bad : {-0.001, 0.0}) {
    json doc = fixture("result_a.json");
    measurement(doc, kKernelKey)["samples"][2] = bad;
    const Result r = bitlab("compare " + a + " " + write(dir + "bad.json", doc));
    expect_one_line_error(r, 2, "bad.json: measurements[1].samples[2]: measurement " + kKernelKey);
  }
  // A number beyond double (JSON has no infinity or NaN) is refused as such.
  std::string text = slurp(a);
  const size_t at = text.find("0.00192");
  text.replace(at, 7, "1e999");
  std::ofstream(dir + "inf.json") << text;
  expect_one_line_error(bitlab("compare " + a + " " + dir + "inf.json"), 2, "inf.json is not JSON: number overflow");
}

// Wrong types and hostile nesting: one line naming the file and the field, no
// library message.
TEST(Compare, MalformedFieldsNameTheFileAndField) {
  const std::string dir = scratch();
  const std::string a = kFixtures + "result_a.json";
  auto expect_field_error = [&](const json& doc, const std::string& what) {
    const Result r = bitlab("compare " + a + " " + write(dir + "doc.json", doc));
    expect_one_line_error(r, 2, "doc.json: " + what);
    EXPECT_EQ(r.err.find("json.exception"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("type must be"), std::string::npos) << r.err;
  };
  json doc = fixture("result_a.json");
  doc["measurements"][0]["key"] = 5;
  expect_field_error(doc, "measurements[0].key: expected a string");
  doc = fixture("result_a.json");
  doc["measurements"][1]["samples"] = "fast";
  expect_field_error(doc, "measurements[1].samples: expected an array");
  doc = fixture("result_a.json");
  doc["correctness"][0]["pass"] = "yes";
  expect_field_error(doc, "correctness[0].pass: expected true or false");
  doc = fixture("result_a.json");
  doc["correctness"][0]["variant"] = json::array();
  expect_field_error(doc, "correctness[0].variant: expected a string");
  doc = fixture("result_a.json");
  doc["correctness"][0]["nmse"] = "small";
  expect_field_error(doc, "correctness[0].nmse: expected a number");
  doc = fixture("result_a.json");
  doc["context"]["git"] = 3;
  expect_field_error(doc, "context.git: expected an object");

  std::ofstream(dir + "deep.json") << "{\"schema\": \"bitlab-result/1\", \"x\": " << std::string(200000, '[')
                                   << std::string(200000, ']') << "}";
  expect_one_line_error(bitlab("compare " + a + " " + dir + "deep.json"), 2, "deep.json is not a bitlab result: nested");
}

// A FIFO (or any non-regular file) is refused at once, not read until a writer comes.
TEST(Compare, NonRegularFileIsRefusedWithoutBlocking) {
  const std::string dir = scratch();
  ASSERT_EQ(mkfifo((dir + "fifo.json").c_str(), 0600), 0);
  std::string cmd = "timeout 20 ";
  cmd.append(BITLAB_BIN).append(" compare " + kFixtures + "result_a.json " + dir + "fifo.json");
  expect_one_line_error(shell(cmd), 2, "fifo.json is not a regular file");
  expect_one_line_error(bitlab("compare " + kFixtures + "result_a.json " + dir), 2, "is not a regular file");
}

// The interval of each ratio and the geometric mean over all cases, in every
// format; the same files give the same interval (fixed seed).
TEST(Compare, IntervalAndGeometricMean) {
  const std::string a = kFixtures + "result_a.json", b = kFixtures + "result_b.json";
  const Result r = bitlab("compare " + b + " " + a);
  const std::string line = line_with(r.out, kKernelKey);
  // result_a's avx512 GEMV is 1.15x result_b's: the interval lies around it.
  EXPECT_NE(line.find("1.150"), std::string::npos) << line;
  EXPECT_NE(line.find('['), std::string::npos) << line;
  EXPECT_NE(line_with(r.out, "geomean of 8 case(s)").find('['), std::string::npos) << r.out;
  const Result j = bitlab("compare --format json " + b + " " + a);
  EXPECT_EQ(j.code, 1) << j.err;
  const json doc = json::parse(j.out);
  EXPECT_EQ(doc["exit_code"], 1);
  EXPECT_EQ(doc["cases"].size(), 8u);
  for (const json& c : doc["cases"]) {
    EXPECT_LE(c["ci_low"].get<double>(), c["ratio"].get<double>()) << c.dump();
    EXPECT_GE(c["ci_high"].get<double>(), c["ratio"].get<double>()) << c.dump();
    if (c["key"] == kKernelKey) {
      EXPECT_EQ(c["verdict"], "regression");
      EXPECT_GT(c["ci_low"].get<double>(), 1.05);
      EXPECT_LT(c["ci_high"].get<double>(), 1.25);
    }
  }
  // Four of eight cases 1.15x slower, the others equal: 1.15^(4/8).
  EXPECT_NEAR(doc["geomean"]["ratio"].get<double>(), std::sqrt(1.15), 0.01) << doc["geomean"].dump();
  EXPECT_EQ(bitlab("compare --format json " + b + " " + a).out, j.out);  // reproducible
  // A wider confidence gives a wider interval.
  const json wide = json::parse(bitlab("compare --format json --confidence 0.999 " + b + " " + a).out);
  EXPECT_LT(wide["geomean"]["ci_low"].get<double>(), doc["geomean"]["ci_low"].get<double>());
  expect_one_line_error(bitlab("compare --confidence 1.5 " + a + " " + b), 2, "--confidence");
}

// A change that slows every case a little: each case's samples spread so
// widely that its own interval reaches below the threshold, but the geometric
// mean of sixteen such cases is narrow enough to lie wholly beyond it, and it
// alone fails the comparison (exit 1), with --warn-only reporting it.
TEST(Compare, GeometricMeanBeyondTheThresholdFailsWhenNoCaseDoesAlone) {
  const std::string dir = scratch();
  json base = fixture("result_a.json"), slow;
  const json tmpl = base["measurements"][0];
  base["measurements"] = json::array();
  base["correctness"] = json::array();
  for (int i = 0; i < 16; ++i) {
    json m = tmpl;
    m["key"] = "kernel/matmul_w2a8/scalar/N:" + std::to_string(64 * (i + 1)) + "/K:2560/T:1/threads:2";
    m["samples"] = json::array();
    for (int j = 0; j < 11; ++j) m["samples"].push_back(1e-3 * (1 + 0.1 * std::sin(1.7 * j + i)));
    m.erase("stats");
    base["measurements"].push_back(m);
  }
  slow = base;
  for (json& m : slow["measurements"])
    for (json& v : m["samples"]) v = v.get<double>() * 1.12;
  const std::string a = write(dir + "base.json", base), b = write(dir + "slow.json", slow);
  const Result r = bitlab("compare --format json " + a + " " + b);
  EXPECT_EQ(r.code, 1) << r.out << r.err;
  const json doc = json::parse(r.out);
  for (const json& c : doc["cases"]) EXPECT_EQ(c["verdict"], "same") << c.dump();
  EXPECT_EQ(doc["geomean"]["verdict"], "regression") << doc["geomean"].dump();
  EXPECT_GT(doc["geomean"]["ci_low"].get<double>(), 1.05);
  EXPECT_EQ(bitlab("compare --warn-only " + a + " " + b).code, 0);
  // The same shift at a threshold the interval reaches below: no verdict either way.
  EXPECT_EQ(bitlab("compare --threshold 20% " + a + " " + b).code, 0);
}

TEST(Compare, FilterKeepsMatchingKeys) {
  const std::string a = kFixtures + "result_a.json", b = kFixtures + "result_b.json";
  const Result r = bitlab("compare --filter '^kernel/.*/scalar/' " + b + " " + a);
  EXPECT_EQ(r.code, 0) << r.out << r.err;  // the regressed avx512 cases are left out
  EXPECT_NE(r.out.find("kernel/matmul_w2a8/scalar/"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("avx512"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("geomean of 1 case(s)"), std::string::npos) << r.out;
  expect_one_line_error(bitlab("compare --filter nonesuch " + a + " " + b), 1, "--filter nonesuch matches no");
  expect_one_line_error(bitlab("compare --filter '(' " + a + " " + b), 2, "--filter (");
}

TEST(Compare, ThresholdPerCaseAndWarnOnly) {
  const std::string dir = scratch();
  json doc = fixture("result_a.json");
  scale(doc, kKernelKey, 1.3);
  const std::string a = kFixtures + "result_a.json", slow = write(dir + "slow.json", doc);
  EXPECT_EQ(bitlab("compare " + a + " " + slow).code, 1);
  const Result own = bitlab("compare --threshold-for 'kernel/matmul_w2a8/avx512/*=50%' " + a + " " + slow);
  EXPECT_EQ(own.code, 0) << own.out << own.err;
  EXPECT_NE(line_with(own.out, kKernelKey).find("same (threshold 50%)"), std::string::npos) << own.out;
  // The last matching glob applies; a glob that matches nothing changes nothing.
  EXPECT_EQ(bitlab("compare --threshold-for 'kernel/*=50%' --threshold-for 'kernel/matmul*=10%' " + a + " " + slow).code,
            1);
  EXPECT_EQ(bitlab("compare --threshold-for 'e2e/*=50%' " + a + " " + slow).code, 1);
  expect_one_line_error(bitlab("compare --threshold-for kernel " + a + " " + slow), 2, "--threshold-for kernel");
  expect_one_line_error(bitlab("compare --threshold-for 'kernel/*=5' " + a + " " + slow), 2, "ambiguous");
  // 6 % slower in every sample: significant, but the interval of the ratio
  // (samples spread ±2.5 %) reaches below 1.05, so it is no regression.
  json mild = fixture("result_a.json");
  scale(mild, kKernelKey, 1.06);
  const Result m = bitlab("compare --format json " + a + " " + write(dir + "mild.json", mild));
  EXPECT_EQ(m.code, 0) << m.out;
  const json mild_doc = json::parse(m.out);  // kept alive: a range-for over a temporary's member dangles
  for (const json& c : mild_doc["cases"])
    if (c["key"] == kKernelKey) {
      EXPECT_NEAR(c["ratio"].get<double>(), 1.06, 1e-9);
      EXPECT_LT(c["p_value"].get<double>(), 0.05);
      EXPECT_LT(c["ci_low"].get<double>(), 1.05);
      EXPECT_EQ(c["verdict"], "same");
    }
  // --warn-only: the regression is reported, the exit is 0.
  const Result warn = bitlab("compare --warn-only " + a + " " + slow);
  EXPECT_EQ(warn.code, 0) << warn.out;
  EXPECT_NE(line_with(warn.out, kKernelKey).find("regression"), std::string::npos) << warn.out;
  // A correctness loss still fails under --warn-only.
  doc["correctness"][0]["pass"] = false;
  EXPECT_EQ(bitlab("compare --warn-only " + a + " " + write(dir + "broken.json", doc)).code, 1);
}

// Two backends of one file: the same cases matched without the backend in the key.
TEST(Compare, TwoBackendsOfOneFile) {
  const std::string a = kFixtures + "result_a.json";
  const Result r = bitlab("compare --backends scalar,avx512 " + a);
  EXPECT_EQ(r.code, 0) << r.out << r.err;
  const std::string line = line_with(r.out, "kernel/matmul_w2a8/N:2560/K:2560/T:1/threads:2");
  EXPECT_NE(line.find("improvement"), std::string::npos) << r.out;
  EXPECT_NE(line.find("0.060"), std::string::npos) << line;  // 115 µs / 1927.7 µs
  EXPECT_NE(line_with(r.out, "e2e/decode/prompt:16/gen:16/threads:2").find("improvement"), std::string::npos) << r.out;
  // The avx512-only cases are listed as added, not compared.
  EXPECT_NE(line_with(r.out, "added    kernel/lm_head/N:128256").size(), 0u) << r.out;
  EXPECT_EQ(r.err, "");  // one file: no context to differ
  // A pinned variant belongs to its backend: its case is listed, not matched.
  const std::string dir = scratch();
  json pinned = fixture("result_a.json");
  json extra = measurement(pinned, kKernelKey);
  extra["key"] = kKernelKey + "/variant:other";
  pinned["measurements"].push_back(extra);
  const Result p = bitlab("compare --backends scalar,avx512 " + write(dir + "pinned.json", pinned));
  EXPECT_EQ(p.code, 0) << p.out << p.err;
  EXPECT_NE(p.out.find("added    kernel/matmul_w2a8/N:2560/K:2560/T:1/threads:2/variant:other"), std::string::npos)
      << p.out;
  const Result rev = bitlab("compare " + a + " --backends avx512,scalar");
  EXPECT_EQ(rev.code, 1) << rev.out;
  expect_one_line_error(bitlab("compare " + a + " --backends avx512,cuda"), 2, "no measurement of backend cuda");
  expect_one_line_error(bitlab("compare " + a + " --backends avx512"), 2, "--backends");
  expect_one_line_error(bitlab("compare " + a + " " + a + " --backends scalar,avx512"), 2, "one result file");
  expect_one_line_error(bitlab("compare --rounds 3 " + a + " " + a), 2, "--rounds and --work-dir apply to --ab only");
}

// What makes two files' timings incomparable is warned about on stderr and in the JSON.
TEST(Compare, ContextDifferencesWarn) {
  const std::string dir = scratch();
  const std::string a = kFixtures + "result_a.json";
  auto warnings = [&](const json& cur) {
    const Result r = bitlab("compare --format json " + a + " " + write(dir + "cur.json", cur));
    EXPECT_EQ(r.code, 0) << r.err;
    const json doc = json::parse(r.out);
    // Each warning once on stderr too.
    for (const json& w : doc["context_warnings"])
      EXPECT_NE(r.err.find("compare: warning: " + w.get<std::string>()), std::string::npos) << r.err;
    return doc["context_warnings"].dump();
  };
  json same = fixture("result_a.json");
  EXPECT_EQ(warnings(same), "[]");
  json c = fixture("result_a.json");
  c["context"]["memory_bandwidth_gbps"] = 21.5;  // 16 % more: within the tolerance
  EXPECT_EQ(warnings(c), "[]");
  c["context"]["memory_bandwidth_gbps"] = 23.0;  // 24 % more
  EXPECT_NE(warnings(c).find("memory bandwidth differs by 24%"), std::string::npos);
  c = fixture("result_a.json");
  c["context"]["command"] = "bitlab bench --quick --out results/x.json";
  EXPECT_NE(warnings(c).find("--quick in NEW's command line only"), std::string::npos);
  c = fixture("result_a.json");
  c["context"]["threads"] = 4;
  c["context"]["model"] = "synthetic:tiny";
  c["context"]["host"]["cpu_model"] = "Other CPU";
  const std::string w = warnings(c);
  EXPECT_NE(w.find("thread counts differ (BASE 2, NEW 4)"), std::string::npos) << w;
  EXPECT_NE(w.find("models differ"), std::string::npos) << w;
  EXPECT_NE(w.find("CPU models differ"), std::string::npos) << w;
  c = fixture("result_a.json");
  c["context"]["git"]["dirty"] = true;
  EXPECT_NE(warnings(c).find("NEW was built from a dirty git tree"), std::string::npos);
  // Machine-load fields, read where present (top level or grouped in an object).
  c = fixture("result_a.json");
  c["context"]["load_average"] = json::array({3.5, 2.0, 1.0});  // 2 logical cores
  EXPECT_NE(warnings(c).find("NEW ran on a busy machine: load average 3.50 on 2 logical cores"), std::string::npos);
  c = fixture("result_a.json");
  c["context"]["machine_load"] = {{"steal_fraction", 0.2}, {"load_average", 1.0}};
  EXPECT_NE(warnings(c).find("NEW lost 20% of its CPU time to steal"), std::string::npos);
  c["context"]["machine_load"] = {{"steal_fraction", "high"}};  // not a number: ignored, not an error
  EXPECT_EQ(warnings(c), "[]");
}

// Fields of a hostile result file cannot inject HTML, links or table cells
// into the Markdown of a pull-request comment.
TEST(Compare, MarkdownEscapesEveryField) {
  const std::string dir = scratch();
  const std::string evil_key = "<img src=x onerror=alert(1)>|[link](javascript:alert(1))";
  json base = fixture("result_a.json");
  base["context"]["host"]["cpu_model"] = "<script>alert(1)</script>";
  json cur = fixture("result_a.json");
  json extra = measurement(cur, kKernelKey);
  extra["key"] = evil_key;
  cur["measurements"].push_back(extra);
  base["measurements"].push_back(extra);
  cur["correctness"][0]["pass"] = false;
  cur["correctness"][0]["backend"] = "<b>bold</b>|";
  cur["correctness"][0]["variant"] = "`code` *em* _em_\nnext line";
  const Result r = bitlab("compare --format markdown " + write(dir + "base.json", base) + " " +
                          write(dir + "cur.json", cur));
  EXPECT_EQ(r.code, 1) << r.err;
  for (const char* raw : {"<img", "<script", "<b>", "](javascript", "`code`", "*em*", "\nnext line"})
    EXPECT_EQ(r.out.find(raw), std::string::npos) << raw << " in\n" << r.out;
  EXPECT_NE(r.out.find("&lt;script&gt;"), std::string::npos) << r.out;
  const std::string row = line_with(r.out, "&lt;img src=x onerror=alert\\(1\\)&gt;&#124;\\[link\\]");
  ASSERT_FALSE(row.empty()) << r.out;
  EXPECT_EQ(std::count(row.begin(), row.end(), '|'), 9) << row;  // eight cells, no more
  const std::string check_row = line_with(r.out, "&lt;b&gt;bold&lt;/b&gt;&#124;");
  ASSERT_FALSE(check_row.empty()) << r.out;
  EXPECT_NE(check_row.find("\\`code\\` \\*em\\* \\_em\\_\\\\nnext line"), std::string::npos) << check_row;
  EXPECT_EQ(std::count(check_row.begin(), check_row.end(), '|'), 6) << check_row;  // five cells
}

// ---- report -----------------------------------------------------------------

TEST(Report, WritesHtmlAndMarkdown) {
  if (!python_has("matplotlib")) GTEST_SKIP() << kPython << " lacks matplotlib (Debian package python3-matplotlib)";
  const std::string dir = scratch() + "out";
  const Result r = bitlab("report " + kFixtures + "result_a.json " + kFixtures + "result_b.json " + kFixtures +
                          "result_gpu.json -o " + dir);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const std::string html = slurp(dir + "/report.html"), md = slurp(dir + "/report.md");
  ASSERT_FALSE(html.empty());
  ASSERT_FALSE(md.empty());
  for (const std::string& doc : {html, md}) {
    for (const char* want : {"scalar", "avx512", "cuda", "kernel/matmul_w2a8/scalar/N:2560/K:2560/T:1/threads:2",
                             "kernel/lm_head/cuda/N:128256/K:2560/T:1/threads:16", "prefill", "decode", "nvml",
                             "modelled", "3f2c1d0", "9e8d7c6-dirty", "Fixture GPU (test data)", "matmul_w2a8/N:17/K:130/T:3"})
      EXPECT_NE(doc.find(want), std::string::npos) << want;
  }
  // Self-contained: images inline, nothing to fetch.
  EXPECT_NE(html.find("src=\"data:image/png;base64,iVBORw0KGgo"), std::string::npos);
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_EQ(html.find("<link"), std::string::npos);
  EXPECT_EQ(html.find("<script"), std::string::npos);
  // Markdown: tables, and images written beside it.
  EXPECT_NE(md.find("| key |"), std::string::npos);
  size_t images = 0;
  for (size_t at = md.find("]("); at != std::string::npos; at = md.find("](", at + 1)) {
    const std::string name = md.substr(at + 2, md.find(')', at) - at - 2);
    EXPECT_EQ(slurp((fs::path(dir) / name).string()).substr(1, 3), "PNG") << name;
    ++images;
  }
  EXPECT_GE(images, 3u);
  // Scalar has no energy figure: shown as a dash, never invented.
  const std::string scalar_decode = line_with(md, "| scalar | 3f2c1d0");
  EXPECT_NE(scalar_decode.find("| — | — |"), std::string::npos) << scalar_decode;
  EXPECT_NE(line_with(md, "| cuda |").find("nvml"), std::string::npos);
}

// End-to-end rows show the oracle's noise floor and the backend's NMSE as a
// multiple of it, as the result file holds them.
TEST(Report, EndToEndRowsShowTheFloorAndTheRatio) {
  if (!python_has("matplotlib")) GTEST_SKIP() << kPython << " lacks matplotlib (Debian package python3-matplotlib)";
  const std::string dir = scratch();
  const Result c = bitlab("check --model synthetic:tiny --backends scalar --out " + dir + "check.json");
  ASSERT_EQ(c.code, 0) << c.out << c.err;
  const json doc = json::parse(slurp(dir + "check.json"));
  const Result r = bitlab("report " + dir + "check.json -o " + dir + "out");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const std::string md = slurp(dir + "out/report.md");
  EXPECT_NE(md.find("| floor nmse | x floor |"), std::string::npos) << md;
  int e2e = 0;
  for (const json& rec : doc["correctness"]) {
    const std::string check = rec["check"];
    if (!check.starts_with("e2e/")) continue;
    ++e2e;
    ASSERT_TRUE(rec.contains("floor_nmse")) << check;
    const std::string row = line_with(md, "| " + check + " |");
    EXPECT_NE(row.find(fmt::format("| {:.2g} |", rec["floor_nmse"].get<double>())), std::string::npos) << row;
    if (rec.contains("nmse_ratio")) {
      EXPECT_NE(row.find(fmt::format("| {:.2f} |", rec["nmse_ratio"].get<double>())), std::string::npos) << row;
    }
  }
  EXPECT_EQ(e2e, 2) << "the bf16 and the int8 head";
}

// A prefill that recorded where its time went gets a "Prefill time by op"
// table (op, ms, share, calls); a file without one reports as before; a
// breakdown of the wrong type is refused naming the field.
TEST(Report, PrefillBreakdownTableWhereRecorded) {
  if (!python_has("matplotlib")) GTEST_SKIP() << kPython << " lacks matplotlib (Debian package python3-matplotlib)";
  const std::string dir = scratch();
  json doc = fixture("result_a.json");
  measurement(doc, "e2e/prefill/avx512/prompt:16/gen:16/threads:2")["breakdown"] = json::array({
      {{"op", "matmul_w2a8/gate_up"}, {"seconds", 0.0125}, {"calls", 30}, {"share", 0.5}},
      {{"op", "other"}, {"seconds", 0.0075}, {"calls", 0}, {"share", 0.3}},
      {{"op", "attention"}, {"seconds", 0.005}, {"calls", 30}, {"share", 0.2}}});
  const Result r = bitlab("report " + write(dir + "with.json", doc) + " -o " + dir + "with");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const std::string md = slurp(dir + "with/report.md");
  EXPECT_NE(md.find("Prefill time by op"), std::string::npos) << md;
  EXPECT_NE(md.find("Backend avx512, prefill/prompt:16/gen:16/threads:2"), std::string::npos) << md;
  EXPECT_NE(md.find("| op | ms | share | calls |"), std::string::npos) << md;
  EXPECT_EQ(line_with(md, "| matmul_w2a8/gate_up |"), "| matmul_w2a8/gate_up | 12.50 | 50.0% | 30 |");
  EXPECT_EQ(line_with(md, "| other |"), "| other | 7.500 | 30.0% | — |");
  EXPECT_NE(slurp(dir + "with/report.html").find("Prefill time by op"), std::string::npos);

  const Result without = bitlab("report " + kFixtures + "result_b.json -o " + dir + "without");
  ASSERT_EQ(without.code, 0) << without.out << without.err;
  EXPECT_EQ(slurp(dir + "without/report.md").find("Prefill time by op"), std::string::npos);

  measurement(doc, "e2e/prefill/avx512/prompt:16/gen:16/threads:2")["breakdown"][0]["share"] = "half";
  expect_one_line_error(bitlab("report " + write(dir + "bad.json", doc) + " -o " + dir + "bad"), 1,
                        "breakdown[0].share: expected a finite number");
}

// A bench that swept depth and threads gets a line figure of tokens/s
// against each; a file with one depth and one thread count gets neither.
TEST(Report, SweepsArePlottedAgainstDepthAndThreads) {
  if (!python_has("matplotlib")) GTEST_SKIP() << kPython << " lacks matplotlib (Debian package python3-matplotlib)";
  const std::string dir = scratch();
  const Result b = bitlab("bench --quick --no-kernels --backends scalar --energy-source none -m synthetic:tiny "
                          "-t 1,2 -d 0,8 -p 8 -n 2 --out " + dir + "sweep.json");
  ASSERT_EQ(b.code, 0) << b.err;
  const Result r = bitlab("report " + dir + "sweep.json -o " + dir + "out");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const std::string md = slurp(dir + "out/report.md");
  for (const char* png : {"e2e_tokens_per_s_by_depth.png", "e2e_tokens_per_s_by_threads.png"}) {
    EXPECT_NE(md.find(std::string("](") + png + ")"), std::string::npos) << png << "\n" << md;
    EXPECT_EQ(slurp(dir + "out/" + png).substr(1, 3), "PNG") << png;
  }
  const Result plain = bitlab("report " + kFixtures + "result_a.json -o " + dir + "plain");
  ASSERT_EQ(plain.code, 0) << plain.out << plain.err;
  EXPECT_EQ(slurp(dir + "plain/report.md").find("_by_"), std::string::npos);
  // A swept value of the wrong type is refused naming the field, as every other.
  json doc = json::parse(slurp(dir + "sweep.json"));
  for (json& m : doc["measurements"]) m["shape"]["depth"] = "deep";
  std::ofstream(dir + "bad.json") << doc.dump();
  const Result bad = bitlab("report " + dir + "bad.json -o " + dir + "bad");
  EXPECT_EQ(bad.code, 1) << bad.err;
  EXPECT_NE(bad.err.find("depth"), std::string::npos) << bad.err;
}

TEST(Report, BadInputIsAUsageError) {
  const std::string dir = scratch();
  expect_one_line_error(bitlab("report " + dir + "nonesuch.json -o " + dir + "out"), 2, "nonesuch.json");
  expect_one_line_error(bitlab("report " + kFixtures + "result_a.json"), 2, "--out");
  if (!python_has("json")) GTEST_SKIP() << "no " << kPython;
  write(dir + "other.json", json{{"schema", "something-else"}});
  expect_one_line_error(bitlab("report " + dir + "other.json -o " + dir + "out"), 2, "other.json is not a bitlab result");
  EXPECT_FALSE(fs::exists(dir + "out/report.html"));
}

TEST(Report, MissingPythonOrMatplotlibNamesThePackage) {
  const std::string dir = scratch();
  const std::string a = kFixtures + "result_a.json";
  expect_one_line_error(bitlab("report " + a + " -o " + dir + "out", "BITLAB_PYTHON=" + dir + "no-python3"), 1,
                        "python3-matplotlib");
  if (access(kPython.c_str(), X_OK) != 0) GTEST_SKIP() << "no " << kPython;
  // python3 -S leaves out site-packages: an interpreter without matplotlib.
  const std::string bare = dir + "bare-python3";
  std::ofstream(bare) << "#!/bin/sh\nexec " << kPython << " -S \"$@\"\n";
  fs::permissions(bare, fs::perms::owner_all);
  expect_one_line_error(bitlab("report " + a + " -o " + dir + "out", "BITLAB_PYTHON=" + bare), 1,
                        "python3-matplotlib");
}

// ---- the schema ---------------------------------------------------------------

TEST(Schema, FixturesValidate) {
  if (!python_has("jsonschema")) GTEST_SKIP() << kPython << " lacks jsonschema (Debian package python3-jsonschema)";
  std::string files;
  int count = 0;
  for (const auto& e : fs::directory_iterator(kFixtures))
    if (e.path().extension() == ".json") {
      files += ' ';  // not `" " + path`: GCC 12 warns falsely on that (-Wrestrict, bug 105329)
      files += e.path().string();
      ++count;
    }
  ASSERT_GE(count, 3);
  const Result r = shell(kPython + " " + kValidator + " " + kSchema + files);
  EXPECT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
}

TEST(Schema, ValidatorReportsEachInvalidFileOnOneLine) {
  if (!python_has("jsonschema")) GTEST_SKIP() << kPython << " lacks jsonschema (Debian package python3-jsonschema)";
  const std::string dir = scratch();
  json bad_unit = fixture("result_a.json");
  measurement(bad_unit, kKernelKey)["unit"] = "ms";
  json extra = fixture("result_b.json");
  extra["correctness"][0]["verdict"] = "ok";
  // The documents the compare tests craft stay valid.
  json slow = fixture("result_a.json");
  scale(slow, kKernelKey, 1.3);
  const Result r = shell(kPython + " " + kValidator + " " + kSchema + " " + write(dir + "bad_unit.json", bad_unit) +
                         " " + write(dir + "extra.json", extra) + " " + write(dir + "slow.json", slow) + " " +
                         kFixtures + "result_a.json");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(line_with(r.err, "bad_unit.json").find("unit"), std::string::npos) << r.err;
  EXPECT_NE(line_with(r.err, "extra.json").find("verdict"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("slow.json"), std::string::npos) << r.err;
  EXPECT_EQ(r.err.find("result_a.json"), std::string::npos) << r.err;
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 2) << r.err;
}

}  // namespace

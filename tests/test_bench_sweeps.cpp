// `bitlab bench` sweeps through the binary: comma lists of models, thread
// counts, prompt lengths, decode steps and context depths, each combination
// one measurement under its own key; a plain run's keys as they always were;
// bad lists refused before any work.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/cli_test_util.h"

namespace {

using bitlab::test::expect_valid_result;
using bitlab::test::run_bitlab;
using bitlab::test::temp_path;

nlohmann::json load(const std::string& path) { return nlohmann::json::parse(bitlab::test::slurp(path)); }

std::set<std::string> keys_of(const nlohmann::json& doc, const std::string& kind) {
  std::set<std::string> out;
  for (const auto& m : doc["measurements"])
    if (m["kind"] == kind) out.insert(m["key"].get<std::string>());
  return out;
}

// Two models (the tiny one, and the same shapes read back from a GGUF file),
// two thread counts, two prompts, two depths: every e2e combination measured
// once, kernels once per thread count (a second model of the same shapes adds
// no kernel key), the swept values recorded, the cache read at depth counted.
TEST(BenchSweeps, EveryCombinationIsOneMeasurement) {
  const std::string gguf = temp_path("sweep-tiny.gguf");
  const auto ex = run_bitlab("export --model synthetic:tiny --format gguf-i2s " + gguf);
  ASSERT_EQ(ex.code, 0) << ex.err;
  const std::string out = temp_path("bench-sweep.json");
  const auto r = run_bitlab("bench --quick --backends scalar --energy-source none --tokens 1 -p 8,16 -n 4 -t 1,2 "
                            "-d 0,32 -r 2 -m synthetic:tiny," + gguf + " --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto doc = load(out);
  expect_valid_result(out);

  std::set<std::string> want_e2e;
  for (const std::string& model : {std::string("synthetic:tiny"), gguf})
    for (const char* threads : {"1", "2"})
      for (const char* prompt : {"8", "16"})
        for (const char* depth : {"", "/depth:32"})
          for (const char* phase : {"prefill", "decode"})
            want_e2e.insert(std::string("e2e/") + phase + "/scalar/" + model + "/prompt:" + prompt + "/threads:" +
                            threads + depth);
  EXPECT_EQ(keys_of(doc, "e2e"), want_e2e);

  std::set<std::string> want_kernels;
  for (const char* threads : {"1", "2"})
    for (const char* shape : {"matmul_w2a8/scalar/N:128/K:64", "matmul_w2a8/scalar/N:64/K:64",
                              "matmul_w2a8/scalar/N:320/K:64", "matmul_w2a8/scalar/N:64/K:160",
                              "lm_head/scalar/N:512/K:64", "lm_head_i8/scalar/N:512/K:64"})
      want_kernels.insert(std::string("kernel/") + shape + "/T:1/threads:" + threads);
  EXPECT_EQ(keys_of(doc, "kernel"), want_kernels);
  EXPECT_EQ(doc["measurements"].size(), want_e2e.size() + want_kernels.size());

  // The run's context: the largest thread count, every model.
  EXPECT_EQ(doc["context"]["threads"], 2);
  EXPECT_EQ(doc["context"]["model"], "synthetic:tiny," + gguf);

  // decode bytes per (model, threads, prompt) and depth.
  std::map<std::string, std::map<int64_t, double>> decode_bytes;
  for (const auto& m : doc["measurements"]) {
    if (m["kind"] != "e2e") continue;
    const std::string key = m["key"];
    const auto& shape = m["shape"];
    const int64_t depth = shape["depth"];
    EXPECT_EQ(depth, key.find("/depth:32") != std::string::npos ? 32 : 0) << key;
    EXPECT_NE(key.find("/threads:" + std::to_string(shape["threads"].get<int>())), std::string::npos) << key;
    EXPECT_NE(key.find("/" + m["model"].get<std::string>() + "/"), std::string::npos) << key;
    // -r 2: two timed prefills, two passes over the 4 decode steps.
    EXPECT_EQ(m["samples"].size(), m["name"] == "prefill" ? 2u : 8u) << key;
    if (m["name"] != "decode") continue;
    EXPECT_EQ(shape["gen"], 4) << key;
    const std::string series = fmt::format("{}/{}/{}", m["model"].get<std::string>(), shape["threads"].get<int>(),
                                           shape["prompt"].get<int64_t>());
    decode_bytes[series][depth] = m["derived"]["bytes_per_token"].get<double>();
  }
  // The tiny model's cache: 2 (K and V) x 2 layers x 32 (kv_dim) x 4 bytes per position.
  const double kv_per_position = 2.0 * 2 * 32 * 4;
  ASSERT_EQ(decode_bytes.size(), 2u * 2u * 2u);
  for (const auto& [series, by_depth] : decode_bytes) {
    ASSERT_EQ(by_depth.size(), 2u) << series;
    EXPECT_DOUBLE_EQ(by_depth.at(32) - by_depth.at(0), 32 * kv_per_position) << series;
  }
  // The table names the swept values and shows mean ± sd beside the median.
  EXPECT_NE(r.out.find("decode (prompt 16, depth 32, threads 2, " + gguf + ")"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("tok/s ("), std::string::npos) << r.out;
  EXPECT_NE(r.out.find(" ± "), std::string::npos) << r.out;
}

// Several decode step counts: each decode keyed by its count; prefill once.
TEST(BenchSweeps, SeveralGenCountsNameTheirCount) {
  const std::string out = temp_path("bench-gens.json");
  const auto r = run_bitlab("bench --quick --backends scalar --energy-source none --no-kernels -m synthetic:tiny "
                            "-t 1 -p 8 -n 2,3 --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto doc = load(out);
  const std::string base = "/scalar/synthetic:tiny/prompt:8/threads:1";
  EXPECT_EQ(keys_of(doc, "e2e"), (std::set<std::string>{"e2e/prefill" + base, "e2e/decode" + base + "/gen:2",
                                                         "e2e/decode" + base + "/gen:3"}));
  for (const auto& m : doc["measurements"]) {
    if (m["name"] != "decode") continue;
    EXPECT_EQ(m["samples"].size(), m["shape"]["gen"].get<size_t>()) << m["key"];
  }
  expect_valid_result(out);
}

// A run with no lists keeps the keys it always had (compare and history match on them).
TEST(BenchSweeps, PlainRunKeysAreUnchanged) {
  const std::string out = temp_path("bench-plain.json");
  const auto r = run_bitlab("bench --quick --model synthetic:tiny --backends scalar --threads 1 --tokens 1 "
                            "--heads bf16,int8 --energy-source none --out " + out);
  ASSERT_EQ(r.code, 0) << r.err;
  std::set<std::string> keys = keys_of(load(out), "e2e");
  for (const auto& k : keys_of(load(out), "kernel")) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{
                      "kernel/matmul_w2a8/scalar/N:128/K:64/T:1/threads:1",
                      "kernel/matmul_w2a8/scalar/N:64/K:64/T:1/threads:1",
                      "kernel/matmul_w2a8/scalar/N:320/K:64/T:1/threads:1",
                      "kernel/matmul_w2a8/scalar/N:64/K:160/T:1/threads:1",
                      "kernel/lm_head/scalar/N:512/K:64/T:1/threads:1",
                      "kernel/lm_head_i8/scalar/N:512/K:64/T:1/threads:1",
                      "e2e/prefill/scalar/synthetic:tiny/prompt:16/threads:1",
                      "e2e/decode/scalar/synthetic:tiny/prompt:16/threads:1",
                      "e2e/prefill/scalar/synthetic:tiny/prompt:16/threads:1/head:int8",
                      "e2e/decode/scalar/synthetic:tiny/prompt:16/threads:1/head:int8",
                  }));
  // Without -r: five timed prefills (three with --quick) and one pass over the decode steps.
  const auto plain = load(out);  // kept alive: a range-for over a temporary's member dangles
  for (const auto& m : plain["measurements"]) {
    if (m["kind"] != "e2e") continue;
    EXPECT_EQ(m["samples"].size(), m["name"] == "prefill" ? 3u : 8u) << m["key"];
  }
}

// Bad lists and combinations: one line naming the option, exit 2, before any
// benchmark (no progress line of one on stderr).
TEST(BenchSweeps, BadListsAreOneLineUsageErrors) {
  const std::string base = "bench --quick --backends scalar --out " + temp_path("never.json") + " ";
  const std::pair<const char*, const char*> cases[] = {
      {"-p 8,,16", "--prompt-len: '8,,16' has an empty item"},
      {"--prompt-len=8,", "--prompt-len: '8,' has an empty item"},
      {"-n ,4", "--gen: ',4' has an empty item"},
      {"-t 1,,2", "--threads: '1,,2' has an empty item"},
      {"-d0,,32", "--depth: '0,,32' has an empty item"},
      {"-t -1", "--threads"},
      {"-t 1,1", "--threads: '1' is given twice"},
      {"-d 0,32,32", "--depth: '32' is given twice"},
      {"-r 0", "--repetitions"},
      {"-p 0", "--prompt-len"},
      {"-d 240 -p 8,16 -n 4", "--depth + --prompt-len + --gen = 260 exceeds the model's 256 positions"},
      {"-m synthetic:tiny,synthetic:nonesuch", "unknown model 'synthetic:nonesuch'"},
  };
  for (const auto& [args, named] : cases) {
    const std::string line = base + (std::string(args).find("-m ") == std::string::npos ? "-m synthetic:tiny " : "") + args;
    const auto r = run_bitlab(line);
    EXPECT_EQ(r.code, 2) << args << ":\n" << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << args << ":\n" << r.err;
    EXPECT_NE(r.err.find(named), std::string::npos) << args << ":\n" << r.err;
  }
}

}  // namespace

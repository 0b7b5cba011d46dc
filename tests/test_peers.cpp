// `bitlab bench --peer` through the binary, against stand-ins for a peer's
// llama-bench and llama-perplexity (tests/fake_peers): peer rows in the result
// file beside bitlab's, the export cached, llama-bench asked for bitlab's
// sizes at bitlab's depth, the correctness verdict from the oracle, and a
// one-line error naming the peer for each way a peer fails.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "model/config.h"
#include "tests/cli_test_util.h"

namespace {

using bitlab::test::CmdResult;
using bitlab::test::run_bitlab;

const std::string kFakes = std::string(BITLAB_SOURCE_DIR) + "/tests/fake_peers";
const std::string kBench =
    "bench --model synthetic:tiny --backends scalar --quick --no-kernels --threads 1 --energy-source none";

struct BenchRun {
  std::string dir;
  CmdResult r;
  nlohmann::json doc;
};

// bench with `peers` in `dir`; the fakes log their arguments to dir/calls.
// The export cache is dir/cache unless `cache` names another.
BenchRun bench(const std::string& dir, const std::string& peers, const std::string& env = "",
               const std::string& cache = "") {
  const bitlab::ModelConfig c = bitlab::config_by_name("tiny");
  const std::string e = "FAKE_PEER_LOG=" + dir + "calls FAKE_BITLAB='" + std::string(BITLAB_BIN) +
                        "' FAKE_MODEL=synthetic:tiny FAKE_VOCAB=" + std::to_string(c.vocab) +
                        " FAKE_BOS=" + std::to_string(c.bos) + " " + env;
  const std::string c_dir = cache.empty() ? dir + "cache" : cache;
  BenchRun run{dir, run_bitlab(kBench + " --peer-cache " + c_dir + " --out " + dir + "r.json " + peers, e), {}};
  if (run.r.code == 0) run.doc = nlohmann::json::parse(bitlab::test::slurp(dir + "r.json"));
  return run;
}

std::vector<nlohmann::json> peer_rows(const nlohmann::json& doc) {
  std::vector<nlohmann::json> v;
  for (const auto& m : doc["measurements"])
    if (m.contains("peer")) v.push_back(m);
  return v;
}

TEST(Peers, RowsBesideBitlabsAtBitlabsSizes) {
  const std::string dir = bitlab::test::scratch_dir("peers");
  const BenchRun run = bench(dir, "--peer-check none --peer llama.cpp:i2s=" + kFakes + "/llama-bench -d 4");
  ASSERT_EQ(run.r.code, 0) << run.r.out << run.r.err;
  bitlab::test::expect_valid_result(dir + "r.json");
  const auto rows = peer_rows(run.doc);
  ASSERT_EQ(rows.size(), 2u) << run.doc.dump(1);
  for (const auto& m : rows) {
    EXPECT_EQ(m["backend"], "llama.cpp/i2s");
    EXPECT_EQ(m["kind"], "e2e");
    EXPECT_EQ(m["shape"]["prompt"], 16);
    EXPECT_EQ(m["shape"]["depth"], 4);
    EXPECT_EQ(m["peer"]["engine"], "llama.cpp");
    EXPECT_EQ(m["peer"]["build_commit"], "fake123");
    EXPECT_EQ(m["peer"]["equal_depth"], true);
    EXPECT_EQ(m["samples"].size(), 3u);  // --quick: 3 repetitions, as bitlab's prefills
  }
  EXPECT_EQ(rows[0]["name"], "prefill");
  EXPECT_NEAR(rows[0]["samples"][0].get<double>(), 0.016, 1e-5);  // 16 tokens x 1 ms, in seconds
  EXPECT_EQ(rows[1]["name"], "decode");
  EXPECT_NEAR(rows[1]["samples"][0].get<double>(), 0.004, 1e-6);  // seconds per step
  EXPECT_EQ(rows[1]["peer"]["context_tokens"], 20);               // decode after depth + prompt, as bitlab's
  // llama-bench got bitlab's sizes: prefill at depth 4, decode at depth 4 + 16.
  const std::string calls = bitlab::test::slurp(dir + "calls");
  EXPECT_NE(calls.find("-t 1 -r 3 -o json -p 16 -n 0 -d 4"), std::string::npos) << calls;
  EXPECT_NE(calls.find("-p 0 -n 8 -d 20"), std::string::npos) << calls;
  EXPECT_NE(run.r.out.find("bitlab / best peer"), std::string::npos) << run.r.out;
  EXPECT_NE(run.r.out.find("scalar / llama.cpp/i2s = "), std::string::npos) << run.r.out;
  // The export is made once and reused.
  int files = 0;
  for (const auto& f : std::filesystem::directory_iterator(dir + "cache")) files += f.is_regular_file();
  EXPECT_EQ(files, 1);
  const BenchRun again = bench(dir, "--peer-check none --peer llama.cpp:i2s=" + kFakes + "/llama-bench -d 4");
  EXPECT_EQ(again.r.code, 0);
  EXPECT_EQ(again.r.err.find("export gguf-i2s"), std::string::npos) << again.r.err;
}

TEST(Peers, BitnetCppDecodesFromAnEmptyContextAndSaysSo) {
  const std::string dir = bitlab::test::scratch_dir("peers");
  const BenchRun run = bench(dir, "--peer-check none --peer bitnet.cpp=" + kFakes + "/llama-bench");
  ASSERT_EQ(run.r.code, 0) << run.r.err;
  const auto rows = peer_rows(run.doc);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[1]["peer"]["equal_depth"], false);
  EXPECT_NE(rows[1]["peer"]["note"].get<std::string>().find("cannot set the depth"), std::string::npos);
  EXPECT_EQ(rows[1]["peer"]["network_differs"][0], "f16 K/V cache and f16 attention");
}

TEST(Peers, CorrectnessFromTheOracle) {
  const std::string dir = bitlab::test::scratch_dir("peers");
  const BenchRun ok = bench(dir, "--peer-check kl --peer bitnet.cpp=" + kFakes + "/llama-bench");
  ASSERT_EQ(ok.r.code, 0) << ok.r.err;
  const auto c = peer_rows(ok.doc)[0]["peer"]["correctness"];
  EXPECT_EQ(c["verdict"], "pass") << c.dump();
  EXPECT_LT(c["kl_divergence"].get<double>(), 1e-3);
  EXPECT_EQ(c["top1_agreement"], 1.0);
  const BenchRun wrong =
      bench(dir, "--peer-check kl --peer bitnet.cpp=" + kFakes + "/llama-bench", "FAKE_PPL_MODE=wrong");
  ASSERT_EQ(wrong.r.code, 0) << wrong.r.err;
  EXPECT_EQ(peer_rows(wrong.doc)[0]["peer"]["correctness"]["verdict"], "fail");
}

// Peers write files into their working folder (bitnet.cpp's tools a
// llama.log): they run in the run's own folder, never in the user's, and
// still find the exports of a cache named relative to the user's folder.
TEST(Peers, PeersRunInAFolderOfTheirOwn) {
  const std::string dir = bitlab::test::scratch_dir("peers");
  const std::filesystem::path here = std::filesystem::current_path();
  std::filesystem::remove(here / "llama.log");
  // A cache below the user's folder, named relatively: from the peers' folder
  // that name leads nowhere, so they must be handed absolute paths.
  const std::string relative_cache = "peer-cache-" + std::to_string(getpid());
  const BenchRun run =
      bench(dir, "--peer-check kl --peer bitnet.cpp=" + kFakes + "/llama-bench", "", relative_cache);
  std::filesystem::remove_all(here / relative_cache);
  ASSERT_EQ(run.r.code, 0) << run.r.err;
  EXPECT_FALSE(std::filesystem::exists(here / "llama.log")) << "a peer wrote into bitlab's working folder";
  std::ifstream calls(dir + "calls");
  int seen = 0;
  for (std::string line; std::getline(calls, line);)
    if (line.rfind("cwd ", 0) == 0) {
      ++seen;
      EXPECT_NE(std::filesystem::path(line.substr(4)), here) << line;
    }
  EXPECT_GE(seen, 2) << "llama-bench and llama-perplexity each record their folder";
}

TEST(Peers, FailingPeerIsOneLineNamingIt) {
  const std::string dir = bitlab::test::scratch_dir("peers");
  const std::string peer = "--peer-check none --peer bitnet.cpp=" + kFakes + "/llama-bench";
  for (const char* mode : {"fail", "garbage"}) {
    const BenchRun r = bench(dir, peer, std::string("FAKE_PEER_MODE=") + mode);
    EXPECT_EQ(r.r.code, 1) << mode << r.r.err;
    EXPECT_NE(r.r.err.find("peer bitnet.cpp/i2s: llama-bench"), std::string::npos) << mode << r.r.err;
  }
  const BenchRun missing = bench(dir, "--peer bitnet.cpp=" + dir + "no-such-llama-bench");
  EXPECT_EQ(missing.r.code, 1);
  EXPECT_NE(missing.r.err.find("peer bitnet.cpp/i2s: llama-bench"), std::string::npos) << missing.r.err;
  const BenchRun ppl = bench(dir, "--peer-check kl --peer bitnet.cpp=" + kFakes + "/llama-bench", "FAKE_PPL_MODE=fail");
  EXPECT_EQ(ppl.r.code, 1);
  EXPECT_NE(ppl.r.err.find("peer bitnet.cpp/i2s: llama-perplexity exited with status 1"), std::string::npos)
      << ppl.r.err;
}

// --peer-args: an engine's own llama-bench options (ik_llama.cpp's run-time
// repacking), on every run of that engine's peers only, and in the peer's name.
TEST(Peers, PeerArgsReachThatEngineOnly) {
  const std::string dir = bitlab::test::scratch_dir("peers");
  const BenchRun run =
      bench(dir, "--peer-check none --peer ik_llama.cpp:i2s=" + kFakes + "/llama-bench --peer bitnet.cpp=" + kFakes +
                     "/llama-bench --peer-args 'ik_llama.cpp=-rtr 1'");
  ASSERT_EQ(run.r.code, 0) << run.r.err;
  std::set<std::string> names;
  for (const auto& m : peer_rows(run.doc)) names.insert(m["backend"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"ik_llama.cpp/i2s+rtr1", "bitnet.cpp/i2s"}));
  std::istringstream calls(bitlab::test::slurp(dir + "calls"));
  int with = 0, without = 0;
  for (std::string line; std::getline(calls, line);)
    if (line.rfind("cwd ", 0) != 0) (line.find(" -rtr 1") != std::string::npos ? with : without)++;
  EXPECT_EQ(with, 2);     // ik: its prefill and its decode
  EXPECT_EQ(without, 2);  // bitnet.cpp: the same two, untouched
  EXPECT_EQ(bench(dir, "--peer bitnet.cpp=" + kFakes + "/llama-bench --peer-args 'vllm=-x 1'").r.code, 2);
  EXPECT_EQ(bench(dir, "--peer bitnet.cpp=" + kFakes + "/llama-bench --peer-args bitnet.cpp").r.code, 2);
}

TEST(Peers, BadPeerArgumentsAreUsageErrors) {
  const std::string dir = bitlab::test::scratch_dir("peers");
  EXPECT_EQ(bench(dir, "--peer vllm=/bin/true").r.code, 2);
  EXPECT_EQ(bench(dir, "--peer llama.cpp").r.code, 2);
  const BenchRun unknown = bench(dir, "--peer bitnet.cpp:q9_9=" + kFakes + "/llama-bench");
  EXPECT_EQ(unknown.r.code, 2);
  EXPECT_NE(unknown.r.err.find("gguf-q9_9"), std::string::npos) << unknown.r.err;
}

}  // namespace

// What `bitlab report` puts first and how it qualifies its numbers, through the
// binary on synthetic documents: the headline (peers as rows of their own, the
// ratio of the best bitlab backend to the best peer, a peer running a different
// network flagged), the energy display contract (every J/token with its label, no
// watts for an estimate, no bars comparing modelled figures that ignore time),
// flags on fractions above 100 % and on noisy cases, the correctness sentence of a
// file without checks, and the differences between two files' contexts.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/cli_test_util.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using bitlab::test::CmdResult;
using bitlab::test::line_with;
using bitlab::test::slurp;

const std::string kFixtures = std::string(BITLAB_SOURCE_DIR) + "/tests/fixtures/";

std::string scratch() { return bitlab::test::scratch_dir("report_headline"); }
json fixture(const std::string& name) { return json::parse(slurp(kFixtures + name)); }
std::string write(const std::string& path, const json& doc) {
  std::ofstream(path) << doc.dump(1);
  return path;
}
bool ready() { return bitlab::test::python_has("matplotlib") && bitlab::test::python_has("jinja2"); }

// The report of `docs` (written as a.json, b.json, ...): its Markdown text.
std::string report_md(const std::string& dir, const std::vector<json>& docs) {
  std::string args = "report";
  for (size_t i = 0; i < docs.size(); ++i) args += " " + write(fmt::format("{}{}.json", dir, char('a' + i)), docs[i]);
  const CmdResult r = bitlab::test::run_bitlab(args + " -o " + dir + "out");
  EXPECT_EQ(r.code, 0) << r.err;
  return slurp(dir + "out/report.md");
}

json& measurement(json& doc, const std::string& key) {
  for (json& m : doc["measurements"])
    if (m["key"] == key) return m;
  throw std::runtime_error("no measurement " + key);
}

const char* kPrefill = "e2e/prefill/avx512/prompt:16/gen:16/threads:2";
const char* kDecode = "e2e/decode/avx512/prompt:16/gen:16/threads:2";

// A llama.cpp row beside bitlab's: half avx512's speed in both phases.
json with_peer(bool network_differs) {
  json doc = fixture("result_a.json");
  for (const char* key : {kPrefill, kDecode}) {
    json m = measurement(doc, key);
    std::string k = m["key"];
    m["key"] = k.replace(k.find("avx512"), 6, "llama.cpp/tq2_0");
    m["backend"] = "llama.cpp/tq2_0";
    for (json& s : m["samples"]) s = s.get<double>() * 2;
    for (const char* st : {"median", "p10", "p90", "min", "mean"}) m["stats"][st] = m["stats"][st].get<double>() * 2;
    m["derived"]["tokens_per_s"] = m["derived"]["tokens_per_s"].get<double>() / 2;
    m.erase("energy");
    m["peer"] = {{"engine", "llama.cpp"}, {"format", "TQ2_0"}, {"build_commit", "abc1234def"},
                 {"network_differs", network_differs ? json::array({"SiLU-gated FFN instead of relu²"}) : json::array()}};
    // The correctness object as bench --peer writes it.
    m["peer"]["correctness"] = {{"verdict", network_differs ? "different network" : "pass"},
                                {"kl_divergence", network_differs ? 1.22 : 0.0113},
                                {"top1_agreement", network_differs ? 0.323 : 0.774}};
    doc["measurements"].push_back(m);
  }
  return doc;
}

TEST(ReportHeadline, ComesFirstWithPeersAndTheirRatio) {
  if (!ready()) GTEST_SKIP() << "python3-matplotlib or python3-jinja2 missing";
  const std::string dir = scratch();
  const std::string md = report_md(dir, {with_peer(true)});
  ASSERT_NE(md.find("## Headline"), std::string::npos) << md;
  EXPECT_LT(md.find("## Headline"), md.find("## Context"));
  const std::string peer = line_with(md, "| peer: llama.cpp/tq2_0 |");
  EXPECT_NE(peer.find("(0.50×)"), std::string::npos) << peer;
  EXPECT_NE(peer.find("network differs: SiLU-gated FFN instead of relu²"), std::string::npos) << peer;
  EXPECT_NE(peer.find("llama.cpp TQ2_0 @ abc1234def"), std::string::npos) << peer;
  EXPECT_NE(peer.find("| different network (KL 1.22, top-1 32%) |"), std::string::npos) << peer;
  EXPECT_NE(line_with(md, "| avx512 |").find("19.43 (1.00×)"), std::string::npos) << md;
  EXPECT_NE(md.find("decode: bitlab's best is 2.00× the best peer"), std::string::npos) << md;
  EXPECT_NE(md.find("prefill: bitlab's best is 2.00× the best peer"), std::string::npos) << md;
  // A peer running the same network is not flagged.
  const std::string same = report_md(scratch() + "same_", {with_peer(false)});
  EXPECT_EQ(same.find("network differs"), std::string::npos) << same;
  EXPECT_NE(line_with(same, "| peer: llama.cpp/tq2_0 |").find("| pass (KL 0.0113, top-1 77%) |"), std::string::npos)
      << same;
}

TEST(ReportHeadline, EnergyCarriesItsLabelAndNoWattsForAnEstimate) {
  if (!ready()) GTEST_SKIP() << "python3-matplotlib or python3-jinja2 missing";
  json doc = fixture("result_a.json");
  measurement(doc, kDecode)["energy"] = {{"source", "modelled"}, {"estimate", true}, {"joules_per_token", 0.33},
                                         {"average_watts", 6.25}, {"idle_watts", 1.5}};
  measurement(doc, kPrefill)["energy"] = {{"source", "rapl"}, {"joules_per_token", 0.41}, {"average_watts", 42.5},
                                          {"label", "measured (RAPL package + DRAM, idle subtracted)"}};
  const std::string dir = scratch();
  const std::string md = report_md(dir, {doc});
  const std::string decode = line_with(md, "| avx512 | decode |");
  EXPECT_NE(decode.find("modelled (textbook constants)"), std::string::npos) << decode;
  EXPECT_EQ(decode.find(" W"), std::string::npos) << "watts of an estimate: " << decode;
  EXPECT_EQ(md.find("6.250 W"), std::string::npos);
  const std::string prefill = line_with(md, "| avx512 | prefill |");
  EXPECT_NE(prefill.find("measured (RAPL package + DRAM, idle subtracted)"), std::string::npos) << prefill;
  EXPECT_NE(prefill.find("average 42.50 W"), std::string::npos) << prefill;
  EXPECT_NE(line_with(md, "| avx512 |").find("0.330 — modelled (textbook constants)"), std::string::npos) << md;
  // Modelled without a static share: tabled, never drawn as bars; with one, drawn.
  EXPECT_TRUE(fs::exists(dir + "out/e2e_joules_per_token.png")) << "a measured figure is drawn";
  measurement(doc, kPrefill).erase("energy");
  const std::string modelled = scratch();
  report_md(modelled, {doc});
  EXPECT_FALSE(fs::exists(modelled + "out/e2e_joules_per_token.png"));
  measurement(doc, kDecode)["energy"]["static_joules"] = 0.1;
  const std::string drawn = report_md(scratch(), {doc});
  EXPECT_NE(drawn.find("](e2e_joules_per_token.png)"), std::string::npos) << drawn;
}

TEST(ReportHeadline, FlagsAboveTheRooflineAndNoisyCases) {
  if (!ready()) GTEST_SKIP() << "python3-matplotlib or python3-jinja2 missing";
  json doc = fixture("result_a.json");
  measurement(doc, kDecode)["derived"]["roofline_fraction"] = 1.5;
  json& prefill = measurement(doc, "e2e/prefill/scalar/prompt:16/gen:16/threads:2");
  prefill["stats"]["stddev"] = prefill["stats"]["median"].get<double>() * 0.25;
  const std::string md = report_md(scratch(), {doc});
  EXPECT_NE(line_with(md, "| avx512 | decode |").find("⚠ above the roofline: busy or mis-measured"), std::string::npos)
      << md;
  EXPECT_NE(line_with(md, "| avx512 |").find("150.0% of bandwidth"), std::string::npos) << md;
  EXPECT_NE(line_with(md, "| scalar | prefill |").find("⚠ noisy: sd 25 % of median"), std::string::npos) << md;
  EXPECT_EQ(line_with(md, "| avx512 | prefill |").find("⚠"), std::string::npos) << md;
}

TEST(ReportHeadline, AFileWithoutChecksSaysSo) {
  if (!ready()) GTEST_SKIP() << "python3-matplotlib or python3-jinja2 missing";
  json doc = fixture("result_a.json");
  doc["correctness"] = json::array();
  const std::string md = report_md(scratch(), {doc});
  EXPECT_NE(md.find("no correctness checks in this file."), std::string::npos) << md;
  EXPECT_EQ(md.find("0 checks"), std::string::npos) << md;
  EXPECT_NE(line_with(md, "| avx512 |").find("| no checks |"), std::string::npos) << md;
  // With checks: the count and the verdict per backend.
  const std::string checked = report_md(scratch(), {fixture("result_a.json")});
  EXPECT_EQ(checked.find("no correctness checks"), std::string::npos);
  EXPECT_NE(line_with(checked, "| avx512 |").find("| pass ("), std::string::npos) << checked;
}

TEST(ReportHeadline, DifferencesBetweenContextsAreCalledOut) {
  if (!ready()) GTEST_SKIP() << "python3-matplotlib or python3-jinja2 missing";
  json a = fixture("result_a.json"), b = fixture("result_a.json");
  a["context"]["memory_bandwidth_gbps"] = 47.0;
  b["context"]["memory_bandwidth_gbps"] = 7.0;
  b["context"]["command"] = "bitlab bench --quick --out x.json";
  b["context"]["threads"] = 8;
  const std::string md = report_md(scratch(), {a, b});
  EXPECT_NE(md.find("- Measured memory bandwidth 571 % apart (F1 47 GB/s, F2 7 GB/s)"), std::string::npos) << md;
  EXPECT_NE(md.find("- Quick runs (--quick"), std::string::npos) << md;
  EXPECT_NE(md.find("- Threads differs: F1 2, F2 8."), std::string::npos) << md;
  // Alike contexts: nothing to call out.
  const std::string alike = report_md(scratch(), {fixture("result_a.json"), fixture("result_a.json")});
  EXPECT_EQ(alike.find("Differences between the files"), std::string::npos) << alike;
}

}  // namespace

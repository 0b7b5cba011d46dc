// `bitlab report --trend`: a trend that `bitlab history trend --format json`
// wrote from a history of synthetic runs, drawn in the report's History
// section; and trend files that are broken, refused with one line.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/cli_test_util.h"
#include "tests/history_docs.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using Result = bitlab::test::CmdResult;
using bitlab::test::kPython;
using bitlab::test::line_with;
using bitlab::test::python_has;
using bitlab::test::slurp;

const std::string kFixtures = std::string(BITLAB_SOURCE_DIR) + "/tests/fixtures/";
constexpr const char* kDecodeKey = "e2e/decode/scalar/synthetic:tiny/prompt:8/threads:2";

Result bitlab(const std::string& args) { return bitlab::test::run_bitlab(args); }

std::string commit_of(int i) { return bitlab::test::history_commit(i); }

// Run `i` of a history: commit i, minute i, one decode case taking about `seconds`.
json result_doc(int i, double seconds) {
  return bitlab::test::history_result_doc(
      i, {bitlab::test::history_measurement(kDecodeKey, "e2e", seconds, 0.01, static_cast<uint64_t>(i))});
}

std::string write(const std::string& path, const json& doc) {
  std::ofstream(path) << doc.dump(1);
  return path;
}

// `history trend --format json` of `runs` runs whose decode is 30% slower from
// run `step` on (20 ms, then 26 ms), through the binary: the file `report
// --trend` is made for.
std::string real_trend(const std::string& dir, int runs, int step) {
  std::string add = "history add --db " + dir + "h.sqlite";
  for (int i = 1; i <= runs; ++i)
    add += " " + write(dir + fmt::format("run{}.json", i), result_doc(i, i < step ? 0.020 : 0.026));
  const Result added = bitlab(add);
  EXPECT_EQ(added.code, 0) << added.err;
  const Result trend = bitlab(fmt::format("history trend {} --db {}h.sqlite --format json", kDecodeKey, dir));
  EXPECT_EQ(trend.code, 0) << trend.err;
  std::ofstream(dir + "trend.json") << trend.out;
  return dir + "trend.json";
}

void expect_one_line_error(const Result& r, int code, const std::string& what) {
  EXPECT_EQ(r.code, code) << r.err;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
  EXPECT_NE(r.err.find(what), std::string::npos) << r.err;
}

TEST(ReportTrend, HistorySectionPlotsTheTrendAndNamesTheChangePoint) {
  if (!python_has("matplotlib")) GTEST_SKIP() << kPython << " lacks matplotlib (Debian package python3-matplotlib)";
  const std::string dir = bitlab::test::scratch_dir("trend");
  const std::string trend = real_trend(dir, 12, 7);
  const json t = json::parse(slurp(trend));
  ASSERT_EQ(t["change_points"].size(), 1u) << t.dump();
  ASSERT_EQ(t["change_points"][0]["commit"], commit_of(7));

  // Beside a result file, and alone.
  for (const std::string& files : {kFixtures + "result_a.json ", std::string()}) {
    const std::string out = dir + (files.empty() ? "alone" : "beside");
    const Result r = bitlab(fmt::format("report {}--trend {} -o {}", files, trend, out));
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    const std::string md = slurp(out + "/report.md"), html = slurp(out + "/report.html");
    ASSERT_NE(md.find("## History"), std::string::npos) << md;
    EXPECT_NE(html.find("<h2>History</h2>"), std::string::npos);
    EXPECT_EQ(md.find("## Kernel latency") != std::string::npos, !files.empty()) << md;
    // The plot: written beside report.md, referenced from the History section, a PNG.
    const std::string history = md.substr(md.find("## History"));
    const size_t at = history.find("](trend_");
    ASSERT_NE(at, std::string::npos) << history;
    const std::string png = history.substr(at + 2, history.find(')', at) - at - 2);
    EXPECT_EQ(slurp(fmt::format("{}/{}", out, png)).substr(1, 3), "PNG") << png;
    EXPECT_NE(html.find("alt=\"median of " + std::string(kDecodeKey)), std::string::npos);
    // The change point's row: its index, its commit, the medians either side.
    const std::string row = line_with(history, "| " + commit_of(7).substr(0, 7) + " |");
    EXPECT_EQ(row.rfind("| 6 |", 0), 0u) << history;
    EXPECT_NE(row.find("| 0.020 | 0.026 | +"), std::string::npos) << row;
  }
  // Without --trend there is no History section.
  const Result plain = bitlab("report " + kFixtures + "result_a.json -o " + dir + "plain");
  ASSERT_EQ(plain.code, 0) << plain.err;
  EXPECT_EQ(slurp(dir + "plain/report.md").find("## History"), std::string::npos);
}

// Sixty runs, two steps: the report draws it and lists both change points.
TEST(ReportTrend, LongHistoryWithTwoChangePoints) {
  if (!python_has("matplotlib")) GTEST_SKIP() << kPython << " lacks matplotlib (Debian package python3-matplotlib)";
  const std::string dir = bitlab::test::scratch_dir("trend");
  std::string add = "history add --db " + dir + "h.sqlite";
  for (int i = 1; i <= 60; ++i)
    add += " " + write(dir + fmt::format("run{}.json", i), result_doc(i, i < 21 ? 0.010 : i < 41 ? 0.014 : 0.011));
  ASSERT_EQ(bitlab(add).code, 0);
  const Result trend = bitlab(fmt::format("history trend {} --db {}h.sqlite --format json", kDecodeKey, dir));
  ASSERT_EQ(trend.code, 0) << trend.err;
  std::ofstream(dir + "trend.json") << trend.out;
  const Result r = bitlab("report --trend " + dir + "trend.json -o " + dir + "out");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const std::string md = slurp(dir + "out/report.md");
  EXPECT_NE(md.find("over 60 run(s)"), std::string::npos) << md;
  for (const int i : {21, 41})
    EXPECT_NE(md.find("| " + commit_of(i).substr(0, 7) + " |"), std::string::npos) << i << md;
}

TEST(ReportTrend, MalformedTrendIsAOneLineError) {
  if (!python_has("matplotlib")) GTEST_SKIP() << kPython << " lacks matplotlib (Debian package python3-matplotlib)";
  const std::string dir = bitlab::test::scratch_dir("trend");
  const json good = json::parse(slurp(real_trend(dir, 12, 7)));
  ASSERT_EQ(good["change_points"].size(), 1u);
  const auto refused = [&](const std::string& name, const json& doc, int code, const std::string& what) {
    SCOPED_TRACE(name);
    const Result r = bitlab("report --trend " + write(dir + name, doc) + " -o " + dir + "out");
    expect_one_line_error(r, code, what);
    EXPECT_NE(r.err.find(name), std::string::npos) << "names the file: " << r.err;
    EXPECT_FALSE(fs::exists(dir + "out/report.md"));
  };
  json bad = good;
  bad["points"][3]["value"] = "fast";
  refused("value.json", bad, 1, "$.points[3].value: expected a finite number, found a string");
  bad = good;
  bad["points"][2].erase("commit");
  refused("commit.json", bad, 1, "$.points[2].commit: missing");
  bad = good;
  bad.erase("key");
  refused("key.json", bad, 1, "$.key: missing");
  bad = good;
  bad["change_points"][0]["index"] = 12;
  refused("index.json", bad, 1, "$.change_points[0].index: 12 is outside the series");
  bad = good;
  bad["change_points"][0]["commit"] = commit_of(3);
  refused("moved.json", bad, 1, "$.change_points[0].commit");
  bad = good;
  bad["points"] = json::array();
  bad["change_points"] = json::array();
  refused("empty.json", bad, 1, "$.points: empty");
  refused("result.json", result_doc(1, 0.01), 2, "is a result document, not a bitlab history trend");
  refused("other.json", json{{"hello", 1}}, 2, "is not a bitlab history trend");
  std::ofstream(dir + "cut.json") << good.dump().substr(0, 40);
  expect_one_line_error(bitlab("report --trend " + dir + "cut.json -o " + dir + "out"), 1, "cut.json is not JSON");
  expect_one_line_error(bitlab("report --trend " + dir + " -o " + dir + "out"), 2, "not a history trend file");
  expect_one_line_error(bitlab("report --trend " + dir + "nonesuch.json -o " + dir + "out"), 2, "nonesuch.json");
  expect_one_line_error(bitlab("report -o " + dir + "out"), 2, "--trend");
}

}  // namespace

// `bitlab report` on result files it must not trust and on output folders where
// writing fails, through the binary: every error one line (`bitlab: report: ...`)
// with bitlab's exit codes, never a traceback or a hang; every name shown as
// written in every format; a failed or interrupted run leaves a previous report
// as it was and no temporaries.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tests/cli_test_util.h"

namespace {

namespace fs = std::filesystem;
using nlohmann::json;
using bitlab::test::CmdResult;
using bitlab::test::kPython;
using bitlab::test::python_has;
using bitlab::test::slurp;

const std::string kFixtures = std::string(BITLAB_SOURCE_DIR) + "/tests/fixtures/";

std::string scratch() { return bitlab::test::scratch_dir("report"); }
CmdResult bitlab(const std::string& args, const std::string& env = "") { return bitlab::test::run_bitlab(args, env); }

// `bitlab ARGS` with a time limit: a run that blocks (on a FIFO) fails the test instead of hanging it.
CmdResult bitlab_within(int seconds, const std::string& args) {
  std::string cmdline = "timeout " + std::to_string(seconds) + " ";
  cmdline += BITLAB_BIN;
  cmdline.append(" ").append(args);
  return bitlab::test::run_command(cmdline);
}

json fixture(const std::string& name) { return json::parse(slurp(kFixtures + name)); }

std::string write(const std::string& path, const std::string& text) {
  std::ofstream(path) << text;
  return path;
}
std::string write(const std::string& path, const json& doc) { return write(path, doc.dump(1)); }

bool have_matplotlib() { return python_has("matplotlib"); }

// One line on stderr, prefixed as every bitlab error, with the exit code and the
// words expected; never a Python traceback.
void expect_error(const CmdResult& r, int code, const std::vector<std::string>& words) {
  EXPECT_EQ(r.code, code) << r.err;
  ASSERT_FALSE(r.err.empty());
  EXPECT_EQ(r.err.find('\n'), r.err.size() - 1) << "not one line: " << r.err;
  EXPECT_EQ(r.err.rfind("bitlab: report: ", 0), 0u) << r.err;
  EXPECT_EQ(r.err.find("Traceback"), std::string::npos) << r.err;
  for (const std::string& w : words) EXPECT_NE(r.err.find(w), std::string::npos) << w << " not in: " << r.err;
}

// Every file of a folder, hidden ones (temporaries) included, with its contents.
std::map<std::string, std::string> snapshot(const std::string& dir) {
  std::map<std::string, std::string> files;
  for (const auto& e : fs::directory_iterator(dir))
    files[e.path().filename().string()] = e.is_regular_file() ? slurp(e.path().string()) : "(not a file)";
  return files;
}

std::vector<std::string> names(const std::map<std::string, std::string>& files) {
  std::vector<std::string> out;
  for (const auto& [name, _] : files) out.push_back(name);
  return out;
}

// Python for a sitecustomize.py hook that interrupts report.py at a chosen
// moment: interrupt(pids) sends SIGINT to each and waits (up to 10 s) until a
// signal is pending here; on_second_fsync(action) runs action after the second
// file is synced, while the report is being written.
constexpr const char* kHookPrelude =
    "import os, signal, time\n"
    "def interrupt(pids):\n"
    "    for pid in pids:\n"
    "        os.kill(pid, signal.SIGINT)\n"
    "    end = time.monotonic() + 10\n"
    "    while not signal.sigpending() and time.monotonic() < end:\n"
    "        time.sleep(0.01)\n"
    "def on_second_fsync(action):\n"
    "    _fsync, calls = os.fsync, []\n"
    "    def fsync(fd):\n"
    "        _fsync(fd)\n"
    "        calls.append(fd)\n"
    "        if len(calls) == 2:\n"
    "            action()\n"
    "    os.fsync = fsync\n";

// A folder `out` holding a finished report of result_a (its files in `before`),
// then `report result_b -o out` run with `hook` as sitecustomize.py.
struct Rerun {
  std::string out;
  std::map<std::string, std::string> before;
  CmdResult r;
};
Rerun rerun_with_hook(const std::string& hook) {
  const std::string dir = scratch(), hooks = dir + "hook";
  Rerun run{dir + "out", {}, {}};
  EXPECT_EQ(bitlab("report " + kFixtures + "result_a.json -o " + run.out).code, 0);
  run.before = snapshot(run.out);
  fs::create_directories(hooks);
  write(hooks + "/sitecustomize.py", hook);
  run.r = bitlab("report " + kFixtures + "result_b.json -o " + run.out, "PYTHONPATH=" + hooks);
  return run;
}

// ---- input ---------------------------------------------------------------------

TEST(ReportInput, WrongTypeNamesTheFileAndTheJsonPath) {
  const std::string dir = scratch();
  struct Case {
    std::string file, path;
    std::function<void(json&)> spoil;
  };
  const std::vector<Case> cases = {
      {"median.json", "$.measurements[1].stats.median", [](json& d) { d["measurements"][1]["stats"]["median"] = "fast"; }},
      {"git.json", "$.context.git", [](json& d) { d["context"]["git"] = json::array({1}); }},
      {"backend.json", "$.measurements[0].backend", [](json& d) { d["measurements"][0]["backend"] = nullptr; }},
      {"pass.json", "$.correctness[0].pass", [](json& d) { d["correctness"][0]["pass"] = "yes"; }},
      {"flags.json", "$.context.host.isa_flags[1]", [](json& d) { d["context"]["host"]["isa_flags"][1] = 7; }},
      {"list.json", "$.measurements", [](json& d) { d["measurements"] = json::object(); }},
      {"negative.json", "$.measurements[0].bytes", [](json& d) { d["measurements"][0]["bytes"] = -5; }},
      {"peak.json", "$.context.int8_peak_gmacs", [](json& d) { d["context"]["int8_peak_gmacs"] = "fast"; }},
      {"compute.json", "$.measurements[2].derived.compute_fraction",
       [](json& d) { d["measurements"][2]["derived"]["compute_fraction"] = -0.5; }},
  };
  for (const Case& c : cases) {
    json doc = fixture("result_a.json");
    c.spoil(doc);
    const CmdResult r = bitlab(fmt::format("report {} -o {}out", write(dir + c.file, doc), dir));
    SCOPED_TRACE(c.file);
    expect_error(r, 1, {c.file, c.path + ":"});
  }
  EXPECT_FALSE(fs::exists(dir + "out"));
}

TEST(ReportInput, DeepNestingIsOneLineError) {
  const std::string dir = scratch();
  const std::string deep = std::string(200000, '[') + std::string(200000, ']');
  const std::string text = slurp(kFixtures + "result_a.json");
  // Nested inside a field the report reads, and inside one it ignores.
  json doc = fixture("result_a.json");
  doc["context"]["git"] = "@@";
  std::string in_git = doc.dump();
  in_git.replace(in_git.find("\"@@\""), 4, deep);
  doc = fixture("result_a.json");
  doc["extra"] = "@@";
  std::string in_extra = doc.dump();
  in_extra.replace(in_extra.find("\"@@\""), 4, deep);
  for (const auto& [name, body] : {std::pair{"git.json", in_git}, std::pair{"extra.json", in_extra}}) {
    SCOPED_TRACE(name);
    expect_error(bitlab(fmt::format("report {} -o {}out", write(dir + name, body), dir)), 1, {name, "nested too deeply"});
  }
}

TEST(ReportInput, BrokenJsonIsBrokenInput) {
  const std::string dir = scratch();
  expect_error(bitlab("report " + write(dir + "cut.json", std::string("{\"schema\": \"bitlab-")) + " -o " + dir + "out"),
               1, {"cut.json is not JSON"});
  std::string nan = slurp(kFixtures + "result_a.json");
  nan.replace(nan.find("0.00192768"), 10, "NaN");
  expect_error(bitlab("report " + write(dir + "nan.json", nan) + " -o " + dir + "out"), 1, {"nan.json", "NaN"});
  expect_error(bitlab("report " + write(dir + "latin1.json", std::string("{\"a\": \"\xe9\"}")) + " -o " + dir + "out"),
               1, {"latin1.json is not UTF-8"});
}

TEST(ReportInput, FifoIsRefusedWithoutBlocking) {
  const std::string dir = scratch();
  const std::string fifo = dir + "fifo.json";
  ASSERT_EQ(mkfifo(fifo.c_str(), 0600), 0);
  // Nobody ever writes to it: a reader that opens it waits for ever (timeout: 124).
  expect_error(bitlab_within(20, "report " + fifo + " -o " + dir + "out"), 2, {"fifo.json is a FIFO"});
  // report.py by hand refuses it as well.
  const CmdResult r = bitlab::test::run_command("timeout 20 " + kPython + " -B " + BITLAB_SOURCE_DIR +
                                                "/harness/report/report.py -o " + dir + "out " + fifo);
  expect_error(r, 2, {"fifo.json is a FIFO"});
}

TEST(ReportInput, MissingFileIsAUsageError) {
  const std::string dir = scratch();
  expect_error(bitlab("report " + dir + "nonesuch.json -o " + dir + "out"), 2, {"cannot read", "nonesuch.json"});
  expect_error(bitlab("report " + dir + " -o " + dir + "out"), 2, {"is a directory"});
}

// compare's reader (harness/result_reader.cpp) and the report take the same
// documents: what one refuses the other refuses, naming the file and the field.
TEST(ReportInput, RefusesWhatCompareRefuses) {
  const std::string dir = scratch();
  struct Case {
    std::string file, words;
    std::function<void(json&)> spoil;
  };
  const std::vector<Case> cases = {
      {"inf.json", "$.measurements[0].samples[0]: measurement", [](json& d) { d["measurements"][0]["samples"][0] = 1e300 * 1e300; }},
      {"neg.json", "sample -1 is not a time", [](json& d) { d["measurements"][0]["samples"][1] = -1; }},
      {"zero.json", "sample 0 is not a time", [](json& d) { d["measurements"][0]["samples"][0] = 0; }},
      {"str.json", "expected a number of seconds, found a string", [](json& d) { d["measurements"][0]["samples"][0] = "1"; }},
      {"empty.json", "has no samples", [](json& d) { d["measurements"][0]["samples"] = json::array(); }},
      {"nokey.json", "$.measurements[2].key: missing", [](json& d) { d["measurements"][2].erase("key"); }},
      {"nosamples.json", "$.measurements[1].samples: missing", [](json& d) { d["measurements"][1].erase("samples"); }},
      {"twice.json", "appears twice", [](json& d) { d["measurements"][3]["key"] = d["measurements"][0]["key"]; }},
      {"nocpu.json", "$.context.host.cpu_model: missing", [](json& d) { d["context"]["host"].erase("cpu_model"); }},
      {"nocheck.json", "$.correctness[0].check: missing", [](json& d) { d["correctness"][0].erase("check"); }},
  };
  for (const Case& c : cases) {
    json doc = fixture("result_a.json");
    c.spoil(doc);
    std::string text = doc.dump(1);
    if (c.file == "inf.json") text.replace(text.find("null"), 4, "1e999");  // json dumps inf as null
    const std::string file = write(dir + c.file, text);
    SCOPED_TRACE(c.file);
    EXPECT_NE(bitlab(fmt::format("compare {} {}", file, file)).code, 0) << "compare takes it: the case is wrong";
    expect_error(bitlab(fmt::format("report {} -o {}out", file, dir)), 1, {c.file, c.words});
  }
  EXPECT_FALSE(fs::exists(dir + "out"));
  // A byte order mark: compare skips it, and so does the report.
  const std::string bom = write(dir + "bom.json", "\xef\xbb\xbf" + slurp(kFixtures + "result_a.json"));
  EXPECT_EQ(bitlab("compare " + bom + " " + bom).code, 0);
  const CmdResult r = bitlab("report " + bom + " -o " + dir + "bom");
  EXPECT_EQ(r.code, 0) << r.err;
  // Not JSON: the position in words, not Python's "(char 0)".
  expect_error(bitlab("report " + write(dir + "word.json", std::string("\n  nope")) + " -o " + dir + "out"), 1,
               {"word.json is not JSON: at line 2, column 3: expecting value"});
}

// The int8 peak in the context and the compute fraction of a many-token matmul
// and of prefill: the schema takes them, the report shows them (the context
// row, a column of the kernel and e2e tables, markers on the kernel chart); a
// file from before the peak was measured shows a dash, not an error.
TEST(ReportInput, Int8PeakAndComputeFractionAreShownAndOptional) {
  if (!have_matplotlib()) GTEST_SKIP() << kPython << " lacks matplotlib (Debian package python3-matplotlib)";
  const std::string dir = scratch();
  json doc = fixture("result_a.json");
  doc["context"]["int8_peak_gmacs"] = 1234.5;
  doc["context"]["int8_peak_isa"] = "avx512-vnni";
  int held = 0;
  for (json& m : doc["measurements"]) {
    const bool matmul = m["name"] == "matmul_w2a8" && m["backend"] == "avx512" && held == 0;
    if (matmul || (m["name"] == "prefill" && m["backend"] == "avx512")) {
      m["derived"]["compute_fraction"] = matmul ? 0.4321 : 0.7654;
      ++held;
    }
  }
  ASSERT_EQ(held, 2);
  const std::string file = write(dir + "peak.json", doc);
  bitlab::test::expect_valid_result(file);
  ASSERT_EQ(bitlab(fmt::format("compare {} {}", file, file)).code, 0);
  const CmdResult r = bitlab(fmt::format("report {} -o {}out", file, dir));
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string md = slurp(dir + "out/report.md");
  EXPECT_NE(md.find("| int8 peak | 1,234 GMAC/s (avx512-vnni) |"), std::string::npos) << md;
  EXPECT_NE(md.find("| 43.2% |"), std::string::npos) << "the matmul's fraction is not in the kernel table";
  EXPECT_NE(md.find("| 76.5% |"), std::string::npos) << "prefill's fraction is not in the e2e table";

  // The fixture itself has neither field: valid, and reported with a dash.
  bitlab::test::expect_valid_result(kFixtures + "result_a.json");
  const CmdResult old = bitlab("report " + kFixtures + "result_a.json -o " + dir + "old");
  ASSERT_EQ(old.code, 0) << old.err;
  EXPECT_NE(slurp(dir + "old/report.md").find("| int8 peak | — (not measured) |"), std::string::npos);
}

// compare takes an e2e measurement of any name: the report tables it and plots
// only the phases it knows.
TEST(ReportInput, UnknownE2ePhaseIsTabledNotPlotted) {
  if (!have_matplotlib()) GTEST_SKIP() << kPython << " lacks matplotlib (Debian package python3-matplotlib)";
  const std::string dir = scratch();
  json doc = fixture("result_a.json");
  for (json& m : doc["measurements"])
    if (m["kind"] == "e2e") m["name"] = "zz";
  const std::string file = write(dir + "zz.json", doc);
  ASSERT_EQ(bitlab(fmt::format("compare {} {}", file, file)).code, 0);
  const CmdResult r = bitlab(fmt::format("report {} -o {}out", file, dir));
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string md = slurp(dir + "out/report.md");
  EXPECT_NE(md.find("| zz |"), std::string::npos) << "the measurements are not in the table";
  EXPECT_NE(md.find("No prefill or decode measurements to plot"), std::string::npos);
  EXPECT_FALSE(fs::exists(dir + "out/e2e_tokens_per_s.png"));
}

// Thousands of keys: the plot draws the first of them and says so; the table has
// them all; no figure too large to render. kMaxBars is the plot's cap
// (MAX_BARS in harness/report/plots.py).
TEST(ReportInput, ThousandsOfMeasurementsArePlottedInPart) {
  if (!have_matplotlib()) GTEST_SKIP() << kPython << " lacks matplotlib (Debian package python3-matplotlib)";
  const std::string dir = scratch();
  json doc = fixture("result_a.json");
  json kernel;
  for (const json& m : doc["measurements"])
    if (m["kind"] == "kernel") kernel = m;
  doc["measurements"] = json::array();
  for (int i = 0; i < 3000; ++i) {
    json m = kernel;
    m["key"] = kernel["key"].get<std::string>() + "/n" + std::to_string(i);
    doc["measurements"].push_back(m);
  }
  const CmdResult r = bitlab("report " + write(dir + "many.json", doc) + " -o " + dir + "out");
  ASSERT_EQ(r.code, 0) << r.err;
  const std::string md = slurp(dir + "out/report.md");
  constexpr int kMaxBars = 120;  // one file, so one bar per key
  EXPECT_NE(md.find(fmt::format("leaves out {} keys", 3000 - kMaxBars)), std::string::npos);
  EXPECT_NE(md.find("/n2999 |"), std::string::npos) << "the table lacks the last key";
}

// ---- escaping ------------------------------------------------------------------

// Counts the cells of a Markdown table row: the '|' not escaped with a backslash.
size_t md_cells(const std::string& row) {
  size_t bars = 0;
  for (size_t i = 0; i < row.size(); ++i)
    if (row[i] == '|' && (i == 0 || row[i - 1] != '\\')) ++bars;
  return bars - 1;
}

TEST(ReportEscaping, MarkupPipesAndDollarsAreShownAsWritten) {
  if (!have_matplotlib()) GTEST_SKIP() << kPython << " lacks matplotlib (Debian package python3-matplotlib)";
  const std::string dir = scratch();
  json doc = fixture("result_a.json");
  for (json& m : doc["measurements"]) {
    m["backend"] = "<script>alert(1)</script>|$" + m["backend"].get<std::string>();
    m["key"] = "<b>k|ey</b>$x^$" + m["key"].get<std::string>();  // as mathtext: a parse error, no plot
  }
  doc["context"]["host"]["cpu_model"] = "<img src=x onerror=alert(1)> | CPU $5";
  doc["context"]["git"]["commit"] = "_a|b<i>";
  doc["correctness"][0]["check"] = "<script>x</script>|[link](http://x)";
  // A second file: the plots get a legend, whose labels here both start with "_"
  // (which matplotlib hides, warning that nothing is left to show).
  json other = fixture("result_b.json");
  other["context"]["git"]["commit"] = "_c$";
  const std::string file = write(dir + "evil.json", doc), file2 = write(dir + "evil2.json", other);
  const CmdResult r = bitlab("report " + file + " " + file2 + " -o " + dir + "out");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(r.err.empty()) << r.err;
  const std::string html = slurp(dir + "out/report.html"), md = slurp(dir + "out/report.md");
  for (const std::string* doc_text : {&html, &md}) {
    const std::string& text = *doc_text;
    for (const char* raw : {"<script", "<b>", "<img src=x", "<i>"}) EXPECT_EQ(text.find(raw), std::string::npos) << raw;
    EXPECT_NE(text.find("&lt;script&gt;alert(1)&lt;/script&gt;"), std::string::npos);
    EXPECT_NE(text.find("&lt;img src=x onerror=alert(1)&gt;"), std::string::npos);
  }
  EXPECT_NE(md.find("\\[link\\](http://x)"), std::string::npos) << "a name became a Markdown link";
  EXPECT_NE(md.find("CPU \\$5"), std::string::npos);
  // Every row of every Markdown table has as many cells as its header: no name split one.
  size_t header = 0, rows = 0;
  std::istringstream lines(md);
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind('|', 0) != 0) {
      header = 0;
      continue;
    }
    if (line.rfind("|-", 0) == 0 || line.rfind("|--", 0) == 0) continue;
    if (header == 0) {
      header = md_cells(line);
    } else {
      EXPECT_EQ(md_cells(line), header) << line;
      ++rows;
    }
  }
  EXPECT_GE(rows, 10u);
  // The plots were drawn: one per backend, PNGs beside report.md.
  size_t pngs = 0;
  for (const auto& e : fs::directory_iterator(dir + "out"))
    if (e.path().extension() == ".png") {
      EXPECT_EQ(slurp(e.path().string()).substr(1, 3), "PNG");
      ++pngs;
    }
  EXPECT_GE(pngs, 3u);
}

// An ESC or a C1 control (CSI, U+009B) in a result file would act on a terminal
// that shows the report: every format writes them escaped, as compare does.
TEST(ReportEscaping, ControlCharactersAreShownEscaped) {
  if (!have_matplotlib()) GTEST_SKIP() << kPython << " lacks matplotlib (Debian package python3-matplotlib)";
  const std::string dir = scratch();
  json doc = fixture("result_a.json");
  doc["context"]["host"]["cpu_model"] = "cpu\x1b[31m\xc2\x9b" "2J\nnext";
  doc["measurements"][0]["backend"] = doc["measurements"][0]["backend"].get<std::string>() + "\x1b]0;t\x07";
  doc["correctness"][0]["check"] = "chk\x7f\t";
  const CmdResult r = bitlab("report " + write(dir + "ctl.json", doc) + " -o " + dir + "out");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* name : {"report.md", "report.html"}) {
    SCOPED_TRACE(name);
    const std::string text = slurp(dir + "out/" + name);
    for (const std::string raw : {"\x1b", "\xc2\x9b", "\x07", "\x7f", "\nnext"})
      EXPECT_EQ(text.find(raw), std::string::npos) << "raw control byte " << int(uint8_t(raw.back()));
    for (const char* shown : {"x1b", "u009b", "x07", "x7f", "nnext"})
      EXPECT_NE(text.find(shown), std::string::npos) << shown;
  }
}

// The success line names the output folder as the error lines would: escaped.
TEST(ReportEscaping, SuccessLineShowsAnOddFolderNameEscaped) {
  if (!have_matplotlib()) GTEST_SKIP() << kPython << " lacks matplotlib (Debian package python3-matplotlib)";
  const std::string dir = scratch();
  const CmdResult r = bitlab("report " + kFixtures + "result_a.json -o \"" + dir + "$(printf 'odd\\nname\\033[2J')\"");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.out.find('\x1b'), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("odd\\nname\\x1b[2J"), std::string::npos) << r.out;
}

// ---- writing -------------------------------------------------------------------

TEST(ReportOutput, FailedWriteLeavesThePreviousReportIntact) {
  if (!have_matplotlib()) GTEST_SKIP() << kPython << " lacks matplotlib (Debian package python3-matplotlib)";
  const std::string dir = scratch(), out = dir + "out";
  const std::string a = kFixtures + "result_a.json", b = kFixtures + "result_b.json";
  ASSERT_EQ(bitlab("report " + a + " -o " + out).code, 0);
  // Written as any new file is: the umask decides, not the temporary's 0600.
  const mode_t mask = umask(0);
  umask(mask);
  EXPECT_EQ(fs::status(out + "/report.html").permissions(), fs::perms((0666 & ~mask)));
  const auto before = snapshot(out);
  // A file size limit (root ignores permissions, not this): report.html cannot be written whole.
  std::string cmdline = "bash -c 'ulimit -f 40 && exec ";
  cmdline.append(BITLAB_BIN).append(" report ").append(b).append(" -o ").append(out).append("'");
  expect_error(bitlab::test::run_command(cmdline), 1, {"cannot write the report to " + out, "File too large"});
  const auto after = snapshot(out);
  EXPECT_EQ(names(after), names(before)) << "a temporary or a new plot was left behind";
  EXPECT_TRUE(after == before) << "the previous report was changed";
  // The same into a folder that did not exist: it is not left behind, empty.
  cmdline = "bash -c 'ulimit -f 40 && exec ";
  cmdline.append(BITLAB_BIN).append(" report ").append(b).append(" -o ").append(dir + "new").append("'");
  expect_error(bitlab::test::run_command(cmdline), 1, {"cannot write"});
  EXPECT_FALSE(fs::exists(dir + "new"));
}

TEST(ReportOutput, TargetThatIsNotARegularFileIsRefused) {
  const std::string dir = scratch(), out = dir + "out";
  const std::string a = kFixtures + "result_a.json";
  fs::create_directories(out + "/report.html");
  expect_error(bitlab("report " + a + " -o " + out), 1, {"report.html", "not a regular file"});
  EXPECT_EQ(names(snapshot(out)), std::vector<std::string>{"report.html"}) << "something was written beside it";
  fs::remove(out + "/report.html");
  // A FIFO where report.md goes: opening it to write would wait for a reader.
  ASSERT_EQ(mkfifo((out + "/report.md").c_str(), 0600), 0);
  expect_error(bitlab_within(20, "report " + a + " -o " + out), 1, {"report.md", "not a regular file"});
  EXPECT_EQ(names(snapshot(out)), std::vector<std::string>{"report.md"});
  // -o naming a file.
  const std::string file = write(dir + "plain", std::string("x"));
  expect_error(bitlab("report " + a + " -o " + file), 1, {"plain exists and is not a folder"});
  EXPECT_EQ(slurp(file), "x");
}

// Interrupts report.py while it writes: a sitecustomize module, found first on
// PYTHONPATH, wraps os.fsync so that the second file synced sends SIGINT to
// report.py itself, to `bitlab` (which must pass it on), or to both (as a
// terminal's Ctrl-C does), then waits until the signal has reached report.py.
TEST(ReportOutput, InterruptLeavesNoTemporaries) {
  if (!have_matplotlib()) GTEST_SKIP() << kPython << " lacks matplotlib (Debian package python3-matplotlib)";
  for (const std::string targets : {"[os.getpid()]", "[os.getppid()]", "[os.getpid(), os.getppid()]"}) {
    SCOPED_TRACE(targets);
    const Rerun run = rerun_with_hook(std::string(kHookPrelude) + "on_second_fsync(lambda: interrupt(" + targets +
                                      "))\n");
    expect_error(run.r, 1, {"interrupted"});
    const auto after = snapshot(run.out);
    EXPECT_EQ(names(after), names(run.before)) << "a temporary was left behind";
    EXPECT_TRUE(after == run.before) << "the previous report was changed";
  }
}

// An interrupt that comes once every file is in place changes nothing: exit 0
// and no error. Here print() (the "wrote" line) is wrapped to send SIGINT to
// `bitlab`, which passes it on, and to wait until it has reached report.py.
TEST(ReportOutput, InterruptAfterTheReportIsWrittenIsNotAFailure) {
  if (!have_matplotlib()) GTEST_SKIP() << kPython << " lacks matplotlib (Debian package python3-matplotlib)";
  const Rerun run = rerun_with_hook(std::string(kHookPrelude) +
                                    "import builtins\n"
                                    "_print = builtins.print\n"
                                    "def late(*args, **kwargs):\n"
                                    "    interrupt([os.getppid()])\n"
                                    "    _print(*args, **kwargs)\n"
                                    "builtins.print = late\n");
  EXPECT_EQ(run.r.code, 0) << run.r.err;
  EXPECT_TRUE(run.r.err.empty()) << run.r.err;
  EXPECT_NE(slurp(run.out + "/report.md"), run.before.at("report.md")) << "the report was not replaced";
}

// A Ctrl-C reaches report.py twice (from the terminal, and passed on by
// `bitlab`); the second may come while Python shuts down, when its default
// action (death by the signal) is back. The exit hook sets that default, as
// Python's shutdown does, and sends the signal: still one line, exit 1.
TEST(ReportOutput, SecondInterruptWhileShuttingDownAddsNothing) {
  if (!have_matplotlib()) GTEST_SKIP() << kPython << " lacks matplotlib (Debian package python3-matplotlib)";
  const Rerun run = rerun_with_hook(std::string(kHookPrelude) +
                                    "import atexit\n"
                                    "on_second_fsync(lambda: interrupt([os.getpid()]))\n"
                                    "def shutdown():\n"
                                    "    signal.signal(signal.SIGINT, signal.SIG_DFL)\n"
                                    "    os.kill(os.getpid(), signal.SIGINT)\n"
                                    "    time.sleep(0.2)\n"
                                    "atexit.register(shutdown)\n");
  expect_error(run.r, 1, {"interrupted; no file written or replaced"});
  EXPECT_TRUE(snapshot(run.out) == run.before) << "the previous report was changed";
}

// An interrupt acted on inside a callback Python cannot raise from (a weakref
// callback, as the import machinery uses) is swallowed there: it must still stop
// the report before anything is replaced, with one line and no "Exception ignored".
TEST(ReportOutput, InterruptSwallowedInACallbackStillStops) {
  if (!have_matplotlib()) GTEST_SKIP() << kPython << " lacks matplotlib (Debian package python3-matplotlib)";
  const Rerun run = rerun_with_hook(std::string(kHookPrelude) +
                                    "import base64, weakref\n"
                                    "_encode, _calls = base64.b64encode, []\n"
                                    "class Thing:\n"
                                    "    pass\n"
                                    "def gone(ref):\n"
                                    "    os.kill(os.getpid(), signal.SIGINT)\n"
                                    "    time.sleep(0.3)\n"
                                    "def encode(data, *args):\n"
                                    "    if not _calls:\n"
                                    "        _calls.append(Thing())\n"
                                    "        _calls.append(weakref.ref(_calls[0], gone))\n"
                                    "        del _calls[0]\n"
                                    "    return _encode(data, *args)\n"
                                    "base64.b64encode = encode\n");
  expect_error(run.r, 1, {"interrupted; no file written or replaced"});
  EXPECT_TRUE(snapshot(run.out) == run.before) << "the previous report was changed";
}

}  // namespace

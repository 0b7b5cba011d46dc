// Result documents rendered for other tools, through the binary: `bitlab bench
// -o FORMAT` on the tiny model, and `bitlab results FILE... -o FORMAT` on its
// result file, read back by the tools that consume each format (sqlite3,
// Google Benchmark's compare.py) or parsed here.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/cli_test_util.h"

namespace {

using bitlab::test::CmdResult;
using bitlab::test::kPython;
using bitlab::test::run_bitlab;
using bitlab::test::run_command;
using bitlab::test::slurp;
using nlohmann::json;

void write_file(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// RFC 4180 records: quoted fields may hold commas, doubled quotes and line breaks.
std::vector<std::vector<std::string>> parse_csv(const std::string& text) {
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row;
  std::string field;
  bool quoted = false, any = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"') field += '"', ++i;
      else if (c == '"') quoted = false;
      else field += c;
    } else if (c == '"') {
      quoted = any = true;
    } else if (c == ',') {
      row.push_back(field), field.clear();
    } else if (c == '\r' || c == '\n') {
      if (c == '\r' && i + 1 < text.size() && text[i + 1] == '\n') ++i;
      row.push_back(field), field.clear();
      rows.push_back(row), row.clear();
    } else {
      field += c, any = true;
    }
  }
  EXPECT_FALSE(quoted) << "unterminated quoted field";
  if (!field.empty() || !row.empty()) row.push_back(field), rows.push_back(row);
  (void)any;
  return rows;
}

// One quick bench of the scalar backend on the tiny model, two heads, with
// `-o sql`, shared by the tests: its result file, stdout and stderr.
class ResultFormats : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new std::string(::testing::TempDir() + "/bitlab_formats_" + std::to_string(getpid()) + "/");
    std::filesystem::create_directories(*dir_);
    file_ = new std::string(*dir_ + "bench.json");
    bench_ = new CmdResult(run_bitlab("bench --quick --model synthetic:tiny --threads 1 --backends scalar --heads "
                                      "bf16,int8 --tokens 1 --repetitions 3 --energy-source none --out " +
                                      *file_ + " -o sql"));
    if (bench_->code == 0) doc_ = new json(json::parse(slurp(*file_)));
  }
  static void TearDownTestSuite() {
    std::filesystem::remove_all(*dir_);
    delete dir_, delete file_, delete bench_, delete doc_;
  }
  void SetUp() override {
    ASSERT_EQ(bench_->code, 0) << bench_->err;
    ASSERT_NE(doc_, nullptr);
  }
  static size_t count(const std::string& kind) {
    size_t n = 0;
    for (const auto& m : (*doc_)["measurements"]) n += m["kind"] == kind;
    return n;
  }
  // `bitlab results ARGS`, expected to succeed.
  static std::string results(const std::string& args) {
    const CmdResult r = run_bitlab("results " + args);
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(r.err, "");
    return r.out;
  }
  static std::string sqlite(const std::string& db, const std::string& query) {
    const CmdResult r = run_command("sqlite3 -separator '|' " + db + " \"" + query + "\"");
    EXPECT_EQ(r.code, 0) << r.err;
    return r.out;
  }

  static std::string* dir_;
  static std::string* file_;
  static CmdResult* bench_;
  static json* doc_;
};
std::string* ResultFormats::dir_ = nullptr;
std::string* ResultFormats::file_ = nullptr;
CmdResult* ResultFormats::bench_ = nullptr;
json* ResultFormats::doc_ = nullptr;

TEST_F(ResultFormats, BenchSqlOnStdoutLoadsIntoSqliteWithOneRowPerEndToEndCase) {
  // stdout is the SQL alone: the table and progress went to stderr.
  EXPECT_EQ(bench_->out.rfind("CREATE TABLE IF NOT EXISTS llama_bench (", 0), 0u) << bench_->out.substr(0, 200);
  EXPECT_NE(bench_->err.find("result file: "), std::string::npos);
  EXPECT_NE(bench_->err.find("prefill (prompt 16"), std::string::npos) << bench_->err;
  const std::string sql = *dir_ + "bench.sql", db = *dir_ + "bench.db";
  write_file(sql, bench_->out);
  // Braces: run_command closes stdin after the whole line, not the pipe's reader.
  const CmdResult load = run_command("{ cat " + sql + " | sqlite3 " + db + "; }");;
  ASSERT_EQ(load.code, 0) << load.err;
  ASSERT_EQ(load.err, "");

  const auto rows = lines_of(sqlite(db, "SELECT build_commit, backends, n_threads, n_prompt, n_gen, n_depth, avg_ts, "
                                        "stddev_ts, avg_ns, model_type, bitlab_key FROM llama_bench"));
  ASSERT_EQ(rows.size(), count("e2e"));
  ASSERT_EQ(count("e2e"), 4u);  // prefill and decode for each head
  const std::string commit = (*doc_)["context"]["git"]["commit"].get<std::string>().substr(0, 8);
  for (const std::string& line : rows) {
    std::vector<std::string> f;
    std::istringstream in(line);
    for (std::string x; std::getline(in, x, '|');) f.push_back(x);
    ASSERT_EQ(f.size(), 11u) << line;
    EXPECT_EQ(f[0], commit);
    EXPECT_EQ(f[1], "scalar");
    EXPECT_EQ(f[2], "1");
    const json* m = nullptr;
    for (const auto& x : (*doc_)["measurements"])
      if (x["key"] == f[10]) m = &x;
    ASSERT_NE(m, nullptr) << f[10];
    // prefill: pp<prompt>; decode: tg<gen> at the depth of the prompt.
    const bool prefill = (*m)["name"] == "prefill";
    EXPECT_EQ(f[3], prefill ? "16" : "0") << line;
    EXPECT_EQ(f[4], prefill ? "0" : "8") << line;
    EXPECT_EQ(f[5], prefill ? "0" : "16") << line;
    EXPECT_NE(f[9].find(f[10].find("head:int8") != std::string::npos ? "int8 head" : "bf16 head"), std::string::npos);
    // avg_ts: the mean over the samples of tokens per second.
    double ts = 0;
    for (const auto& s : (*m)["samples"]) ts += (*m)["tokens"].get<double>() / s.get<double>();
    ts /= double((*m)["samples"].size());
    EXPECT_NEAR(std::stod(f[6]), ts, 1e-6 * ts) << line;
    EXPECT_GE(std::stod(f[7]), 0.0);
    // avg_ns is the whole test's time, as llama-bench's: a decode sample is
    // one step, the tg8 test eight of them.
    double ns = 0;
    for (const auto& s : (*m)["samples"]) ns += s.get<double>() * 1e9 * (prefill ? 1 : 8);
    ns /= double((*m)["samples"].size());
    EXPECT_NEAR(std::stod(f[8]), ns, 1.0) << line;
  }
}

TEST_F(ResultFormats, SqlOfSeveralFilesCreatesTheTableOnceAndAppendsToAnExistingDatabase) {
  const std::string sql = results(*file_ + " " + *file_ + " -o sql");
  size_t creates = 0, inserts = 0;
  for (const std::string& line : lines_of(sql)) {
    creates += line.starts_with("CREATE TABLE");
    inserts += line.starts_with("INSERT INTO llama_bench");
  }
  EXPECT_EQ(creates, 1u);
  EXPECT_EQ(inserts, 2 * count("e2e"));  // kernels stay out of llama-bench's table
  const std::string file = *dir_ + "two.sql", db = *dir_ + "two.db";
  write_file(file, sql);
  // Twice into one database: CREATE TABLE IF NOT EXISTS, then more rows.
  const std::string load = "{ cat " + file + " | sqlite3 " + db + "; }";
  for (int i = 0; i < 2; ++i) {
    const CmdResult r = run_command(load);
    ASSERT_EQ(r.code, 0) << r.err;
    ASSERT_EQ(r.err, "");
  }
  EXPECT_EQ(sqlite(db, "SELECT COUNT(*) FROM llama_bench"), std::to_string(4 * count("e2e")) + "\n");
  // The columns compare-llama-bench.py keys on are all there.
  EXPECT_EQ(sqlite(db, "SELECT COUNT(*) FROM llama_bench WHERE use_mmap = 1 AND load_mode = 'mmap' AND "
                       "n_batch = 2048 AND type_k = 'f16' AND test_time = '" +
                           (*doc_)["context"]["timestamp"].get<std::string>() + "'"),
            std::to_string(4 * count("e2e")) + "\n");
}

TEST_F(ResultFormats, CsvHasOneHeaderAndEveryRowItsFieldsWithCommasAndQuotesQuoted) {
  // A CPU name with a comma and quotes, and a line break in the model.
  json doc = *doc_;
  doc["context"]["host"]["cpu_model"] = "Vendor, Inc. \"Fast\" CPU";
  doc["context"]["model"] = "tiny\nmodel";
  const std::string odd = *dir_ + "odd.json";
  write_file(odd, doc.dump());
  const auto rows = parse_csv(results(*file_ + " " + odd + " -o csv"));
  ASSERT_EQ(rows.size(), 1 + 2 * (*doc_)["measurements"].size());
  const std::vector<std::string>& header = rows.front();
  EXPECT_EQ(header.front(), "commit");
  const auto column = [&](const std::string& name) {
    return size_t(std::find(header.begin(), header.end(), name) - header.begin());
  };
  for (const char* name : {"cpu", "threads", "model", "backend", "variant", "key", "test", "n_prompt", "n_gen",
                           "n_depth", "mean_s", "median_s", "sd_s", "tokens_per_s"})
    ASSERT_LT(column(name), header.size()) << name;
  for (size_t i = 1; i < rows.size(); ++i) {
    ASSERT_EQ(rows[i].size(), header.size()) << "row " << i;
    const bool second = i > (*doc_)["measurements"].size();
    EXPECT_EQ(rows[i][column("cpu")], second ? "Vendor, Inc. \"Fast\" CPU"
                                             : (*doc_)["context"]["host"]["cpu_model"].get<std::string>());
    EXPECT_EQ(rows[i][column("model")], second ? "tiny\nmodel" : "synthetic:tiny");
    const json& m = (*doc_)["measurements"][(i - 1) % (*doc_)["measurements"].size()];
    EXPECT_EQ(rows[i][column("key")], m["key"]);
    EXPECT_NEAR(std::stod(rows[i][column("median_s")]), m["stats"]["median"].get<double>(), 1e-12);
    EXPECT_EQ(rows[i][column("tokens_per_s")].empty(), m["kind"] == "kernel") << m["key"];
  }
}

TEST_F(ResultFormats, JsonlIsOneObjectPerMeasurementWithItsContext) {
  const auto lines = lines_of(results(*file_ + " -o jsonl"));
  ASSERT_EQ(lines.size(), (*doc_)["measurements"].size());
  for (size_t i = 0; i < lines.size(); ++i) {
    const json row = json::parse(lines[i]);  // throws (fails the test) if a line is not JSON
    const json& m = (*doc_)["measurements"][i];
    EXPECT_EQ(row["key"], m["key"]);
    EXPECT_EQ(row["commit"], (*doc_)["context"]["git"]["commit"]);
    EXPECT_EQ(row["cpu"], (*doc_)["context"]["host"]["cpu_model"]);
    EXPECT_EQ(row["threads"], 1);
    EXPECT_EQ(row["model"], "synthetic:tiny");
    EXPECT_EQ(row["backend"], "scalar");
    EXPECT_EQ(row["variant"], m["variant"]);
    EXPECT_DOUBLE_EQ(row["mean_s"].get<double>(), m["stats"]["mean"].get<double>());
    if (m["name"] == "decode") {
      EXPECT_EQ(row["n_gen"], 8);
      EXPECT_EQ(row["n_depth"], 16);
      EXPECT_EQ(row["test"], "tg8 @ d16");
    } else if (m["name"] == "prefill") {
      EXPECT_EQ(row["n_prompt"], 16);
      EXPECT_EQ(row["test"], "pp16");
    } else {
      EXPECT_TRUE(row["n_prompt"].is_null());
      EXPECT_TRUE(row["tokens_per_s"].is_null());
      EXPECT_EQ(row["test"].get<std::string>().rfind(m["name"].get<std::string>(), 0), 0u);
    }
  }
}

TEST_F(ResultFormats, MarkdownIsLlamaBenchsTableWithOneRowPerEndToEndCase) {
  const auto lines = lines_of(results(*file_ + " -o md"));
  ASSERT_GE(lines.size(), 2u);
  // The header's cells, trimmed: llama-bench's columns in its order.
  std::vector<std::string> header;
  std::istringstream in(lines[0]);
  for (std::string cell; std::getline(in, cell, '|');) {
    cell.erase(0, cell.find_first_not_of(' '));
    cell.erase(cell.find_last_not_of(' ') + 1);
    if (!cell.empty()) header.push_back(cell);
  }
  EXPECT_EQ(header, (std::vector<std::string>{"model", "size", "params", "backend", "threads", "test", "t/s"}));
  EXPECT_EQ(lines[1].find_first_not_of("|-: "), std::string::npos) << lines[1];
  size_t rows = 0, pp = 0, tg = 0;
  for (size_t i = 2; i < lines.size(); ++i) {
    if (!lines[i].starts_with("|")) continue;
    ++rows;
    EXPECT_NE(lines[i].find(" ± "), std::string::npos) << lines[i];
    pp += lines[i].find(" pp16 |") != std::string::npos;
    tg += lines[i].find(" tg8 @ d16 |") != std::string::npos;
  }
  EXPECT_EQ(rows, count("e2e"));
  EXPECT_EQ(pp, 2u);
  EXPECT_EQ(tg, 2u);
  EXPECT_EQ(lines.back(), "build: " + (*doc_)["context"]["git"]["commit"].get<std::string>().substr(0, 8) +
                              ((*doc_)["context"]["git"]["dirty"].get<bool>() ? "-dirty" : "") + " (bitlab " +
                              (*doc_)["context"]["bitlab_version"].get<std::string>() + ")");
}

TEST_F(ResultFormats, JsonIsTheDocumentAsWritten) {
  EXPECT_EQ(json::parse(results(*file_ + " -o json")), *doc_);
  const json two = json::parse(results(*file_ + " " + *file_ + " --output json"));
  ASSERT_TRUE(two.is_array());
  EXPECT_EQ(two.size(), 2u);
}

TEST_F(ResultFormats, AResultWithoutMeasurementsGivesTheHeadersAlone) {
  // A `bitlab check` result holds correctness records only.
  json doc = *doc_;
  doc["measurements"] = json::array();
  const std::string check = *dir_ + "check.json";
  write_file(check, doc.dump());
  const auto csv = parse_csv(results(check + " -o csv"));
  ASSERT_EQ(csv.size(), 1u);
  EXPECT_EQ(csv[0].front(), "commit");
  EXPECT_EQ(results(check + " -o jsonl"), "");
  EXPECT_EQ(lines_of(results(check + " -o md")).size(), 4u);  // header, rule, blank, build
  EXPECT_EQ(results(check + " -o sql").find("INSERT"), std::string::npos);
  EXPECT_EQ(json::parse(results(check + " -o gbench"))["benchmarks"], json::array());
}

TEST_F(ResultFormats, GbenchHasTheKernelCasesAsGoogleBenchmarkRunsThatCompareReads) {
  const std::string gb = *dir_ + "gbench.json";
  write_file(gb, results(*file_ + " -o gbench"));
  const json j = json::parse(slurp(gb));
  ASSERT_TRUE(j["context"].is_object());
  size_t kernels = 0;
  for (const auto& m : (*doc_)["measurements"]) {
    if (m["kind"] != "kernel") continue;
    ++kernels;
    const std::string name = m["key"].get<std::string>().substr(7);
    size_t reps = 0;
    std::map<std::string, double> aggs;
    for (const auto& b : j["benchmarks"]) {
      if (b["run_name"] != name) continue;
      for (const char* f : {"name", "run_type", "repetitions", "real_time", "cpu_time", "time_unit", "iterations"})
        ASSERT_TRUE(b.contains(f)) << f;
      EXPECT_EQ(b["repetitions"], m["samples"].size());
      EXPECT_EQ(b["time_unit"], "ns");
      if (b["run_type"] == "iteration") {
        EXPECT_EQ(b["name"], name);
        EXPECT_EQ(b["repetition_index"], reps);
        EXPECT_DOUBLE_EQ(b["real_time"].get<double>(), m["samples"][reps].get<double>() * 1e9);
        ++reps;
      } else {
        EXPECT_EQ(b["run_type"], "aggregate");
        EXPECT_EQ(b["name"], name + "_" + b["aggregate_name"].get<std::string>());
        aggs[b["aggregate_name"]] = b["real_time"].get<double>();
      }
    }
    EXPECT_EQ(reps, m["samples"].size()) << name;
    EXPECT_NEAR(aggs["mean"], m["stats"]["mean"].get<double>() * 1e9, 1e-6 * aggs["mean"]) << name;
    EXPECT_NEAR(aggs["median"], m["stats"]["median"].get<double>() * 1e9, 1e-6 * aggs["median"]) << name;
    EXPECT_TRUE(aggs.count("stddev")) << name;
  }
  ASSERT_GT(kernels, 0u);
  EXPECT_EQ(j["benchmarks"].size(), kernels * (3 + 3));  // 3 repetitions + mean, median, stddev

  // Google Benchmark's own compare.py (Debian libbenchmark-tools, with
  // python3-scipy; scripts/deps installs both) reads it against itself.
  const std::string compare = "/usr/share/benchmark/compare.py";
  if (access(compare.c_str(), R_OK) != 0 || !bitlab::test::python_has("scipy")) {
    ADD_FAILURE() << compare << " or scipy missing (Debian libbenchmark-tools, python3-scipy): gbench output not "
                  << "read by compare.py";
    return;
  }
  const CmdResult r = run_command(kPython + " " + compare + " --no-color benchmarks " + gb + " " + gb);
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  const std::string first = (*doc_)["measurements"][0]["key"].get<std::string>().substr(7);
  EXPECT_NE(r.out.find(first + "_mean"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("+0.0000"), std::string::npos) << r.out;
}

TEST_F(ResultFormats, AnUnknownFormatIsRefusedInOneLine) {
  for (const std::string& args : {"results " + *file_ + " -o xml", std::string("bench --model synthetic:tiny -o xml")}) {
    const CmdResult r = run_bitlab(args);
    EXPECT_EQ(r.code, 2) << args;
    EXPECT_EQ(r.out, "") << args;
    EXPECT_EQ(r.err, "bitlab: --output: unknown output format 'xml' (formats: json, jsonl, csv, md, sql, gbench)\n")
        << args;
  }
}

TEST_F(ResultFormats, AFileThatIsNotAResultIsRefusedInOneLineNamingIt) {
  const std::string other = *dir_ + "other.json";
  write_file(other, R"({"benchmarks": []})");
  CmdResult r = run_bitlab("results " + other + " -o csv");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(lines_of(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find(other + " is not a bitlab result document"), std::string::npos) << r.err;

  // A result whose measurement lacks a field the formats need: named, not a crash.
  json doc = *doc_;
  doc["measurements"][0].erase("kind");
  const std::string broken = *dir_ + "broken.json";
  write_file(broken, doc.dump());
  r = run_bitlab("results " + broken + " -o jsonl");
  EXPECT_EQ(r.code, 2);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "bitlab: " + broken + ": measurements[0].kind: missing\n");
}

}  // namespace

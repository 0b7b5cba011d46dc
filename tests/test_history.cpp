// bitlab history: the change-point search on synthetic series, then the
// store through the binary and through its interface, once per database: an
// SQLite file always, PostgreSQL when BITLAB_TEST_POSTGRES_URL names a server
// (scripts/with-postgres), skipped with a message otherwise.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <random>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "harness/history/change_points.h"
#include "harness/history/records.h"
#include "harness/history/store.h"
#include "harness/result_reader.h"
#include "model/error.h"
#include "tests/cli_test_util.h"
#include "tests/history_docs.h"
#include "tests/history_postgres_db.h"

namespace bitlab {
namespace {

using nlohmann::json;
using test::run_bitlab;

// --- change points -----------------------------------------------------------

std::vector<double> noisy(size_t n, double level, double spread, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::normal_distribution<double> noise(0.0, spread);
  std::vector<double> v(n);
  for (double& x : v) x = level + noise(rng);
  return v;
}

TEST(ChangePoints, StepAtKnownIndexIsFoundThere) {
  std::vector<double> v = noisy(6, 10.0, 0.2, 1);
  const std::vector<double> after = noisy(6, 13.0, 0.2, 2);
  v.insert(v.end(), after.begin(), after.end());
  const auto cps = history::find_change_points(v);
  ASSERT_EQ(cps.size(), 1u);
  EXPECT_EQ(cps[0].index, 6u);
  EXPECT_LE(cps[0].p_value, 0.01);
}

TEST(ChangePoints, FlatNoisySeriesHasNone) {
  for (const uint64_t seed : {3, 4, 5}) {
    const auto cps = history::find_change_points(noisy(40, 10.0, 0.5, seed));
    EXPECT_TRUE(cps.empty()) << "seed " << seed << ": a change at " << cps.front().index;
  }
}

TEST(ChangePoints, TwoStepsAreBothFound) {
  std::vector<double> v = noisy(10, 5.0, 0.2, 6);
  for (const double x : noisy(10, 7.0, 0.2, 7)) v.push_back(x);
  for (const double x : noisy(10, 4.0, 0.2, 8)) v.push_back(x);
  const auto cps = history::find_change_points(v);
  ASSERT_EQ(cps.size(), 2u);
  EXPECT_EQ(cps[0].index, 10u);
  EXPECT_EQ(cps[1].index, 20u);
}

TEST(ChangePoints, ShortOrConstantSeriesHasNone) {
  EXPECT_TRUE(history::find_change_points(std::vector<double>{1, 2, 3, 4, 5}).empty());
  EXPECT_TRUE(history::find_change_points(std::vector<double>(12, 3.0)).empty());
}

// --- result documents built here --------------------------------------------

constexpr const char* kDecodeKey = "e2e/decode/scalar/synthetic:tiny/prompt:8/threads:2";
constexpr const char* kMatmulKey = "kernel/matmul_w2a8/scalar/N:64/K:64/T:1/threads:2";

using test::history_measurement;
std::string commit_of(int i) { return test::history_commit(i); }

// Run `i` of a series: commit i, minute i, decode taking `decode_s`.
json result_doc(int i, double decode_s, const std::string& cpu = "Test CPU 9000") {
  return test::history_result_doc(i,
                                  {history_measurement(kDecodeKey, "e2e", decode_s, 0.01, uint64_t(i)),
                                   history_measurement(kMatmulKey, "kernel", 2e-6, 0.01, uint64_t(i) + 100)},
                                  cpu);
}

std::string write_doc(const std::string& path, const json& doc) {
  std::ofstream(path) << doc.dump(1);
  return path;
}

std::string shell_quoted(const std::string& s) { return "'" + s + "'"; }

// --- what the history reads from a result document ----------------------------

TEST(HistoryRecord, ContextAndDerivedValuesAreReadAndChecked) {
  const json doc = result_doc(3, 0.010);
  const history::Record r = history::record_from(cli::parse_result(doc.dump(), "run.json"));
  EXPECT_EQ(r.run.commit, commit_of(3));
  EXPECT_EQ(r.run.timestamp, "2026-01-01T10:03:00Z");
  EXPECT_EQ(r.run.command, "bitlab bench --quick");
  EXPECT_EQ(r.run.threads, 2);
  EXPECT_EQ(r.run.file_hash.size(), 16u);
  ASSERT_EQ(r.measurements.size(), 2u);
  EXPECT_EQ(r.measurements[0].backend, "scalar");
  EXPECT_DOUBLE_EQ(r.measurements[0].tokens_per_s, 100.0);
  EXPECT_DOUBLE_EQ(r.measurements[0].roofline_fraction, 0.5);
  // A different byte layout of the same document is a different file.
  EXPECT_NE(history::record_from(cli::parse_result(doc.dump(2), "run.json")).run.file_hash, r.run.file_hash);
  // A thread count that is no count is refused, naming the field, before it
  // is converted to an integer (1e300 does not fit).
  for (const json& bad : {json(1e300), json(-2), json(1.5), json("two")}) {
    json d = doc;
    d["context"]["threads"] = bad;
    try {
      cli::parse_result(d.dump(), "run.json");
      ADD_FAILURE() << "threads " << bad << " accepted";
    } catch (const UsageError& e) {
      EXPECT_NE(std::string(e.what()).find("context.threads"), std::string::npos) << e.what();
    }
  }
  json d = doc;
  d["measurements"][0]["derived"]["tokens_per_s"] = "fast";
  EXPECT_THROW(cli::parse_result(d.dump(), "run.json"), UsageError);
}

// --- one suite, two databases --------------------------------------------------

struct SqliteDb {
  static std::string open(const std::string& dir, const std::string&, std::string& why) {
    if (!history::have_sqlite()) why = "this build has no SQLite support (libsqlite3-dev)";
    return history::have_sqlite() ? dir + "history.sqlite" : "";
  }
  static void close(const std::string&) {}
};

struct PostgresDb {
  static std::string open(const std::string&, const std::string& name, std::string& why) {
    if (!history::have_postgres()) {
      why = "this build has no PostgreSQL support (libpq-dev)";
      return "";
    }
    return test::create_postgres_database(name, why);
  }
  static void close(const std::string& name) { test::drop_postgres_database(name); }
};

template <class Db>
class HistoryStore : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = test::scratch_dir("history");
    const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
    std::string name = fmt::format("bitlab_test_{}_{}", getpid(), info->name());
    for (char& c : name) c = std::isalnum(static_cast<unsigned char>(c)) ? char(std::tolower(c)) : '_';
    name_ = name.substr(0, 60);
    std::string why;
    db_ = Db::open(dir_, name_, why);
    if (db_.empty()) GTEST_SKIP() << why;
  }
  void TearDown() override {
    if (!db_.empty()) Db::close(name_);
  }
  test::CmdResult history(const std::string& args) { return run_bitlab("history " + args + " --db " + shell_quoted(db_)); }
  std::string doc(int i, double decode_s) {
    return write_doc(dir_ + fmt::format("run{}.json", i), result_doc(i, decode_s));
  }

  std::string dir_, name_, db_;
};

using Databases = ::testing::Types<SqliteDb, PostgresDb>;
class DatabaseNames {
 public:
  template <class T>
  static std::string GetName(int) {
    return std::is_same_v<T, SqliteDb> ? "SQLite" : "PostgreSQL";
  }
};
TYPED_TEST_SUITE(HistoryStore, Databases, DatabaseNames);

TYPED_TEST(HistoryStore, AddedFilesAreListedShownAndTrended) {
  const std::string a = this->doc(1, 0.010), b = this->doc(2, 0.020);
  const auto added = this->history("add " + a + " " + b);
  ASSERT_EQ(added.code, 0) << added.err;
  EXPECT_NE(added.out.find("added " + a + ": run"), std::string::npos) << added.out;
  EXPECT_NE(added.out.find("2 measurements"), std::string::npos) << added.out;

  const auto list = this->history("list");
  ASSERT_EQ(list.code, 0) << list.err;
  EXPECT_NE(list.out.find(commit_of(1).substr(0, 12)), std::string::npos) << list.out;
  EXPECT_NE(list.out.find(commit_of(2).substr(0, 12)), std::string::npos) << list.out;
  EXPECT_LT(list.out.find(commit_of(1).substr(0, 12)), list.out.find(commit_of(2).substr(0, 12))) << "oldest first";

  const auto show = this->history("show " + commit_of(2).substr(0, 8));
  ASSERT_EQ(show.code, 0) << show.err;
  EXPECT_NE(show.out.find(commit_of(2)), std::string::npos) << show.out;
  EXPECT_EQ(show.out.find(commit_of(1)), std::string::npos) << show.out;
  EXPECT_NE(show.out.find(kMatmulKey), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("Test CPU 9000"), std::string::npos) << show.out;

  const auto trend = this->history(fmt::format("trend {} --metric tokens_per_s --format json", kDecodeKey));
  ASSERT_EQ(trend.code, 0) << trend.err;
  const json t = json::parse(trend.out);
  ASSERT_EQ(t["points"].size(), 2u);
  EXPECT_EQ(t["points"][0]["commit"], commit_of(1));
  EXPECT_DOUBLE_EQ(t["points"][0]["value"].get<double>(), 100.0);  // 1 / 0.010 s, from the file's derived value
  EXPECT_DOUBLE_EQ(t["points"][1]["value"].get<double>(), 50.0);
  EXPECT_TRUE(t["change_points"].empty());

  // The median the history keeps is the samples' own, not the file's "stats".
  const auto store = history::open_store(this->db_, false);
  const auto runs = store->runs();
  ASSERT_EQ(runs.size(), 2u);
  EXPECT_EQ(runs[0].threads, 2);
  EXPECT_DOUBLE_EQ(runs[0].bandwidth_gbps, 30.5);
  const auto ms = store->measurements(runs[0].id);
  ASSERT_EQ(ms.size(), 2u);
  EXPECT_NEAR(ms[0].median, 0.010, 0.0002);
  EXPECT_EQ(ms[0].samples, 5);
  EXPECT_GT(ms[0].sd, 0);
  EXPECT_EQ(ms[0].variant, "portable");
  EXPECT_TRUE(std::isnan(ms[1].tokens_per_s)) << "a kernel has no tokens/s";
}

TYPED_TEST(HistoryStore, SameFileOrSameRunIsSkipped) {
  const std::string a = this->doc(1, 0.010);
  ASSERT_EQ(this->history("add " + a).code, 0);
  const auto again = this->history("add " + a);
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_NE(again.out.find("skipped " + a + ": already in the history (the same file)"), std::string::npos) << again.out;
  // The same run written out differently (indentation): matched on commit, time, machine and command.
  const std::string copy = this->dir_ + "copy.json";
  std::ofstream(copy) << result_doc(1, 0.010).dump();
  const auto same_run = this->history("add " + copy);
  ASSERT_EQ(same_run.code, 0) << same_run.err;
  EXPECT_NE(same_run.out.find("same commit, time, machine and command"), std::string::npos) << same_run.out;
  EXPECT_EQ(history::open_store(this->db_, false)->runs().size(), 1u);
}

TYPED_TEST(HistoryStore, BadFileAddsNothing) {
  const std::string good = this->doc(1, 0.010);
  const std::string whole = result_doc(2, 0.010).dump();
  const std::string truncated = this->dir_ + "truncated.json";
  std::ofstream(truncated) << whole.substr(0, whole.size() / 2);
  const std::string other = write_doc(this->dir_ + "other.json", json{{"hello", "world"}});
  json no_time = result_doc(3, 0.010);
  no_time["context"].erase("timestamp");
  const std::string untimed = write_doc(this->dir_ + "untimed.json", no_time);
  ASSERT_NO_THROW(history::open_store(this->db_, true));
  // Bad input files are usage errors, as for bitlab compare (the same reader).
  for (const std::string& bad : {truncated, other, untimed, this->dir_ + "missing.json"}) {
    const auto r = this->history(fmt::format("add {} {}", good, bad));
    EXPECT_EQ(r.code, 2) << bad << ": " << r.out;
    EXPECT_NE(r.err.find(bad), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
  const auto list = this->history("list");
  EXPECT_EQ(list.code, 0) << list.err;
  EXPECT_NE(list.out.find("is empty"), std::string::npos) << list.out;
}

TYPED_TEST(HistoryStore, FailedInsertRollsBackTheWholeRun) {
  history::Record r = history::record_from(cli::read_result_file(this->doc(1, 0.010)));
  r.measurements.push_back(r.measurements.front());  // the same key twice: the second insert fails
  const auto store = history::open_store(this->db_, true);
  EXPECT_THROW(store->add(r.run, r.measurements), std::exception);
  EXPECT_TRUE(store->runs().empty()) << "the run row went in without its measurements";
  r.measurements.pop_back();
  EXPECT_EQ(store->add(r.run, r.measurements), history::AddOutcome::added);
  EXPECT_EQ(store->measurements(r.run.id).size(), 2u);
}

TYPED_TEST(HistoryStore, TrendNamesTheCommitWhereTheMetricJumped) {
  std::vector<std::string> files;
  // Twelve runs on twelve commits; decode gets 30% slower from the seventh.
  for (int i = 1; i <= 12; ++i) files.push_back(this->doc(i, i < 7 ? 0.010 : 0.013));
  std::string args = "add";
  for (const std::string& f : files) args += " " + f;
  ASSERT_EQ(this->history(args).code, 0);

  const auto r = this->history(fmt::format("trend {} --format json --machine 'CPU 9' --backend scalar", kDecodeKey));
  ASSERT_EQ(r.code, 0) << r.err;
  const json t = json::parse(r.out);
  ASSERT_EQ(t["points"].size(), 12u);
  ASSERT_EQ(t["change_points"].size(), 1u) << r.out;
  EXPECT_EQ(t["change_points"][0]["index"], 6);
  EXPECT_EQ(t["change_points"][0]["commit"], commit_of(7));
  EXPECT_NEAR(t["change_points"][0]["before"].get<double>(), 0.010, 0.0003);
  EXPECT_NEAR(t["change_points"][0]["after"].get<double>(), 0.013, 0.0003);

  const std::string svg = this->dir_ + "trend.svg";
  const auto text = this->history(fmt::format("trend {} --plot {}", kDecodeKey, svg));
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("at commit " + commit_of(7).substr(0, 12)), std::string::npos) << text.out;
  const std::string drawn = test::slurp(svg);
  EXPECT_NE(drawn.find("<svg"), std::string::npos);
  EXPECT_EQ(std::count(drawn.begin(), drawn.end(), '\n') > 12, true) << "a point per run";
  EXPECT_NE(drawn.find(">" + commit_of(7).substr(0, 12) + "</text>"), std::string::npos) << "the change point's label";

  // The kernel did not move: no change point.
  const auto flat = this->history(fmt::format("trend {} --format json", kMatmulKey));
  ASSERT_EQ(flat.code, 0) << flat.err;
  EXPECT_TRUE(json::parse(flat.out)["change_points"].empty()) << flat.out;
  // Filters that match nothing are an error naming the key.
  const auto none = this->history(fmt::format("trend {} --machine 'Other CPU'", kDecodeKey));
  EXPECT_EQ(none.code, 1);
  EXPECT_NE(none.err.find(kDecodeKey), std::string::npos) << none.err;
}

TYPED_TEST(HistoryStore, EmptyHistorySaysSoAndUnknownRunIsAnError) {
  ASSERT_NO_THROW(history::open_store(this->db_, true));  // created, with no runs
  for (const std::string& cmd : std::vector<std::string>{"list", "show 1", fmt::format("trend {}", kDecodeKey)}) {
    const auto r = this->history(cmd);
    EXPECT_EQ(r.code, 0) << cmd << ": " << r.err;
    EXPECT_NE(r.out.find("is empty"), std::string::npos) << cmd << ": " << r.out;
  }
  ASSERT_EQ(this->history("add " + this->doc(1, 0.010)).code, 0);
  const auto unknown = this->history("show 99");
  EXPECT_EQ(unknown.code, 1);
  EXPECT_NE(unknown.err.find("no run with id or commit '99'"), std::string::npos) << unknown.err;
  const auto not_hex = this->history("show main");
  EXPECT_EQ(not_hex.code, 2) << not_hex.err;
}

// --- the database itself is bad ---------------------------------------------------

TEST(HistoryDb, BadSqlitePathsAreOneLineErrors) {
  if (!history::have_sqlite()) GTEST_SKIP() << "this build has no SQLite support";
  const std::string dir = test::scratch_dir("history_db");
  const std::string doc = write_doc(dir + "run.json", result_doc(1, 0.01));
  const std::string not_db = write_doc(dir + "not-a-db.sqlite", json{{"a", 1}});
  const std::vector<std::pair<std::string, std::string>> cases{
      {"add " + doc + " --db " + dir + "no/such/folder/h.sqlite", "no/such/folder/h.sqlite"},
      {"add " + doc + " --db " + not_db, "not-a-db.sqlite"},
      {"list --db " + not_db, "not-a-db.sqlite"},
      {"list --db " + dir + "missing.sqlite", "no history database at"},
      {"trend x --db " + dir, "is not a regular file"},
  };
  for (const auto& [args, what] : cases) {
    const auto r = run_bitlab("history " + args);
    EXPECT_EQ(r.code, 1) << args << ": " << r.out;
    EXPECT_NE(r.err.find(what), std::string::npos) << args << ": " << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  }
}

TEST(HistoryDb, UnreachablePostgresIsAOneLineErrorWithoutThePassword) {
  // Port 1 on the loopback: nothing listens there.
  const auto r = run_bitlab("history list --db 'postgresql://bitlab:secret@127.0.0.1:1/history?connect_timeout=5'");
  EXPECT_NE(r.code, 0);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.find("secret"), std::string::npos) << r.err;
  if (history::have_postgres())
    EXPECT_NE(r.err.find("cannot connect to the history database"), std::string::npos) << r.err;
  else
    EXPECT_NE(r.err.find("no PostgreSQL support"), std::string::npos) << r.err;
}

}  // namespace
}  // namespace bitlab

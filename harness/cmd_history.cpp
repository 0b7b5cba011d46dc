// bitlab history: result files kept in a database (an SQLite file by default,
// PostgreSQL for a fleet) and followed across commits: add, list, show, trend.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <filesystem>
#include <memory>

#include <fmt/format.h>

#include "harness/commands.h"
#include "harness/history/records.h"
#include "harness/history/store.h"
#include "harness/history/trend.h"
#include "harness/result_reader.h"
#include "model/error.h"
#include "model/weights/atomic_write.h"

namespace bitlab::cli {
namespace {

// Beside the result files the commands write by default.
constexpr const char* kDefaultDb = "results/history.sqlite";

struct HistoryOptions {
  std::string db = kDefaultDb;
  std::vector<std::string> files;  // add
  std::string which;               // show: run id or commit prefix
  std::string key, metric = "median", machine, backend, format = "text", plot;  // trend
};

std::string db_name(const std::string& db) { return history::is_postgres_url(db) ? "the PostgreSQL history" : db; }

std::unique_ptr<history::Store> open_for_reading(const std::string& db) { return history::open_store(db, false); }

int run_add(const HistoryOptions& o) {
  // Every file is read and checked before anything is added: a bad file in
  // the list adds none of them.
  std::vector<history::Record> records;
  for (const std::string& f : o.files) records.push_back(history::record_from(read_result_file(f)));
  if (!history::is_postgres_url(o.db) && o.db == kDefaultDb) std::filesystem::create_directories("results");
  const auto store = history::open_store(o.db, true);
  for (history::Record& r : records) {
    switch (store->add(r.run, r.measurements)) {
      case history::AddOutcome::added:
        fmt::print("added {}: run {} (commit {}{}, {}, {} measurements)\n", r.run.source_path, r.run.id,
                   r.run.commit.substr(0, 12), r.run.dirty ? "-dirty" : "", r.run.timestamp, r.measurements.size());
        break;
      case history::AddOutcome::same_file:
        fmt::print("skipped {}: already in the history (the same file)\n", r.run.source_path);
        break;
      case history::AddOutcome::same_run:
        fmt::print("skipped {}: already in the history (a run of the same commit, time, machine and command)\n",
                   r.run.source_path);
        break;
    }
  }
  return 0;
}

void print_runs(const std::vector<history::Run>& runs) {
  fmt::print("{:>6}  {:<18} {:<20} {:<28} {:>7} {:>8} {:>12}  {}\n", "run", "commit", "time", "machine", "threads",
             "GB/s", "measurements", "file");
  for (const history::Run& r : runs)
    fmt::print("{:>6}  {:<18} {:<20} {:<28} {:>7} {:>8} {:>12}  {}\n", r.id,
               r.commit.substr(0, 12) + (r.dirty ? "-dirty" : ""), r.timestamp, r.cpu_model.substr(0, 28), r.threads,
               r.bandwidth_gbps > 0 ? fmt::format("{:.1f}", r.bandwidth_gbps) : "-", r.measurement_count,
               r.source_path);
}

int say_empty(const std::string& db) {
  fmt::print("the history in {} is empty (bitlab history add FILE... adds result files)\n", db_name(db));
  return 0;
}

int run_list(const HistoryOptions& o) {
  const auto store = open_for_reading(o.db);
  const auto runs = store->runs();
  if (runs.empty()) return say_empty(o.db);
  print_runs(runs);
  return 0;
}

int run_show(const HistoryOptions& o) {
  const auto store = open_for_reading(o.db);
  const bool is_id = std::all_of(o.which.begin(), o.which.end(), [](unsigned char c) { return std::isdigit(c); });
  const bool is_hex = std::all_of(o.which.begin(), o.which.end(), [](unsigned char c) { return std::isxdigit(c); });
  if (!is_hex) throw UsageError(fmt::format("history show: '{}' is neither a run id nor a commit", o.which));
  std::vector<history::Run> runs;
  // A number is a run id first; digits that name no run may still begin a commit.
  if (is_id && o.which.size() < 18)
    if (auto r = store->run_by_id(std::stoll(o.which))) runs.push_back(*r);
  if (runs.empty()) runs = store->runs_by_commit(o.which);
  if (runs.empty()) {
    if (store->runs().empty()) return say_empty(o.db);
    throw InputError(fmt::format("history show: no run with id or commit '{}' in {}", o.which, db_name(o.db)));
  }
  for (const history::Run& r : runs) {
    fmt::print("run {}: commit {}{}, {}, {} ({} threads, {:.1f} GB/s), from {}\n", r.id, r.commit,
               r.dirty ? " (dirty)" : "", r.timestamp, r.cpu_model, r.threads, r.bandwidth_gbps, r.source_path);
    if (!r.command.empty()) fmt::print("  command: {}\n", r.command);
    fmt::print("  {:<72} {:<10} {:<12} {:>12} {:>12} {:>11} {:>4} {:>9} {:>8}\n", "key", "backend", "variant",
               "median (s)", "mean (s)", "sd (s)", "n", "tokens/s", "roofline");
    for (const history::Measurement& m : store->measurements(r.id))
      fmt::print("  {:<72} {:<10} {:<12} {:>12.5g} {:>12.5g} {:>11.3g} {:>4} {:>9} {:>8}\n", m.key, m.backend,
                 m.variant, m.median, m.mean, m.sd, m.samples,
                 std::isnan(m.tokens_per_s) ? "" : fmt::format("{:.2f}", m.tokens_per_s),
                 std::isnan(m.roofline_fraction) ? "" : fmt::format("{:.3f}", m.roofline_fraction));
  }
  return 0;
}

int run_trend(const HistoryOptions& o) {
  const auto store = open_for_reading(o.db);
  const history::SeriesFilter filter{o.key, o.metric, o.machine, o.backend};
  auto points = store->series(filter);
  if (points.empty()) {
    if (store->runs().empty()) return say_empty(o.db);
    throw InputError(fmt::format("history trend: no run in {} has {} for key {}{}{}", db_name(o.db), o.metric, o.key,
                                 o.machine.empty() ? "" : fmt::format(" on a machine matching '{}'", o.machine),
                                 o.backend.empty() ? "" : fmt::format(" on backend {}", o.backend)));
  }
  const history::Trend trend = history::make_trend(filter, std::move(points));
  if (!o.plot.empty()) write_text_atomically(o.plot, history::trend_svg(trend));
  if (o.format == "json")
    fmt::print("{}\n", history::trend_json(trend).dump(2));
  else
    fmt::print("{}", history::trend_text(trend));
  return 0;
}

void add_db_option(CLI::App* sub, HistoryOptions& o) {
  sub->add_option("--db", o.db,
                  "history database: an SQLite file, or a postgresql:// (postgres://) URI for a shared one")
      ->capture_default_str();
}

}  // namespace

CLI::App* add_history(CLI::App& app, Action& action) {
  auto o = std::make_shared<HistoryOptions>();
  CLI::App* sub = app.add_subcommand("history", "Result files kept in a database and followed across commits");
  sub->require_subcommand(1);

  CLI::App* add = sub->add_subcommand("add", "Add result files to the history (a file already there is skipped)");
  add->add_option("files", o->files, "result files (bitlab bench / check / energy)")->required();
  add_db_option(add, *o);
  add->callback([&action, o] { action = [o] { return run_add(*o); }; });

  CLI::App* list = sub->add_subcommand("list", "List the runs in the history, oldest first");
  add_db_option(list, *o);
  list->callback([&action, o] { action = [o] { return run_list(*o); }; });

  CLI::App* show = sub->add_subcommand("show", "Show a run's measurements, by run id or commit (a prefix will do)");
  show->add_option("which", o->which, "run id or commit")->required();
  add_db_option(show, *o);
  show->callback([&action, o] { action = [o] { return run_show(*o); }; });

  CLI::App* trend = sub->add_subcommand(
      "trend", "One case key's metric across the runs, with the commits where it moved (e-divisive means)");
  trend->add_option("key", o->key, "measurement key, e.g. e2e/decode/avx512/synthetic:2b4t/prompt:128/threads:2")
      ->required();
  trend->add_option("--metric", o->metric, "the value to follow")
      ->capture_default_str()
      ->check(CLI::IsMember(history::metric_names()));
  trend->add_option("--machine", o->machine, "only runs whose CPU model contains this");
  trend->add_option("--backend", o->backend, "only this backend's measurements");
  trend->add_option("--format", o->format, "text or json")->capture_default_str()->check(CLI::IsMember({"text", "json"}));
  trend->add_option("--plot", o->plot, "also draw the series as an SVG file");
  add_db_option(trend, *o);
  trend->callback([&action, o] { action = [o] { return run_trend(*o); }; });
  return sub;
}

}  // namespace bitlab::cli

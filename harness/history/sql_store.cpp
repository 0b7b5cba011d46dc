#include "harness/history/sql_store.h"

#include <algorithm>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "model/error.h"

namespace bitlab::history {
namespace {

SqlValue number_or_null(double v) { return std::isfinite(v) ? SqlValue(v) : SqlValue(); }

double to_double(const std::optional<std::string>& cell) {
  return cell ? std::strtod(cell->c_str(), nullptr) : std::numeric_limits<double>::quiet_NaN();
}
int64_t to_int(const std::optional<std::string>& cell) { return cell ? std::strtoll(cell->c_str(), nullptr, 10) : 0; }
std::string to_text(const std::optional<std::string>& cell) { return cell.value_or(""); }

// The runs columns every run query selects, in the order run_from reads them.
constexpr const char* kRunColumns =
    "r.id, r.file_hash, r.source_path, r.commit_id, r.dirty, r.run_timestamp, r.command, r.cpu_model, "
    "r.bandwidth_gbps, r.threads, (SELECT count(*) FROM measurements m WHERE m.run_id = r.id)";

Run run_from(const SqlRow& row) {
  Run r;
  r.id = to_int(row[0]);
  r.file_hash = to_text(row[1]);
  r.source_path = to_text(row[2]);
  r.commit = to_text(row[3]);
  r.dirty = to_int(row[4]) != 0;
  r.timestamp = to_text(row[5]);
  r.command = to_text(row[6]);
  r.cpu_model = to_text(row[7]);
  r.bandwidth_gbps = to_double(row[8]);
  r.threads = int(to_int(row[9]));
  r.measurement_count = to_int(row[10]);
  return r;
}

}  // namespace

const std::vector<std::string>& metric_names() {
  static const std::vector<std::string> names{"median", "mean", "sd", "samples", "tokens_per_s", "roofline_fraction"};
  return names;
}

template <class F>
auto SqlStore::in_transaction(F&& body) {
  query(begin_statement());
  try {
    auto result = body();
    query("COMMIT");
    return result;
  } catch (...) {
    try {
      query("ROLLBACK");
    } catch (...) {
      // The first error is the one to report; a failed rollback leaves the
      // transaction to be discarded when the connection closes.
    }
    throw;
  }
}

void SqlStore::migrate() {
  // A database already at this version is only read: the read commands then
  // work on a history they may not write (a read-only file, a read-only role).
  try {
    const auto rows = query("SELECT max(version) FROM bitlab_history_schema");
    if (!rows.empty() && to_int(rows[0][0]) == kSchemaVersion) return;
  } catch (const InputError&) {
    // No schema table yet (or the database is unusable: the statements below say so).
  }
  query("CREATE TABLE IF NOT EXISTS bitlab_history_schema (version INTEGER NOT NULL)");
  in_transaction([&] {
    if (const std::string lock = lock_schema_statement(); !lock.empty()) query(lock);
    const auto rows = query("SELECT max(version) FROM bitlab_history_schema");
    const int64_t version = rows.empty() ? 0 : to_int(rows[0][0]);
    if (version > kSchemaVersion)
      throw InputError(fmt::format("history schema version {} is newer than this bitlab's ({}): update bitlab",
                                   version, kSchemaVersion));
    if (version == kSchemaVersion) return 0;
    // Version 1. A run is one result file: unique by its bytes and by what
    // produced it (commit, dirty tree, time, machine, command line).
    query(fmt::format(
        "CREATE TABLE runs ("
        " id {} PRIMARY KEY,"
        " file_hash TEXT NOT NULL UNIQUE,"
        " source_path TEXT NOT NULL,"
        " commit_id TEXT NOT NULL,"
        " dirty INTEGER NOT NULL,"
        " run_timestamp TEXT NOT NULL,"
        " command TEXT NOT NULL,"
        " cpu_model TEXT NOT NULL,"
        " bandwidth_gbps DOUBLE PRECISION,"
        " threads INTEGER NOT NULL,"
        " UNIQUE (commit_id, dirty, run_timestamp, cpu_model, command))",
        id_column()));
    query(
        "CREATE TABLE measurements ("
        " run_id BIGINT NOT NULL REFERENCES runs(id) ON DELETE CASCADE,"
        " case_key TEXT NOT NULL,"
        " kind TEXT NOT NULL,"
        " backend TEXT NOT NULL,"
        " variant TEXT NOT NULL,"
        " median DOUBLE PRECISION NOT NULL,"
        " mean DOUBLE PRECISION NOT NULL,"
        " sd DOUBLE PRECISION NOT NULL,"
        " samples INTEGER NOT NULL,"
        " tokens_per_s DOUBLE PRECISION,"
        " roofline_fraction DOUBLE PRECISION,"
        " PRIMARY KEY (run_id, case_key))");
    query("CREATE INDEX measurements_by_key ON measurements (case_key)");
    query("CREATE INDEX runs_by_commit ON runs (commit_id)");
    query("INSERT INTO bitlab_history_schema (version) VALUES (?)", {int64_t(kSchemaVersion)});
    return 0;
  });
}

AddOutcome SqlStore::add(Run& run, const std::vector<Measurement>& measurements) {
  return in_transaction([&] {
    // ON CONFLICT DO NOTHING: a run already stored (by another process too)
    // returns no id instead of failing the transaction.
    const auto inserted = query(
        "INSERT INTO runs (file_hash, source_path, commit_id, dirty, run_timestamp, command, cpu_model, "
        "bandwidth_gbps, threads) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING id",
        {run.file_hash, run.source_path, run.commit, int64_t(run.dirty), run.timestamp, run.command, run.cpu_model,
         number_or_null(run.bandwidth_gbps), int64_t(run.threads)});
    if (inserted.empty()) {
      const auto same = query("SELECT count(*) FROM runs WHERE file_hash = ?", {run.file_hash});
      return !same.empty() && to_int(same[0][0]) > 0 ? AddOutcome::same_file : AddOutcome::same_run;
    }
    run.id = to_int(inserted[0][0]);
    for (const Measurement& m : measurements)
      query(
          "INSERT INTO measurements (run_id, case_key, kind, backend, variant, median, mean, sd, samples, "
          "tokens_per_s, roofline_fraction) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
          {run.id, m.key, m.kind, m.backend, m.variant, m.median, m.mean, m.sd, m.samples,
           number_or_null(m.tokens_per_s), number_or_null(m.roofline_fraction)});
    run.measurement_count = int64_t(measurements.size());
    return AddOutcome::added;
  });
}

std::vector<Run> SqlStore::runs() {
  std::vector<Run> out;
  for (const SqlRow& row : query(fmt::format("SELECT {} FROM runs r ORDER BY r.run_timestamp, r.id", kRunColumns)))
    out.push_back(run_from(row));
  return out;
}

std::optional<Run> SqlStore::run_by_id(int64_t id) {
  const auto rows = query(fmt::format("SELECT {} FROM runs r WHERE r.id = ?", kRunColumns), {id});
  if (rows.empty()) return std::nullopt;
  return run_from(rows[0]);
}

std::vector<Run> SqlStore::runs_by_commit(const std::string& prefix) {
  std::vector<Run> out;
  // substr rather than LIKE: the prefix is data, never a pattern.
  for (const SqlRow& row :
       query(fmt::format("SELECT {} FROM runs r WHERE substr(r.commit_id, 1, ?) = ? ORDER BY r.run_timestamp, r.id",
                         kRunColumns),
             {int64_t(prefix.size()), prefix}))
    out.push_back(run_from(row));
  return out;
}

std::vector<Measurement> SqlStore::measurements(int64_t run_id) {
  std::vector<Measurement> out;
  for (const SqlRow& row : query(
           "SELECT case_key, kind, backend, variant, median, mean, sd, samples, tokens_per_s, roofline_fraction "
           "FROM measurements WHERE run_id = ? ORDER BY case_key",
           {run_id})) {
    Measurement m;
    m.key = to_text(row[0]);
    m.kind = to_text(row[1]);
    m.backend = to_text(row[2]);
    m.variant = to_text(row[3]);
    m.median = to_double(row[4]);
    m.mean = to_double(row[5]);
    m.sd = to_double(row[6]);
    m.samples = to_int(row[7]);
    m.tokens_per_s = to_double(row[8]);
    m.roofline_fraction = to_double(row[9]);
    out.push_back(std::move(m));
  }
  return out;
}

std::vector<SeriesPoint> SqlStore::series(const SeriesFilter& filter) {
  const auto& names = metric_names();
  if (std::find(names.begin(), names.end(), filter.metric) == names.end())
    throw UsageError(fmt::format("unknown metric '{}'", filter.metric));
  // The metric is a column name from the fixed list above (checked), the only
  // text put into the statement; every value is a parameter. The machine is
  // matched as a substring in C++: the databases spell that differently.
  std::vector<SeriesPoint> out;
  for (const SqlRow& row : query(fmt::format("SELECT r.id, r.commit_id, r.dirty, r.run_timestamp, r.cpu_model, "
                                             "m.backend, m.{} FROM measurements m JOIN runs r ON r.id = m.run_id "
                                             "WHERE m.case_key = ? AND (CAST(? AS TEXT) = '' OR m.backend = ?) AND m.{} IS NOT NULL "
                                             "ORDER BY r.run_timestamp, r.id",
                                             filter.metric, filter.metric),
                                 {filter.key, filter.backend, filter.backend})) {
    SeriesPoint p{to_int(row[0]), to_text(row[1]), to_int(row[2]) != 0, to_text(row[3]), to_text(row[4]),
                  to_text(row[5]), to_double(row[6])};
    if (!filter.machine.empty() && p.cpu_model.find(filter.machine) == std::string::npos) continue;
    out.push_back(std::move(p));
  }
  return out;
}

}  // namespace bitlab::history

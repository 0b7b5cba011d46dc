// The result history: runs (one result file each) and their measurements in a
// database, queried by `bitlab history`. One interface, two databases: an
// SQLite file on one machine, PostgreSQL for a fleet sharing one history.
#pragma once
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace bitlab::history {

// One result file's context: what a run is keyed on.
struct Run {
  int64_t id = 0;  // assigned by the store
  std::string file_hash;  // of the file's bytes (16 hex digits)
  std::string source_path, commit;
  bool dirty = false;
  std::string timestamp, command;  // UTC ISO 8601, as the file has it
  std::string cpu_model;
  double bandwidth_gbps = 0;
  int threads = 0;
  int64_t measurement_count = 0;  // filled by queries
};

// One measurement's summary. NaN: the document has no such value.
struct Measurement {
  std::string key, kind, backend, variant;
  double median = 0, mean = 0, sd = 0;
  int64_t samples = 0;
  double tokens_per_s = std::numeric_limits<double>::quiet_NaN();
  double roofline_fraction = std::numeric_limits<double>::quiet_NaN();
};

// The values a trend can follow: each a column of the measurements table.
const std::vector<std::string>& metric_names();

struct SeriesFilter {
  std::string key, metric = "median";  // metric: one of metric_names()
  std::string machine;                 // substring of the CPU model; "" for any
  std::string backend;                 // exact; "" for any
};

struct SeriesPoint {
  int64_t run_id = 0;
  std::string commit;
  bool dirty = false;
  std::string timestamp, cpu_model, backend;
  double value = 0;
};

enum class AddOutcome { added, same_file, same_run };

class Store {
 public:
  virtual ~Store() = default;
  // Adds a run and its measurements in one transaction: all of them or none.
  // A file whose bytes, or whose commit + timestamp + machine + command, are
  // already stored is not added again (the outcome says which matched).
  virtual AddOutcome add(Run& run, const std::vector<Measurement>& measurements) = 0;
  // Every run, oldest first (by the run's timestamp, then id).
  virtual std::vector<Run> runs() = 0;
  virtual std::optional<Run> run_by_id(int64_t id) = 0;
  // Runs whose commit starts with `prefix`, oldest first.
  virtual std::vector<Run> runs_by_commit(const std::string& prefix) = 0;
  virtual std::vector<Measurement> measurements(int64_t run_id) = 0;
  // One point per run that has the key (and a value for the metric), in
  // run-timestamp order.
  virtual std::vector<SeriesPoint> series(const SeriesFilter& filter) = 0;
};

// The database a --db value names: "postgresql://..." or "postgres://..." is a
// PostgreSQL connection URI, anything else an SQLite file (created when
// missing; its folder must exist). The schema is created or migrated on open.
// Errors (no such folder, not a database, refused connection, a build without
// that library) are InputErrors naming the database.
// `create`: an SQLite file that does not exist is created (add); without it
// that is an error (the read commands).
std::unique_ptr<Store> open_store(const std::string& db, bool create);

bool is_postgres_url(const std::string& db);
bool have_sqlite();
bool have_postgres();

}  // namespace bitlab::history

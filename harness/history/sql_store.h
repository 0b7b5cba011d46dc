// The Store written once in SQL that both databases run: the schema and its
// migration, the inserts and the queries. A database supplies only how to run
// one parameterised statement and the few words where the dialects differ.
#pragma once
#include <optional>
#include <string>
#include <variant>
#include <vector>

#include "harness/history/store.h"

namespace bitlab::history {

// A statement parameter: NULL, an integer, a double or text.
using SqlValue = std::variant<std::monostate, int64_t, double, std::string>;
// A result row: each column as text, nullopt for NULL. Doubles come back in
// shortest round-trip form from both databases.
using SqlRow = std::vector<std::optional<std::string>>;

class SqlStore : public Store {
 public:
  AddOutcome add(Run& run, const std::vector<Measurement>& measurements) override;
  std::vector<Run> runs() override;
  std::optional<Run> run_by_id(int64_t id) override;
  std::vector<Run> runs_by_commit(const std::string& prefix) override;
  std::vector<Measurement> measurements(int64_t run_id) override;
  std::vector<SeriesPoint> series(const SeriesFilter& filter) override;

 protected:
  // Runs one statement with `?` placeholders bound to `params`, in order.
  std::vector<SqlRow> query(const std::string& sql, const std::vector<SqlValue>& params = {}) {
    return execute(sql, params);
  }
  // What query() runs: each database's own binding and result reading.
  virtual std::vector<SqlRow> execute(const std::string& sql, const std::vector<SqlValue>& params) = 0;
  // The column type of an auto-assigned integer primary key.
  virtual std::string id_column() const = 0;
  // The statement that starts a write transaction.
  virtual std::string begin_statement() const { return "BEGIN"; }
  // Taken inside the migration's transaction so that two processes opening a
  // new database do not both create the schema ("" where BEGIN locks already).
  virtual std::string lock_schema_statement() const { return ""; }
  // Creates or upgrades the schema; each implementation calls it once connected.
  void migrate();

 private:
  // Runs `body` in a transaction: committed when it returns, rolled back when it throws.
  template <class F>
  auto in_transaction(F&& body);
};

// The schema version this build writes; a newer database is refused.
inline constexpr int kSchemaVersion = 1;

}  // namespace bitlab::history

// The history in an SQLite file (libsqlite3): the default, one machine's runs.
#include <sqlite3.h>
#include <sys/stat.h>

#include <fmt/format.h>

#include "harness/history/sql_store.h"
#include "harness/history/store_factories.h"
#include "model/error.h"

namespace bitlab::history {
namespace {

class SqliteStore final : public SqlStore {
 public:
  SqliteStore(const std::string& path, bool create) : path_(path) {
    struct stat st {};
    if (::stat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode))
      throw InputError(fmt::format("history database {} is not a regular file", path));
    if (!create && ::stat(path.c_str(), &st) != 0)
      throw InputError(fmt::format("no history database at {} (bitlab history add creates one)", path));
    const int flags = SQLITE_OPEN_READWRITE | (create ? SQLITE_OPEN_CREATE : 0) | SQLITE_OPEN_NOMUTEX;
    if (sqlite3_open_v2(path.c_str(), &db_, flags, nullptr) != SQLITE_OK) {
      const std::string why = db_ ? sqlite3_errmsg(db_) : "out of memory";
      sqlite3_close(db_);
      throw InputError(fmt::format("cannot open history database {}: {}", path, why));
    }
    // Another bitlab adding to the same file holds the write lock briefly.
    sqlite3_busy_timeout(db_, 10000);
    try {
      query("PRAGMA foreign_keys = ON");
      migrate();
    } catch (...) {
      sqlite3_close(db_);
      throw;
    }
  }
  ~SqliteStore() override { sqlite3_close(db_); }
  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;

 protected:
  std::vector<SqlRow> execute(const std::string& sql, const std::vector<SqlValue>& params) override {
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), int(sql.size()), &stmt, nullptr) != SQLITE_OK) fail();
    struct Finalizer {
      sqlite3_stmt* s;
      ~Finalizer() { sqlite3_finalize(s); }
    } finalizer{stmt};
    for (size_t i = 0; i < params.size(); ++i) {
      const int at = int(i) + 1;
      int rc = SQLITE_OK;
      if (const auto* n = std::get_if<int64_t>(&params[i])) rc = sqlite3_bind_int64(stmt, at, *n);
      else if (const auto* d = std::get_if<double>(&params[i])) rc = sqlite3_bind_double(stmt, at, *d);
      else if (const auto* s = std::get_if<std::string>(&params[i]))
        rc = sqlite3_bind_text(stmt, at, s->data(), int(s->size()), SQLITE_TRANSIENT);
      else rc = sqlite3_bind_null(stmt, at);
      if (rc != SQLITE_OK) fail();
    }
    std::vector<SqlRow> rows;
    for (;;) {
      const int rc = sqlite3_step(stmt);
      if (rc == SQLITE_DONE) break;
      if (rc != SQLITE_ROW) fail();
      SqlRow row;
      for (int c = 0; c < sqlite3_column_count(stmt); ++c) {
        switch (sqlite3_column_type(stmt, c)) {
          case SQLITE_NULL: row.emplace_back(std::nullopt); break;
          case SQLITE_FLOAT: row.emplace_back(fmt::format("{}", sqlite3_column_double(stmt, c))); break;
          default: {
            const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt, c));
            row.emplace_back(std::string(text ? text : "", size_t(sqlite3_column_bytes(stmt, c))));
          }
        }
      }
      rows.push_back(std::move(row));
    }
    return rows;
  }
  std::string id_column() const override { return "INTEGER"; }  // INTEGER PRIMARY KEY: the rowid
  // IMMEDIATE: the write lock at BEGIN, so two writers queue on the busy
  // timeout instead of one failing when it upgrades a read lock.
  std::string begin_statement() const override { return "BEGIN IMMEDIATE"; }

 private:
  [[noreturn]] void fail() const {
    throw InputError(fmt::format("history database {}: {}", path_, sqlite3_errmsg(db_)));
  }

  std::string path_;
  sqlite3* db_ = nullptr;
};

}  // namespace

std::unique_ptr<Store> open_sqlite_store(const std::string& path, bool create) {
  return std::make_unique<SqliteStore>(path, create);
}

}  // namespace bitlab::history

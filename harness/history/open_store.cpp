#include <fmt/format.h>

#include "harness/history/store.h"
#include "harness/history/store_factories.h"
#include "model/error.h"

namespace bitlab::history {

bool is_postgres_url(const std::string& db) {
  return db.rfind("postgresql://", 0) == 0 || db.rfind("postgres://", 0) == 0;
}

bool have_sqlite() { return BITLAB_HISTORY_SQLITE != 0; }
bool have_postgres() { return BITLAB_HISTORY_POSTGRES != 0; }

std::unique_ptr<Store> open_store(const std::string& db, bool create) {
  if (is_postgres_url(db)) {
#if BITLAB_HISTORY_POSTGRES
    return open_postgres_store(db);
#else
    throw UsageError("--db: this build has no PostgreSQL support (libpq was not found when it was configured; "
                     "install libpq-dev and rebuild)");
#endif
  }
#if BITLAB_HISTORY_SQLITE
  return open_sqlite_store(db, create);
#else
  (void)create;
  throw UsageError(fmt::format("--db {}: this build has no SQLite support (libsqlite3 was not found when it was "
                               "configured; install libsqlite3-dev and rebuild)",
                               db));
#endif
}

}  // namespace bitlab::history

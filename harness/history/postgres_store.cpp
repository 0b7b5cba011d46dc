// The history in PostgreSQL (libpq): one database a fleet of machines adds to.
#include <libpq-fe.h>

#include <fmt/format.h>

#include "harness/history/sql_store.h"
#include "harness/history/store_factories.h"
#include "model/error.h"

namespace bitlab::history {
namespace {

// libpq's messages can span lines ("FATAL: ...\nDETAIL: ..."): the first line
// is the one that says what failed.
std::string first_line(const char* message) {
  std::string s = message ? message : "";
  s = s.substr(0, s.find('\n'));
  while (!s.empty() && (s.back() == ' ' || s.back() == '\r')) s.pop_back();
  return s.empty() ? "unknown error" : s;
}

class PostgresStore final : public SqlStore {
 public:
  explicit PostgresStore(const std::string& url) : name_(redact_password(url)) {
    conn_ = PQconnectdb(url.c_str());
    if (conn_ == nullptr || PQstatus(conn_) != CONNECTION_OK) {
      const std::string why = conn_ ? first_line(PQerrorMessage(conn_)) : "out of memory";
      PQfinish(conn_);
      throw InputError(fmt::format("cannot connect to the history database {}: {}", name_, why));
    }
    // The server's notices ("relation already exists, skipping") are not
    // the user's concern.
    PQsetNoticeProcessor(conn_, [](void*, const char*) {}, nullptr);
    try {
      migrate();
    } catch (...) {
      PQfinish(conn_);
      throw;
    }
  }
  ~PostgresStore() override { PQfinish(conn_); }
  PostgresStore(const PostgresStore&) = delete;
  PostgresStore& operator=(const PostgresStore&) = delete;

  // user:password@host in a URI: the password is not repeated in messages.
  static std::string redact_password(const std::string& url) {
    const size_t scheme = url.find("://");
    if (scheme == std::string::npos) return url;
    const size_t start = scheme + 3, end = url.find_first_of("/?", start);
    const size_t at = url.rfind('@', end == std::string::npos ? url.size() : end);
    if (at == std::string::npos || at < start) return url;
    const size_t colon = url.find(':', start);
    if (colon == std::string::npos || colon > at) return url;
    return url.substr(0, colon + 1) + "***" + url.substr(at);
  }

 protected:
  std::vector<SqlRow> execute(const std::string& sql, const std::vector<SqlValue>& params) override {
    // `?` placeholders become $1, $2, ...: the statements have no `?` elsewhere.
    std::string text;
    int n = 0;
    for (const char c : sql) text += c == '?' ? fmt::format("${}", ++n) : std::string(1, c);
    std::vector<std::optional<std::string>> values;
    for (const SqlValue& p : params) {
      if (const auto* i = std::get_if<int64_t>(&p)) values.emplace_back(std::to_string(*i));
      else if (const auto* d = std::get_if<double>(&p)) values.emplace_back(fmt::format("{}", *d));
      else if (const auto* s = std::get_if<std::string>(&p)) values.emplace_back(*s);
      else values.emplace_back(std::nullopt);
    }
    std::vector<const char*> pointers;
    for (const auto& v : values) pointers.push_back(v ? v->c_str() : nullptr);
    PGresult* res = PQexecParams(conn_, text.c_str(), int(pointers.size()), nullptr, pointers.data(), nullptr,
                                 nullptr, 0);
    struct Clear {
      PGresult* r;
      ~Clear() { PQclear(r); }
    } clear{res};
    const ExecStatusType status = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
    if (status != PGRES_COMMAND_OK && status != PGRES_TUPLES_OK)
      throw InputError(fmt::format("history database {}: {}", name_,
                                   first_line(res ? PQresultErrorMessage(res) : PQerrorMessage(conn_))));
    std::vector<SqlRow> rows;
    for (int r = 0; r < PQntuples(res); ++r) {
      SqlRow row;
      for (int c = 0; c < PQnfields(res); ++c)
        row.emplace_back(PQgetisnull(res, r, c) ? std::nullopt
                                                 : std::optional<std::string>(std::string(
                                                       PQgetvalue(res, r, c), size_t(PQgetlength(res, r, c)))));
      rows.push_back(std::move(row));
    }
    return rows;
  }
  std::string id_column() const override { return "BIGINT GENERATED ALWAYS AS IDENTITY"; }
  std::string lock_schema_statement() const override {
    return "LOCK TABLE bitlab_history_schema IN SHARE ROW EXCLUSIVE MODE";
  }

 private:
  std::string name_;
  PGconn* conn_ = nullptr;
};

}  // namespace

std::unique_ptr<Store> open_postgres_store(const std::string& url) { return std::make_unique<PostgresStore>(url); }

}  // namespace bitlab::history

#include "tests/history_postgres_db.h"

#include <cctype>
#include <cstdlib>
#include <stdexcept>

#if __has_include(<libpq-fe.h>)
#include <libpq-fe.h>
#define BITLAB_TEST_LIBPQ 1
#else
#define BITLAB_TEST_LIBPQ 0
#endif

namespace bitlab::test {
namespace {

const char* server_url() { return std::getenv("BITLAB_TEST_POSTGRES_URL"); }

#if BITLAB_TEST_LIBPQ
void run_on_server(const std::string& sql) {
  PGconn* conn = PQconnectdb(server_url());
  if (PQstatus(conn) != CONNECTION_OK) {
    const std::string why = PQerrorMessage(conn);
    PQfinish(conn);
    throw std::runtime_error("cannot connect to BITLAB_TEST_POSTGRES_URL: " + why);
  }
  PQsetNoticeProcessor(conn, [](void*, const char*) {}, nullptr);  // "does not exist, skipping"
  PGresult* res = PQexec(conn, sql.c_str());
  const bool ok = PQresultStatus(res) == PGRES_COMMAND_OK;
  const std::string why = PQresultErrorMessage(res);
  PQclear(res);
  PQfinish(conn);
  if (!ok) throw std::runtime_error(sql + ": " + why);
}

std::string percent_encoded(const std::string& s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (const unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.') out += char(c);
    else out += {'%', hex[c >> 4], hex[c & 15]};
  }
  return out;
}
#endif

}  // namespace

std::string create_postgres_database(const std::string& name, std::string& why) {
  if (server_url() == nullptr || *server_url() == '\0') {
    why = "BITLAB_TEST_POSTGRES_URL is not set (scripts/with-postgres CMD runs CMD with a throwaway server)";
    return "";
  }
#if BITLAB_TEST_LIBPQ
  run_on_server("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
  run_on_server("CREATE DATABASE " + name);
  // The server's connection options with the database swapped: a URI whose
  // query string carries every option the server URL set.
  char* error = nullptr;
  PQconninfoOption* options = PQconninfoParse(server_url(), &error);
  if (options == nullptr) {
    const std::string message = error ? error : "unparsable";
    PQfreemem(error);
    throw std::runtime_error("BITLAB_TEST_POSTGRES_URL: " + message);
  }
  std::string uri = "postgresql:///" + name + "?";
  for (PQconninfoOption* o = options; o->keyword != nullptr; ++o)
    if (o->val != nullptr && *o->val != '\0' && std::string(o->keyword) != "dbname")
      uri += std::string(o->keyword) + "=" + percent_encoded(o->val) + "&";
  PQconninfoFree(options);
  uri.pop_back();
  return uri;
#else
  (void)name;
  why = "this build's tests have no libpq";
  return "";
#endif
}

void drop_postgres_database(const std::string& name) {
#if BITLAB_TEST_LIBPQ
  run_on_server("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
#else
  (void)name;
#endif
}

}  // namespace bitlab::test
